// Sessions kept in the ledger, over real HTTP on every backend: a console browser, a teacher's
// phone and a partner's desk stay signed in when the service stops and a new one starts over the same ledger
// (a deploy), two instances on one ledger (behind a load balancer) share them, signing out on one ends the
// session on the other, and expiry (FakeClock) holds on both.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <memory>
#include <regex>

#include "api/api.h"
#include "base/base.h"
#include "ledger/ledger.h"
#include "signing/signing.h"
#include "tests/api/service_harness.h"
#include "tests/ledger/ledger_testing.h"
#include "tests/testing/testing.h"

namespace lk::api {
namespace {
using ::testing::HasSubstr;
using testing::Http;
using testing::HttpResponse;
using ::testing::Not;

class SessionRestartTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = std::make_unique<ledger::testing::Backend>(GetParam(), dir_.path());
    if (!backend_->available()) {
      const char* url = std::getenv("LK_TEST_POSTGRES_URL");
      if (url && *url) FAIL() << backend_->reason();
      GTEST_SKIP() << backend_->reason();
    }
    keys_.dir = dir_ / "keys";
    ASSERT_TRUE(signing::InitDevelopmentKeys(keys_, clock_));
    auto ring = signing::Keyring::Open(keys_);
    ASSERT_TRUE(ring) << ring.error().message;
    keyring_ = std::move(*ring);
    options_ = backend_->options();
    options_.keys_dir = dir_ / "ledger-keys";
    auto l = ledger::OpenLedger(options_, clock_);
    ASSERT_TRUE(l) << l.error().message;
    auto& ledger = **l;
    lk::testing::WriteText(dir_ / "roster.csv", std::string(ledger::testing::kRosterHeader) +
                                                    "T1,An,Peeters,teaching,GO,basic,12345,2000,no\n");
    ASSERT_TRUE(ledger.imports().ImportRoster(dir_ / "roster.csv", 2026));
    auto codes =
        ledger.access().CreateClaimCodes(dir_ / "roster.csv", 2026, clock_.Now() + std::chrono::days(60));
    ASSERT_TRUE(codes && codes->size() == 1);
    code_ = (*codes)[0].code;
    auto secret = ledger.access().AddCredential(ledger::CredentialKind::kStaff, "analist");
    ASSERT_TRUE(secret) << secret.error().message;
    secret_ = *secret;
    auto partner = ledger.access().AddCredential(ledger::CredentialKind::kPartner, "bib");
    ASSERT_TRUE(partner) << partner.error().message;
    partner_ = *partner;
  }

  // A service instance over the test's ledger (its own connection), on 127.0.0.1:0.
  std::unique_ptr<Service> Start() {
    ServiceOptions o;
    o.port = 0;
    o.access_log = false;
    ServiceDeps d;
    d.clock = &clock_;
    auto l = ledger::OpenLedger(options_, clock_);
    EXPECT_TRUE(l) << l.error().message;
    if (!l) return nullptr;
    d.ledger = std::move(*l);
    d.keyring = keyring_.get();
    d.build_pass = [](const Card& c, Time) -> Result<std::string> {
      return "PK\x03\x04 pass of " + c.serial;
    };
    auto s = Service::Start(o, std::move(d));
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }
  static std::string Url(const Service& s, const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(s.port()) + path;
  }
  static std::string Match(const std::string& text, const std::string& re) {
    std::smatch m;
    EXPECT_TRUE(std::regex_search(text, m, std::regex(re))) << re << " in " << text;
    return m.size() > 1 ? m[1].str() : "";
  }
  // Signs a console browser in on `s`; returns its cookie ("lk_console=...").
  std::string ConsoleSignIn(const Service& s) {
    auto form = Http("GET", Url(s, "/console"));
    std::string token = Match(form.header("set-cookie"), "lk_console_csrf=([^;]+)");
    auto r = Http("POST", Url(s, "/console/signin"), "csrf=" + token + "&credential=" + secret_,
                  {"Cookie: lk_console_csrf=" + token, "Content-Type: application/x-www-form-urlencoded"});
    EXPECT_EQ(r.status, 303) << r.body;
    return "lk_console=" + Match(r.header("set-cookie"), "lk_console=([^;]+)");
  }
  // Claims T1's card through the form on `s`; returns the phone's cookie ("lk_session=...").
  std::string Claim(const Service& s) {
    auto form = Http("GET", Url(s, "/claim"));
    std::string token = Match(form.header("set-cookie"), "lk_csrf=([^;]+)");
    auto r = Http("POST", Url(s, "/claim"), "csrf=" + token + "&code=" + code_,
                  {"Cookie: lk_csrf=" + token, "Content-Type: application/x-www-form-urlencoded"});
    EXPECT_EQ(r.status, 303) << r.body;
    EXPECT_EQ(r.header("location"), "/card");
    return "lk_session=" + Match(r.header("set-cookie"), "lk_session=([^;]+)");
  }
  // Signs a partner's desk in on `s`; returns its cookie ("lk_desk=...").
  std::string DeskSignIn(const Service& s) {
    auto form = Http("GET", Url(s, "/desk"));
    std::string token = Match(form.header("set-cookie"), "lk_csrf=([^;]+)");
    std::string key;
    for (unsigned char c : partner_) {  // form-encoded
      static const char* kHex = "0123456789ABCDEF";
      if (std::isalnum(c) || c == '_' || c == '-' || c == '.')
        key += static_cast<char>(c);
      else
        key += std::string("%") + kHex[c >> 4] + kHex[c & 15];
    }
    auto r = Http("POST", Url(s, "/desk/signin"), "csrf=" + token + "&key=" + key,
                  {"Cookie: lk_csrf=" + token, "Content-Type: application/x-www-form-urlencoded"});
    EXPECT_EQ(r.status, 303) << r.body;
    return "lk_desk=" + Match(r.header("set-cookie"), "lk_desk=([^;]+)");
  }
  // Whether `cookie` is signed in at the desk on `s` (its page carries the sign-out form).
  static bool DeskSignedIn(const Service& s, const std::string& cookie) {
    auto r = Http("GET", Url(s, "/desk"), "", {"Cookie: " + cookie});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body.find("action=\"/desk/signout\"") != std::string::npos;
  }
  // Whether `cookie` is signed in to the console on `s` (its page carries the sign-out form).
  static bool ConsoleSignedIn(const Service& s, const std::string& cookie) {
    auto r = Http("GET", Url(s, "/console"), "", {"Cookie: " + cookie});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body.find("action=\"/console/signout\"") != std::string::npos;
  }
  // The card page on `s` for `cookie`: 200 with the card, or 303 to "/" when signed out.
  static HttpResponse CardPage(const Service& s, const std::string& cookie) {
    return Http("GET", Url(s, "/card"), "", {"Cookie: " + cookie});
  }
  static std::string CsrfOf(const std::string& html) {
    return Match(html, "name=\"csrf\" value=\"([^\"]+)\"");
  }
  static HttpResponse Post(const Service& s, const std::string& path, const std::string& cookie,
                           const std::string& body) {
    return Http("POST", Url(s, path), body,
                {"Cookie: " + cookie, "Content-Type: application/x-www-form-urlencoded"});
  }

  lk::testing::TempDir dir_;
  FakeClock clock_{Time(std::chrono::sys_days(std::chrono::year(2026) / 3 / 1))};
  std::unique_ptr<ledger::testing::Backend> backend_;
  signing::KeyConfig keys_;
  std::unique_ptr<signing::Keyring> keyring_;
  ledger::LedgerOptions options_;
  std::string code_, secret_, partner_;
};

TEST_P(SessionRestartTest, ConsoleTeacherAndDeskSessionsSurviveARestart) {
  auto first = Start();
  ASSERT_TRUE(first);
  const std::string console = ConsoleSignIn(*first), phone = Claim(*first), desk = DeskSignIn(*first);
  ASSERT_TRUE(ConsoleSignedIn(*first, console));
  ASSERT_TRUE(DeskSignedIn(*first, desk));
  auto card = CardPage(*first, phone);
  ASSERT_EQ(card.status, 200) << card.body;
  first->Stop();
  first.reset();  // a deploy: the process is gone, and with it its memory

  auto second = Start();
  ASSERT_TRUE(second);
  EXPECT_TRUE(ConsoleSignedIn(*second, console));
  EXPECT_TRUE(DeskSignedIn(*second, desk));
  auto again = CardPage(*second, phone);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(CsrfOf(again.body), CsrfOf(card.body));  // the same session, the same form token
  // One kind's id under another kind's cookie is nobody: the stores do not read each other's.
  const std::string desk_id = desk.substr(desk.find('=') + 1),
                    console_id = console.substr(console.find('=') + 1);
  EXPECT_FALSE(ConsoleSignedIn(*second, "lk_console=" + desk_id));
  EXPECT_FALSE(DeskSignedIn(*second, "lk_desk=" + console_id));
  EXPECT_EQ(CardPage(*second, "lk_session=" + console_id).status, 303);
  // A made-up cookie is still nobody.
  EXPECT_FALSE(ConsoleSignedIn(*second, "lk_console=" + std::string(43, 'A')));
  EXPECT_EQ(CardPage(*second, "lk_session=" + std::string(43, 'A')).status, 303);
}

TEST_P(SessionRestartTest, SigningOutOnOneInstanceEndsTheSessionOnTheOther) {
  auto a = Start(), b = Start();
  ASSERT_TRUE(a && b);
  const std::string console = ConsoleSignIn(*a), phone = Claim(*a);
  ASSERT_TRUE(ConsoleSignedIn(*b, console));  // signed in on a, known to b
  auto card = CardPage(*b, phone);
  ASSERT_EQ(card.status, 200) << card.body;

  // Console: sign out on b with b's page's form token; a no longer knows the browser.
  auto page = Http("GET", Url(*b, "/console"), "", {"Cookie: " + console});
  auto out = Post(*b, "/console/signout", console, "csrf=" + CsrfOf(page.body));
  EXPECT_EQ(out.status, 303) << out.body;
  EXPECT_FALSE(ConsoleSignedIn(*a, console));
  EXPECT_FALSE(ConsoleSignedIn(*b, console));

  // Teacher: sign out on a; b sends the phone to the start page.
  auto bye = Post(*a, "/signout", phone, "csrf=" + CsrfOf(card.body));
  EXPECT_EQ(bye.status, 303) << bye.body;
  auto gone = CardPage(*b, phone);
  EXPECT_EQ(gone.status, 303);
  EXPECT_EQ(gone.header("location"), "/");
}

TEST_P(SessionRestartTest, ExpiryHoldsOnEveryInstance) {
  auto a = Start(), b = Start();
  ASSERT_TRUE(a && b);
  const std::string console = ConsoleSignIn(*a);
  ServiceOptions defaults;
  clock_.Advance(defaults.console_session_lifetime - std::chrono::seconds(1));
  EXPECT_TRUE(ConsoleSignedIn(*b, console));
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_FALSE(ConsoleSignedIn(*a, console));
  EXPECT_FALSE(ConsoleSignedIn(*b, console));
}

TEST_P(SessionRestartTest, ASessionStoreThatCannotBeReadIsAnErrorNotASignOut) {
  auto a = Start();
  ASSERT_TRUE(a);
  const std::string console = ConsoleSignIn(*a), phone = Claim(*a);
  ASSERT_EQ(backend_->Sql("ALTER TABLE sessions RENAME TO sessions_away"), "");
  auto page = Http("GET", Url(*a, "/console"), "", {"Cookie: " + console});
  EXPECT_GE(page.status, 500) << page.body;  // an error page, not the sign-in form
  EXPECT_THAT(page.body, Not(HasSubstr("name=\"credential\"")));
  EXPECT_THAT(page.header("set-cookie"), Not(HasSubstr("lk_console=;")));
  EXPECT_GE(CardPage(*a, phone).status, 500);
  ASSERT_EQ(backend_->Sql("ALTER TABLE sessions_away RENAME TO sessions"), "");
  EXPECT_TRUE(ConsoleSignedIn(*a, console));  // nobody was signed out meanwhile
  EXPECT_EQ(CardPage(*a, phone).status, 200);
}

INSTANTIATE_TEST_SUITE_P(Backends, SessionRestartTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace lk::api
