// The teacher's pages over real HTTP, with the service in this process on a FakeClock (sessions
// expire by moving it) and a real SQLite ledger with a roster and claim codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <regex>

#include "api/api.h"
#include "base/base.h"
#include "ledger/ledger.h"
#include "signing/signing.h"
#include "tests/api/service_harness.h"
#include "tests/testing/testing.h"

namespace lk::api {
namespace {
using ::testing::HasSubstr;
using testing::Http;
using testing::HttpResponse;
using ::testing::Not;
using ::testing::StartsWith;

class WebPagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_.dir = dir_ / "keys";
    ASSERT_TRUE(signing::InitDevelopmentKeys(keys_, clock_));
    auto ring = signing::Keyring::Open(keys_);
    ASSERT_TRUE(ring) << ring.error().message;
    keyring_ = std::move(*ring);
    options_.data_dir = dir_.path();
    options_.keys_dir = keys_.dir;
    auto l = ledger::OpenLedger(options_, clock_);
    ASSERT_TRUE(l) << l.error().message;
    other_ = std::move(*l);
    lk::testing::WriteText(
        dir_ / "roster.csv",
        "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n"
        "T1,<script>alert(1)</script>,Peeters,teaching,GO,basic,12345,2000,no\n"
        "T2,Bo,Claes,teaching,GO,basic,12346,2000,no\n");
    ASSERT_TRUE(other_->imports().ImportRoster(dir_ / "roster.csv", 2026));
    auto codes =
        other_->access().CreateClaimCodes(dir_ / "roster.csv", 2026, clock_.Now() + std::chrono::days(60));
    ASSERT_TRUE(codes) << codes.error().message;
    for (auto& c : *codes) codes_[c.staff_id] = c.code;
  }
  void Start(ServiceOptions o = {}) {
    o.port = 0;
    o.access_log = false;
    ServiceDeps d;
    d.clock = &clock_;
    auto l = ledger::OpenLedger(options_, clock_);
    ASSERT_TRUE(l);
    d.ledger = std::move(*l);
    d.keyring = keyring_.get();
    d.build_pass = [](const Card& c, Time) -> Result<std::string> {
      return "PK\x03\x04 pass of " + c.serial;
    };
    auto s = Service::Start(o, std::move(d));
    ASSERT_TRUE(s) << s.error().message;
    service_ = std::move(*s);
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(service_->port()) + path;
  }

  // The claim form's CSRF pair: (cookie header value, form field).
  std::pair<std::string, std::string> Csrf() {
    auto form = Http("GET", Url("/claim"));
    std::smatch m;
    std::string cookie = form.header("set-cookie");
    EXPECT_TRUE(std::regex_search(cookie, m, std::regex("lk_csrf=([^;]+)"))) << cookie;
    return {"lk_csrf=" + m[1].str(), m[1].str()};
  }
  HttpResponse PostClaim(const std::string& code, std::vector<std::string> extra = {}) {
    auto [cookie, field] = Csrf();
    extra.push_back("Cookie: " + cookie);
    extra.push_back("Content-Type: application/x-www-form-urlencoded");
    return Http("POST", Url("/claim"), "csrf=" + field + "&code=" + code, extra);
  }
  // Claims T1's card through the form; returns the session cookie ("lk_session=...").
  std::string SignIn(const std::string& staff = "T1") {
    auto r = PostClaim(codes_.at(staff));
    EXPECT_EQ(r.status, 303) << r.body;
    EXPECT_EQ(r.header("location"), "/card");
    std::smatch m;
    std::string cookie = r.header("set-cookie");
    EXPECT_TRUE(std::regex_search(cookie, m, std::regex("(lk_session=[^;]+)"))) << cookie;
    return m[1].str();
  }
  static std::string CsrfOf(const std::string& html) {
    std::smatch m;
    EXPECT_TRUE(std::regex_search(html, m, std::regex("name=\"csrf\" value=\"([^\"]+)\"")));
    return m[1].str();
  }
  static void ExpectPage(const HttpResponse& r, long status, const std::string& lang) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_THAT(r.header("content-type"), StartsWith("text/html"));
    EXPECT_THAT(r.body, HasSubstr("<html lang=\"" + lang + "\">"));
    EXPECT_THAT(r.header("content-security-policy"), HasSubstr("default-src 'none'"));
    EXPECT_THAT(r.header("content-security-policy"), Not(HasSubstr("script-src")));
    EXPECT_EQ(r.header("x-frame-options"), "DENY");
  }

  lk::testing::TempDir dir_;
  FakeClock clock_{Time(std::chrono::sys_days(std::chrono::year(2026) / 3 / 1))};
  signing::KeyConfig keys_;
  std::unique_ptr<signing::Keyring> keyring_;
  ledger::LedgerOptions options_;
  std::unique_ptr<ledger::Ledger> other_;
  std::map<std::string, std::string> codes_;
  std::unique_ptr<Service> service_;
};

TEST_F(WebPagesTest, HomeIsDutchByDefaultFrenchOrEnglishByAcceptLanguageAndTheSwitchIsRemembered) {
  Start();
  auto nl = Http("GET", Url("/"));
  ExpectPage(nl, 200, "nl");
  EXPECT_THAT(nl.body, HasSubstr("href=\"/claim\""));
  ExpectPage(Http("GET", Url("/"), "", {"Accept-Language: fr-BE,fr;q=0.9"}), 200, "fr");
  auto en = Http("GET", Url("/?lang=en"), "", {"Accept-Language: fr"});
  ExpectPage(en, 200, "en");
  EXPECT_THAT(en.header("set-cookie"), HasSubstr("lang=en; Path=/;"));
  EXPECT_THAT(en.header("set-cookie"), HasSubstr("SameSite=Lax"));
  ExpectPage(Http("GET", Url("/"), "", {"Accept-Language: fr", "Cookie: lang=en"}), 200, "en");
}

TEST_F(WebPagesTest, ClaimFormIsPrefilledFromTheMailedLink) {
  Start();
  auto r = Http("GET", Url("/claim?code=abcd-efgh%22%3E"));
  ExpectPage(r, 200, "nl");
  EXPECT_THAT(r.body, HasSubstr("value=\"abcd-efgh&quot;&gt;\""));
  EXPECT_THAT(r.header("set-cookie"), HasSubstr("HttpOnly; SameSite=Strict"));
}

TEST_F(WebPagesTest, ClaimSignsInWithAnHttpOnlyRandomSessionCookieAndShowsTheCard) {
  Start();
  // Case, spaces and missing dashes are forgiven as by the API.
  std::string code = codes_.at("T1");
  std::string sloppy;
  for (char c : code)
    if (c != '-') sloppy += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto r = PostClaim("+" + sloppy.substr(0, 8) + "+" + sloppy.substr(8));
  ASSERT_EQ(r.status, 303) << r.body;
  std::string cookie = r.header("set-cookie");
  EXPECT_THAT(cookie, HasSubstr("; Path=/; Max-Age=15552000; HttpOnly; SameSite=Lax"));
  EXPECT_THAT(cookie, Not(HasSubstr("Secure")));  // served over http
  std::smatch m;
  ASSERT_TRUE(std::regex_search(cookie, m, std::regex("lk_session=([A-Za-z0-9_-]{43});")));
  auto page = Http("GET", Url("/card"), "", {"Cookie: lk_session=" + m[1].str()});
  ExpectPage(page, 200, "nl");
  EXPECT_THAT(page.body, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt; Peeters"));
  EXPECT_THAT(page.body, Not(HasSubstr("<script>")));
  EXPECT_THAT(page.body, HasSubstr("<dd>12345</dd>"));
  EXPECT_THAT(page.body, HasSubstr("<dd>2026</dd>"));
  EXPECT_THAT(page.body, HasSubstr("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(page.body, HasSubstr("href=\"/card/pass.pkpass\""));
  EXPECT_THAT(page.body, Not(HasSubstr("/card/google")));  // Google is not configured
  EXPECT_LT(page.body.size() + 1024, 30u * 1024);          // the page with its QR code, headers allowed for
  EXPECT_EQ(page.header("cache-control"), "no-store");
  // The session cookie holds neither the access token nor the QR token.
  auto json = Http("POST", Url("/v1/claims"), nlohmann::json{{"claim_code", code}}.dump(),
                   {"Content-Type: application/json"});
  ASSERT_EQ(json.status, 200) << json.body;  // within the retry window: the same card again
  auto body = nlohmann::json::parse(json.body);
  EXPECT_THAT(cookie, Not(HasSubstr(body["access_token"].get<std::string>())));
  EXPECT_THAT(cookie, Not(HasSubstr(body["token"].get<std::string>())));
  // Coming back to / shows the card.
  auto home = Http("GET", Url("/"), "", {"Cookie: lk_session=" + m[1].str()});
  EXPECT_EQ(home.status, 303);
  EXPECT_EQ(home.header("location"), "/card");
}

TEST_F(WebPagesTest, SessionCookieIsSecureWhenThePublicUrlIsHttps) {
  ServiceOptions o;
  o.public_base_url = "https://lerarenkaart.example";
  Start(o);
  auto r = PostClaim(codes_.at("T2"));
  ASSERT_EQ(r.status, 303) << r.body;
  EXPECT_THAT(r.header("set-cookie"), HasSubstr("HttpOnly; SameSite=Lax; Secure"));
}

TEST_F(WebPagesTest, WrongSpentOrEmptyCodesGiveTheFormAgainWithWhatToDo) {
  ServiceOptions o;
  o.claims_per_address = {1000, 1000};
  Start(o);
  auto unknown = PostClaim("ZZZZ-ZZZZ-ZZZZ-ZZZZ");
  ExpectPage(unknown, 404, "nl");
  EXPECT_THAT(unknown.body, HasSubstr("role=\"alert\""));
  EXPECT_THAT(unknown.body, HasSubstr("Deze code kennen we niet"));
  EXPECT_THAT(unknown.body, HasSubstr("value=\"ZZZZ-ZZZZ-ZZZZ-ZZZZ\""));
  ExpectPage(PostClaim(""), 400, "nl");
  SignIn("T1");
  clock_.Advance(std::chrono::minutes(11));  // past the retry window: the code is spent
  auto spent = PostClaim(codes_.at("T1"), {"Accept-Language: en"});
  ExpectPage(spent, 410, "en");
  EXPECT_THAT(spent.body, HasSubstr("expired or was already used"));
}

TEST_F(WebPagesTest, ClaimWithoutTheFormsTokenOrFromAnotherSiteIsRefused) {
  Start();
  auto no_cookie = Http("POST", Url("/claim"), "csrf=abc&code=" + codes_.at("T1"),
                        {"Content-Type: application/x-www-form-urlencoded"});
  ExpectPage(no_cookie, 403, "nl");
  EXPECT_THAT(no_cookie.body, HasSubstr("Het formulier was verlopen"));
  auto cross = PostClaim(codes_.at("T1"), {"Sec-Fetch-Site: cross-site"});
  ExpectPage(cross, 403, "nl");
  EXPECT_EQ(PostClaim(codes_.at("T1")).status, 303);  // the code was not spent by the refusals
}

TEST_F(WebPagesTest, ClaimFormIsRateLimitedLikeTheClaimApi) {
  ServiceOptions o;
  o.claims_per_address = {1.0 / 60, 2};
  Start(o);
  auto big = Http("POST", Url("/claim"), "code=" + std::string(5000, 'A'),
                  {"Content-Type: application/x-www-form-urlencoded"});
  ExpectPage(big, 413, "nl");  // the form's body cap (2 KiB)
  EXPECT_EQ(PostClaim("ZZZZ-ZZZZ-ZZZZ-ZZZZ").status, 404);
  auto busy = PostClaim("ZZZZ-ZZZZ-ZZZZ-ZZZZ");
  ExpectPage(busy, 429, "nl");
  EXPECT_FALSE(busy.header("retry-after").empty());
}

TEST_F(WebPagesTest, WithoutMailTheLinkPageSaysSoAndSendsNothing) {
  Start();  // no mailer
  auto page = Http("GET", Url("/link?lang=en"));
  ExpectPage(page, 200, "en");
  EXPECT_THAT(page.body, HasSubstr("Links cannot be mailed right now"));
  std::smatch m;
  std::string cookie = page.header("set-cookie");
  ASSERT_TRUE(std::regex_search(cookie, m, std::regex("lk_csrf=([^;]+)"))) << cookie;
  auto post = Http(
      "POST", Url("/link"), "csrf=" + m[1].str() + "&email=x%40school.be",
      {"Cookie: lk_csrf=" + m[1].str() + "; lang=en", "Content-Type: application/x-www-form-urlencoded"});
  ExpectPage(post, 503, "en");
}

TEST_F(WebPagesTest, ASignInLinkSignsInOnceWithAPostBeforeItExpires) {
  lk::testing::WriteText(
      dir_ / "contacts.csv",
      "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter,"
      "email\nT2,Bo,Claes,teaching,GO,basic,12346,2000,no,bo@school.be\n");
  ASSERT_TRUE(other_->imports().ImportRoster(dir_ / "contacts.csv", 2026));
  Start();
  SignIn("T2");  // the card, claimed on the old phone
  auto link = other_->access().CreateSignInLink("bo@school.be", clock_.Now() + std::chrono::minutes(15));
  ASSERT_TRUE(link && *link);
  const std::string token = (**link).token;
  // Opening the link (as a mail scanner would) spends nothing.
  auto page = Http("GET", Url("/link/signin?token=" + token));
  ExpectPage(page, 200, "nl");
  EXPECT_EQ(page.header("referrer-policy"), "no-referrer");
  EXPECT_THAT(page.body, HasSubstr("value=\"" + token + "\""));
  std::smatch m;
  std::string set = page.header("set-cookie");
  ASSERT_TRUE(std::regex_search(set, m, std::regex("lk_csrf=([^;]+)"))) << set;
  const std::string csrf = m[1].str();
  auto post = [&](const std::string& t, std::vector<std::string> extra = {}) {
    extra.push_back("Cookie: lk_csrf=" + csrf);
    extra.push_back("Content-Type: application/x-www-form-urlencoded");
    return Http("POST", Url("/link/signin"), "csrf=" + CsrfOf(page.body) + "&token=" + t, extra);
  };
  ExpectPage(post(token, {"Sec-Fetch-Site: cross-site"}), 403, "nl");
  auto in = post(token);
  EXPECT_EQ(in.status, 303) << in.body;
  EXPECT_EQ(in.header("location"), "/card");
  ASSERT_TRUE(std::regex_search(set = in.header("set-cookie"), m, std::regex("(lk_session=[^;]+)"))) << set;
  auto card = Http("GET", Url("/card"), "", {"Cookie: " + m[1].str()});
  ExpectPage(card, 200, "nl");
  EXPECT_THAT(card.body, HasSubstr("Bo Claes"));
  auto again = post(token);
  ExpectPage(again, 410, "nl");
  EXPECT_THAT(again.body, HasSubstr("Vraag een nieuwe link"));
  ExpectPage(post("ABCDEFGHJKMNPQRSTVWXYZ0123456789"), 404, "nl");
  // A link not used within its lifetime is spent.
  auto late = other_->access().CreateSignInLink("bo@school.be", clock_.Now() + std::chrono::minutes(15));
  ASSERT_TRUE(late && *late);
  clock_.Advance(std::chrono::minutes(16));
  ExpectPage(post((**late).token), 410, "nl");
}

TEST_F(WebPagesTest, PassDownloadsWithTheSessionCookie) {
  Start();
  std::string session = SignIn();
  auto pass = Http("GET", Url("/card/pass.pkpass"), "", {"Cookie: " + session});
  EXPECT_EQ(pass.status, 200) << pass.body;
  EXPECT_EQ(pass.header("content-type"), "application/vnd.apple.pkpass");
  EXPECT_THAT(pass.header("content-disposition"), StartsWith("attachment; filename=\"lerarenkaart-"));
  EXPECT_THAT(pass.body, StartsWith("PK\x03\x04 pass of "));
}

TEST_F(WebPagesTest, WithoutASessionTheCardPagesLeadHome) {
  Start();
  for (const char* path : {"/card", "/card/pass.pkpass"}) {
    auto r = Http("GET", Url(path));
    EXPECT_EQ(r.status, 303) << path;
    EXPECT_EQ(r.header("location"), "/") << path;
    auto bogus = Http("GET", Url(path), "", {"Cookie: lk_session=not-a-session"});
    EXPECT_EQ(bogus.header("location"), "/") << path;
  }
  auto google = Http("GET", Url("/card/google"));
  ExpectPage(google, 404, "nl");  // Google is not configured
}

TEST_F(WebPagesTest, SessionsExpireAfterTheirLifetime) {
  ServiceOptions o;
  o.teacher_session_lifetime = std::chrono::days(2);
  Start(o);
  std::string session = SignIn();
  EXPECT_EQ(Http("GET", Url("/card"), "", {"Cookie: " + session}).status, 200);
  clock_.Advance(std::chrono::days(2) - std::chrono::seconds(1));
  EXPECT_EQ(Http("GET", Url("/card"), "", {"Cookie: " + session}).status, 200);
  clock_.Advance(std::chrono::seconds(1));
  auto expired = Http("GET", Url("/card"), "", {"Cookie: " + session});
  EXPECT_EQ(expired.status, 303);
  EXPECT_EQ(expired.header("location"), "/");
}

TEST_F(WebPagesTest, SignOutNeedsTheSessionsTokenAndEndsIt) {
  Start();
  std::string session = SignIn();
  auto card = Http("GET", Url("/card"), "", {"Cookie: " + session});
  std::string csrf = CsrfOf(card.body);
  auto forged = Http("POST", Url("/signout"), "csrf=wrong",
                     {"Cookie: " + session, "Content-Type: application/x-www-form-urlencoded"});
  ExpectPage(forged, 403, "nl");
  EXPECT_EQ(Http("GET", Url("/card"), "", {"Cookie: " + session}).status, 200);
  auto out = Http("POST", Url("/signout"), "csrf=" + csrf,
                  {"Cookie: " + session, "Content-Type: application/x-www-form-urlencoded"});
  EXPECT_EQ(out.status, 303);
  EXPECT_EQ(out.header("location"), "/");
  EXPECT_THAT(out.header("set-cookie"), HasSubstr("lk_session=; Path=/; Max-Age=0"));
  EXPECT_EQ(Http("GET", Url("/card"), "", {"Cookie: " + session}).header("location"), "/");
}

TEST_F(WebPagesTest, UnknownPagesAreAPageInTheirLanguageAndTheApiKeepsProblems) {
  Start();
  ExpectPage(Http("GET", Url("/nope")), 404, "nl");
  auto fr = Http("GET", Url("/nope/deeper"), "", {"Accept-Language: fr"});
  ExpectPage(fr, 404, "fr");
  EXPECT_THAT(fr.body, HasSubstr("Cette page n’existe pas"));
  ExpectPage(Http("GET", Url("/nope"), "", {"Cookie: lang=en"}), 404, "en");
  auto api = Http("GET", Url("/v1/nope"));
  EXPECT_EQ(api.status, 404);
  EXPECT_THAT(api.header("content-type"), StartsWith("application/problem+json"));
}

TEST_F(WebPagesTest, StylesheetIsCachedWithAnEtag) {
  Start();
  auto css = Http("GET", Url("/static/site.css"));
  EXPECT_EQ(css.status, 200);
  EXPECT_THAT(css.header("content-type"), StartsWith("text/css"));
  EXPECT_EQ(Http("GET", Url("/static/site.css"), "", {"If-None-Match: " + css.header("etag")}).status, 304);
  EXPECT_EQ(Http("GET", Url("/static/badges/apple")).status, 404);  // no artwork configured
}

}  // namespace
}  // namespace lk::api
