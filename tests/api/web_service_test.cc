// The teacher's pages on the real `lerarenkaart serve` (ServiceFixture): with Google configured
// the card page shows the Google button and it leads to the save link; the pass downloaded with
// the session cookie validates as the API's does; configured badge artwork is shown and served.
#include <regex>

#include "tests/api/service_fixture.h"

namespace lk::api::testing {
namespace {
using ::testing::HasSubstr;
using ::testing::StartsWith;

class WebServiceTest : public ServiceFixture {
 protected:
  // Claims `staff`'s card through the form; returns "lk_session=...".
  std::string SignIn(const std::string& staff) {
    auto form = Http("GET", Server().url("/claim?code=" + codes_.at(staff)));
    std::smatch m;
    std::string set = form.header("set-cookie");
    EXPECT_TRUE(std::regex_search(set, m, std::regex("lk_csrf=([^;]+)"))) << set;
    std::string csrf = m[1].str();
    auto r = Http("POST", Server().url("/claim"), "csrf=" + csrf + "&code=" + codes_.at(staff),
                  {"Cookie: lk_csrf=" + csrf, "Content-Type: application/x-www-form-urlencoded"});
    EXPECT_EQ(r.status, 303) << r.body;
    set = r.header("set-cookie");
    EXPECT_TRUE(std::regex_search(set, m, std::regex("(lk_session=[^;]+)"))) << set;
    return m[1].str();
  }
};

TEST_F(WebServiceTest, CardPageShowsGoogleWhenConfiguredAndThePassValidates) {
  std::string session = SignIn("T3");
  auto card = Http("GET", Server().url("/card"), "", {"Cookie: " + session});
  ASSERT_EQ(card.status, 200) << card.body;
  EXPECT_THAT(card.body, HasSubstr("href=\"/card/google\""));
  EXPECT_THAT(card.body, HasSubstr("Toevoegen aan Google Wallet"));
  auto google = Http("GET", Server().url("/card/google"), "", {"Cookie: " + session});
  EXPECT_EQ(google.status, 303) << google.body;
  EXPECT_THAT(google.header("location"), StartsWith("https://pay.google.com/gp/v/save/"));

  auto pass = Http("GET", Server().url("/card/pass.pkpass"), "", {"Cookie: " + session});
  ASSERT_EQ(pass.status, 200) << pass.body;
  EXPECT_EQ(pass.header("content-type"), "application/vnd.apple.pkpass");
  lk::testing::WriteText(dir_ / "web.pkpass", pass.body);
  std::filesystem::path x = dir_ / "web-pkpass";
  auto unzip =
      lk::testing::RunProgram({"unzip", "-q", "-o", (dir_ / "web.pkpass").string(), "-d", x.string()});
  ASSERT_EQ(unzip.exit_code, 0) << unzip.err;
  auto manifest = nlohmann::json::parse(ReadAll(x / "manifest.json"));
  for (auto& [file, sha1] : manifest.items())
    EXPECT_EQ(HexEncode(Sha1(ReadAll(x / file))), sha1.get<std::string>()) << file;
  auto cms = lk::testing::RunProgram({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
                                      (x / "signature").string(), "-content", (x / "manifest.json").string(),
                                      "-CAfile", (data_ / "keys" / "dev-root-ca.pem").string(), "-purpose",
                                      "any", "-out", "/dev/null"});
  EXPECT_EQ(cms.exit_code, 0) << cms.err;
  // The QR token on the page is the pass's.
  auto pj = nlohmann::json::parse(ReadAll(x / "pass.json"));
  EXPECT_FALSE(pj["barcodes"][0]["message"].get<std::string>().empty());
}

TEST_F(WebServiceTest, ConfiguredBadgeArtworkIsShownAndServed) {
  lk::testing::WriteText(dir_ / "apple.svg",
                         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"40\"/>");
  config_ = WriteConfig("badges.toml", "[web]\napple_badge = \"" + (dir_ / "apple.svg").string() + "\"\n");
  std::string session = SignIn("T4");
  auto card = Http("GET", Server().url("/card"), "", {"Cookie: " + session});
  EXPECT_THAT(card.body, HasSubstr("<img src=\"/static/badges/apple\" alt=\"Voeg toe aan Apple Wallet\">"));
  auto badge = Http("GET", Server().url("/static/badges/apple"));
  EXPECT_EQ(badge.status, 200);
  EXPECT_EQ(badge.header("content-type"), "image/svg+xml");
  EXPECT_EQ(Http("GET", Server().url("/static/badges/google")).status, 404);
}

TEST_F(WebServiceTest, AnUnreadableBadgeFileStopsServeNamingTheKey) {
  config_ = WriteConfig("bad.toml", "[web]\ngoogle_badge = \"" + (dir_ / "missing.svg").string() + "\"\n");
  auto r = Cli({"serve", "--dev", "--listen", "127.0.0.1:0"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("[web] google_badge"));
}

}  // namespace
}  // namespace lk::api::testing
