// QR codes read from pictures: our PNG as a screenshot, and photo-like JPEGs made from it
// (scaled, rotated, noisy, quality 50), with the same verdicts as the tokens themselves.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>

#include "scan/scan.h"
#include "tests/scan/live_issuer.h"

namespace lk::scan {
namespace {
using namespace std::chrono_literals;

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A fixed seed by default, so that a run is repeatable; LK_PHOTO_SEED=random (or a number)
    // explores other noise.
    const char* env = std::getenv("LK_PHOTO_SEED");
    std::string want = env ? env : "";
    seed_ = want.empty() ? 20261202u : want == "random" ? std::random_device{}() : std::stoul(want);
    std::printf("photo noise seed %u (LK_PHOTO_SEED)\n", seed_);
  }
  std::string Png(const std::string& token, const std::string& name) {
    std::string path = (dir_ / (name + ".png")).string();
    EXPECT_EQ(testing::WriteQrPng(token, path), "");
    return path;
  }
  testing::TempDir dir_;
  unsigned seed_ = 0;
};

TEST_F(ImageTest, ScreenshotAndPhotoLikeVariantsDecodeToTheToken) {
  testing::LiveIssuer issuer;
  std::string token = issuer.IssueCard("L1");
  std::string png = Png(token, "card");
  auto clean = DecodeQrFile(png);
  ASSERT_TRUE(clean) << clean.error().message;
  EXPECT_EQ(*clean, token);
  struct Variant {
    const char* name;
    testing::PhotoLike p;
  };
  for (const auto& v : std::vector<Variant>{{"straight", {0, 1.0, 0, 90}},
                                            {"rotated 12", {12, 1.0, 6, 50}},
                                            {"rotated -17, small", {-17, 0.8, 8, 50}},
                                            {"rotated 20, large, noisy", {20, 1.4, 14, 50}},
                                            {"upside down-ish 190", {190, 1.1, 10, 50}}}) {
    std::string jpeg = (dir_ / (std::string(v.name) + ".jpg")).string();
    ASSERT_EQ(testing::WritePhotoLike(png, jpeg, v.p, seed_), "");
    auto text = DecodeQrFile(jpeg);
    ASSERT_TRUE(text) << v.name << ": " << text.error().message;
    EXPECT_EQ(*text, token) << v.name;
  }
}

TEST_F(ImageTest, BadCardsInPhotosGetTheSameVerdictsAsTheirTokens) {
  testing::LiveIssuer issuer;
  std::string serial;
  std::string revoked = issuer.IssueCard("L2", &serial);
  issuer.Revoke(serial);
  int y = issuer.year();
  std::map<std::string, std::string> tokens = {
      {"valid", issuer.IssueCard("L3")},
      {"revoked", revoked},
      {"expired", issuer.Token("EXPIRED2", y - 1, std::to_string(y - 1) + "-05-01T10:00:00Z")},
      {"unknown_key", testing::TokenOfAnotherKeyring(y)},
      {"damaged", testing::Forge(issuer.IssueCard("L4"))},
      {"not_lerarenkaart", "https://example.com/menu"}};
  auto http = CurlGetter();
  FakeClock clock(SystemClock().Now());
  auto store = TrustStore::Open({issuer.url(), "https://lerarenkaart.be", dir_ / "cache", 72h}, *http, clock);
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->Refresh());
  for (const auto& [expected, token] : tokens) {
    std::string jpeg = (dir_ / (expected + ".jpg")).string();
    ASSERT_EQ(testing::WritePhotoLike(Png(token, expected), jpeg, {10, 1.0, 4, 70}, seed_), "");
    auto text = DecodeQrFile(jpeg);
    ASSERT_TRUE(text) << expected << ": " << text.error().message;
    auto from_photo = (*store)->Judge(*text), from_token = (*store)->Judge(token);
    EXPECT_EQ(OutcomeName(from_photo.outcome), expected);
    EXPECT_EQ(from_photo.ToJson(Lang::kNl), from_token.ToJson(Lang::kNl));
  }
}

TEST_F(ImageTest, NoCodeAndNotAnImageAreToldApart) {
  std::string blank = (dir_ / "blank.jpg").string(), text = (dir_ / "notes.png").string();
  std::string png = Png("x", "tiny");
  testing::PhotoLike far_away{0, 0.0, 5, 50};  // the code shrunk to nothing
  ASSERT_EQ(testing::WritePhotoLike(png, blank, far_away, seed_), "");
  auto none = DecodeQrFile(blank);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Code::kNotFound);
  testing::WriteText(text, "not a picture");
  auto bad = DecodeQrFile(text);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("not a PNG or JPEG image"), std::string::npos);
  auto truncated = ReadFile(png);
  ASSERT_TRUE(truncated);
  auto cut = DecodeQrImage(truncated->substr(0, truncated->size() / 2));
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code, Code::kInvalidArgument);
  EXPECT_EQ(DecodeQrFile(dir_ / "missing.png").error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace lk::scan
