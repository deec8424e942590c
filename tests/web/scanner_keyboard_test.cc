// Handheld scanners on the wrong keyboard layout: what is repaired, what is left alone.
#include "web/scanner_keyboard.h"

#include <gtest/gtest.h>

namespace lk::web {
namespace {

constexpr const char* kToken = "eyJhbGciOiJFUzI1NiIsImtpZCI6Im0xWnpRcSJ9.eyJzdWIiOiJNXzEtMiJ9.QWqz-_09Mm";

TEST(ScannerKeyboardTest, TokenShape) {
  EXPECT_TRUE(TokenShaped(kToken));
  EXPECT_FALSE(TokenShaped("a.b"));
  EXPECT_FALSE(TokenShaped("a..b"));
  EXPECT_FALSE(TokenShaped(".a.b"));
  EXPECT_FALSE(TokenShaped("a.b."));
  EXPECT_FALSE(TokenShaped("a.b.c d"));
  EXPECT_FALSE(TokenShaped(std::string(2049, 'a')));
}

TEST(ScannerKeyboardTest, UsScannerOnABelgianPcIsRepaired) {
  // What Belgian AZERTY shows for the US key positions of kToken.
  std::string typed;
  for (char c : std::string(kToken)) {
    switch (c) {
      case '1':
        typed += "&";
        break;
      case '2':
        typed += "\xC3\xA9";
        break;
      case '0':
        typed += "\xC3\xA0";
        break;
      case '9':
        typed += "\xC3\xA7";
        break;
      case '-':
        typed += ")";
        break;
      case '_':
        typed += "\xC2\xB0";
        break;
      case '.':
        typed += ":";
        break;
      case 'm':
        typed += ",";
        break;
      case 'M':
        typed += "?";
        break;
      case 'a':
        typed += "q";
        break;
      case 'q':
        typed += "a";
        break;
      case 'Q':
        typed += "A";
        break;
      case 'z':
        typed += "w";
        break;
      case 'Z':
        typed += "W";
        break;
      case 'W':
        typed += "Z";
        break;
      default:
        typed += c;
    }
  }
  auto r = RepairScannerLayout(typed);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->token, kToken);
  EXPECT_EQ(r->mismatch, LayoutMismatch::kUsScannerOnBelgianPc);
}

TEST(ScannerKeyboardTest, BelgianScannerOnAUsPcIsRepaired) {
  std::string typed;
  for (char c : std::string(kToken)) {
    switch (c) {
      case '1':
        typed += "!";
        break;
      case '2':
        typed += "@";
        break;
      case '0':
        typed += ")";
        break;
      case '9':
        typed += "(";
        break;
      case '-':
        typed += "=";
        break;
      case '_':
        typed += "+";
        break;
      case '.':
        typed += "<";
        break;
      case 'm':
        typed += ";";
        break;
      case 'M':
        typed += ":";
        break;
      case 'a':
        typed += "q";
        break;
      case 'q':
        typed += "a";
        break;
      case 'Q':
        typed += "A";
        break;
      case 'z':
        typed += "w";
        break;
      case 'Z':
        typed += "W";
        break;
      case 'W':
        typed += "Z";
        break;
      default:
        typed += c;
    }
  }
  auto r = RepairScannerLayout(typed);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->token, kToken);
  EXPECT_EQ(r->mismatch, LayoutMismatch::kBelgianScannerOnUsPc);
}

TEST(ScannerKeyboardTest, AnythingElseIsLeftAlone) {
  EXPECT_FALSE(RepairScannerLayout(kToken));                   // already a token
  EXPECT_FALSE(RepairScannerLayout("https://example.org/x"));  // another QR code
  EXPECT_FALSE(RepairScannerLayout("abc:def"));                // one dot: no token either way
  EXPECT_FALSE(RepairScannerLayout("\xC3"));                   // broken UTF-8
  EXPECT_FALSE(RepairScannerLayout(""));
}

}  // namespace
}  // namespace lk::web
