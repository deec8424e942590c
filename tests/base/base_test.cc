#include "base/base.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/testing/testing.h"

namespace lk {
namespace {
using namespace std::chrono;

TEST(Base64Url, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    auto decoded = Base64UrlDecode(Base64UrlEncode(bytes));
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(*decoded, bytes);
    bytes += static_cast<char>(i * 37 + 11);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
}

TEST(Base64Url, RejectsPaddingForeignCharactersAndNonCanonicalBits) {
  EXPECT_FALSE(Base64UrlDecode("YQ=="));  // padding
  EXPECT_FALSE(Base64UrlDecode("a+b/"));  // standard alphabet
  EXPECT_FALSE(Base64UrlDecode("YR"));    // 'R' leaves unused bits set; canonical is "YQ"
  EXPECT_TRUE(Base64UrlDecode("YQ"));
  EXPECT_FALSE(Base64UrlDecode("Y"));  // impossible length
}

TEST(Brussels, WinterAndSummerOffsets) {
  EXPECT_EQ(BrusselsOffset(sys_days(2026y / January / 15)), hours(1));
  EXPECT_EQ(BrusselsOffset(sys_days(2026y / July / 15)), hours(2));
  // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
  EXPECT_EQ(BrusselsOffset(sys_days(2026y / March / 29) + minutes(59)), hours(1));
  EXPECT_EQ(BrusselsOffset(sys_days(2026y / March / 29) + hours(1)), hours(2));
  EXPECT_EQ(BrusselsOffset(sys_days(2026y / October / 25) + minutes(59)), hours(2));
  EXPECT_EQ(BrusselsOffset(sys_days(2026y / October / 25) + hours(1)), hours(1));
}

TEST(Brussels, MidnightAndDate) {
  EXPECT_EQ(FormatRfc3339(BrusselsMidnight(2026y / January / 1)), "2025-12-31T23:00:00Z");
  EXPECT_EQ(FormatRfc3339(BrusselsMidnight(2026y / September / 1)), "2026-08-31T22:00:00Z");
  EXPECT_EQ(BrusselsDate(Time(sys_days(2026y / August / 31)) + hours(22)), 2026y / September / 1);
  EXPECT_EQ(BrusselsDate(Time(sys_days(2026y / August / 31)) + hours(21)), 2026y / August / 31);
}

TEST(Rfc3339, ParsesOffsetsAndRejectsJunk) {
  auto t = ParseRfc3339("2026-03-01T12:00:00+01:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatRfc3339(*t), "2026-03-01T11:00:00Z");
  EXPECT_TRUE(ParseRfc3339("2026-03-01T12:00:00.123Z"));
  EXPECT_FALSE(ParseRfc3339("2026-02-30T12:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("yesterday"));
  EXPECT_EQ(ParseRfc3339("2026-13-01T00:00:00Z").error().code, Code::kInvalidArgument);
}

TEST(IsoDate, StrictFormat) {
  EXPECT_TRUE(ParseIsoDate("2024-02-29"));
  EXPECT_FALSE(ParseIsoDate("2023-02-29"));
  EXPECT_FALSE(ParseIsoDate("2024-2-29"));
  EXPECT_EQ(FormatIsoDate(2024y / March / 5), "2024-03-05");
}

TEST(WriteFileAtomic, ModeAndExclusive) {
  testing::TempDir dir;
  auto path = dir / "secret";
  ASSERT_TRUE(WriteFileAtomic(
      path, "one", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, true));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = WriteFileAtomic(
      path, "two", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, true);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::kAlreadyExists);
  EXPECT_EQ(*ReadFile(path), "one");
  ASSERT_TRUE(WriteFileAtomic(path, "three"));
  EXPECT_EQ(*ReadFile(path), "three");
  // No temporary files are left behind.
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(RandomBase32, AlphabetAndLength) {
  std::string s = RandomBase32(1000);
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_EQ(s.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ"), std::string::npos);
  EXPECT_NE(RandomBase32(12), RandomBase32(12));
}

// RFC 4231 test cases 1, 2 and 6 (a key longer than SHA-256's 64-byte block), and one object
// reused for several messages.
TEST(HmacSha256, Rfc4231VectorsAndReuse) {
  HmacSha256 one(std::string(20, '\x0b'));
  EXPECT_EQ(HexEncode(one.Mac("Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  HmacSha256 two("Jefe");
  EXPECT_EQ(HexEncode(two.Mac("what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  HmacSha256 six(std::string(131, '\xaa'));
  EXPECT_EQ(HexEncode(six.Mac("Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(HexEncode(one.Mac("Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_TRUE(two.HasKey("Jefe"));
  EXPECT_FALSE(two.HasKey("Jeff"));
  HmacSha256 moved(std::move(two));
  EXPECT_EQ(HexEncode(moved.Mac("what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace lk
