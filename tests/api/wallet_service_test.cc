// Apple's pass web service and pushes, end to end on real servers: the real `lerarenkaart serve`
// (SQLite, and PostgreSQL when $LK_TEST_POSTGRES_URL is set) pushing through the HTTP/2 APNs
// stand-in (Debian's python3-h2, TLS requiring the pass certificate), a device that registers
// the way Wallet does (URLs joined from the served pass's webServiceURL, extra slash included),
// revocations by HTTP and by the CLI, the device listing what changed and fetching a voided pass
// whose signature openssl verifies, and a partner's verify answering revoked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "ledger/ledger.h"
#include "signing/signing.h"
#include "tests/api/service_fixture.h"
#include "tests/api/wallet_testing.h"
#include "tests/ledger/ledger_testing.h"
#include "tests/passgen/google_stand_in.h"
#include "tests/push/apns_stand_in.h"

namespace lk::api::testing {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using lk::testing::RunProgram;
using lk::testing::WriteText;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string PushToken(char fill) { return std::string(64, fill); }

class WalletServiceTest : public ServiceFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      backend_ = std::make_unique<ledger::testing::Backend>("postgresql", dir_.path());
      if (!backend_->available()) {
        const char* url = std::getenv("LK_TEST_POSTGRES_URL");
        if (url && *url) FAIL() << backend_->reason();
        GTEST_SKIP() << backend_->reason();
      }
      setenv("LK_LEDGER_URL", backend_->url().c_str(), 1);  // the CLI and serve both read it
    }
    ServiceFixture::SetUp();
    auto init = Cli({"keys", "init"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    certs_ = dir_ / "apns-certs";
    lk::testing::ApnsStandIn::MakeCertificates(lk::testing::SourceDir(), certs_);
    // The stand-in trusts client certificates of the development WWDR: the pass certificate.
    apple_ = std::make_unique<lk::testing::ApnsStandIn>(lk::testing::SourceDir(), certs_, dir_ / "apple",
                                                        true, data_ / "keys" / "dev-wwdr.pem");
    config_ = WriteConfig("wallet.toml", "\n[apns]\nurl = \"" + apple_->url() + "\"\nca_file = \"" +
                                             (certs_ / "ca.pem").string() + "\"\npoll_ms = 100\n");
  }
  void TearDown() override {
    server_.reset();
    unsetenv("LK_LEDGER_URL");
  }

  // The pass as Wallet downloads it first (through the card's access token), unpacked and verified.
  json PassJson(const std::string& pkpass, const std::string& name) {
    return UnpackVerifiedPass(pkpass, dir_.path(), name, data_ / "keys" / "dev-root-ca.pem");
  }

  // What the stand-in received for `token`, waiting up to `tries` x 0.1 s for `count` pushes.
  std::vector<json> PushesTo(const std::string& token, size_t count = 1, int tries = 200) {
    return lk::api::testing::PushesTo(apple_->log_path(), token, count, tries);
  }

  struct Pass {
    std::string serial, token, auth, web_service, type;
  };
  Pass ClaimPass(const std::string& staff_id) {
    json card = Claim(staff_id);
    Pass p{card["serial"], card["token"], card["access_token"], "", ""};
    auto r = Http("GET", Server().url(card["pass_url"]), "", {"Authorization: Bearer " + p.auth});
    EXPECT_EQ(r.status, 200) << r.body;
    json pj = PassJson(r.body, "first-" + staff_id);
    p.web_service = pj.value("webServiceURL", "");
    p.type = pj.value("passTypeIdentifier", "");
    EXPECT_EQ(pj["authenticationToken"], p.auth);
    return p;
  }
  // URLs joined the way KDE's pass reader does: webServiceURL + "/v1/..." (".../wallet//v1/...").
  static std::string Registration(const Pass& p, const std::string& device) {
    return p.web_service + "/v1/devices/" + device + "/registrations/" + p.type + "/" + p.serial;
  }
  static std::string Updates(const Pass& p, const std::string& device, const std::string& since = "") {
    return p.web_service + "/v1/devices/" + device + "/registrations/" + p.type +
           (since.empty() ? "" : "?passesUpdatedSince=" + since);
  }
  static std::string LatestPass(const Pass& p) {
    return p.web_service + "/v1/passes/" + p.type + "/" + p.serial;
  }
  static std::vector<std::string> ApplePass(const Pass& p) {
    return {"Authorization: ApplePass " + p.auth, "Content-Type: application/json"};
  }
  HttpResponse Register(const Pass& p, const std::string& device, const std::string& push_token) {
    return Http("POST", Registration(p, device), json{{"pushToken", push_token}}.dump(), ApplePass(p));
  }

  // The Google stand-in on 127.0.0.1 and the configuration that sends every Google call to it
  // through the API ([google] use_api).
  void UseGoogle() {  // REQUIRES: the keys made (SetUp)
    auto account = signing::ServiceAccount::Load(signing::KeyConfig{data_ / "keys"});
    ASSERT_TRUE(account) << account.error().message;
    google_ =
        std::make_unique<lk::testing::GoogleStandIn>((*account)->PublicKeyPem(), (*account)->client_email());
    std::string text = ReadAll(config_);
    text += "use_api = true\nmax_attempts = 2\ntimeout_seconds = 5\ntoken_url = \"" + google_->token_url() +
            "\"\napi_url = \"" + google_->api_url() + "\"\n";
    WriteText(config_, text);
  }
  static std::string ObjectId(const std::string& serial) { return "3388000000012345678." + serial; }
  // The claims of a compact JWS, unverified (the service and `token verify` verify).
  static json TokenClaims(const std::string& token) {
    auto first = token.find('.'), second = token.find('.', first + 1);
    auto payload = Base64UrlDecode(token.substr(first + 1, second - first - 1));
    return payload ? json::parse(*payload, nullptr, false) : json();
  }
  // The ledger the service uses, opened in this process as the CLI would.
  std::unique_ptr<ledger::Ledger> OpenLedger() {
    ledger::LedgerOptions o;
    if (backend_) o.url = backend_->url();
    o.data_dir = data_;
    o.keys_dir = data_ / "keys";
    auto l = ledger::OpenLedger(o, clock_);
    EXPECT_TRUE(l.has_value()) << l.error().message;
    return l ? std::move(*l) : nullptr;
  }

  std::unique_ptr<ledger::testing::Backend> backend_;
  fs::path certs_;
  std::unique_ptr<lk::testing::ApnsStandIn> apple_;
  std::unique_ptr<lk::testing::GoogleStandIn> google_;
  SystemClock clock_;
};

TEST_P(WalletServiceTest, ARevokedCardReachesTheWalletThroughPushAndTheWebService) {
  Pass pass = ClaimPass("T1");
  ASSERT_EQ(pass.web_service, Server().url("/wallet/"));  // the service's own, by default
  ASSERT_THAT(pass.type, StartsWith("pass."));

  // Register: 201, then 200; every credential failure is a 401, a hostile push token a 400.
  EXPECT_EQ(Register(pass, "dev1", PushToken('a')).status, 201);
  EXPECT_EQ(Register(pass, "dev1", PushToken('a')).status, 200);
  Pass wrong = pass;
  wrong.auth = std::string(32, 'A');
  EXPECT_EQ(Register(wrong, "dev1", PushToken('a')).status, 401);
  EXPECT_EQ(Http("POST", Registration(pass, "dev1"), "{\"pushToken\":\"" + PushToken('a') + "\"}",
                 {"Authorization: Bearer " + pass.auth})
                .status,
            401);
  Pass unknown = pass;
  unknown.serial = "NOSUCHCARD00";
  EXPECT_EQ(Register(unknown, "dev1", PushToken('a')).status, 401);  // same as a wrong token
  EXPECT_EQ(Problem(Register(pass, "dev1", "not-hex"), 400)["field"], "pushToken");
  EXPECT_EQ(Register(pass, "dev1", PushToken('a') + "\"}").status, 400);
  Pass other_type = pass;
  other_type.type = "pass.com.example.other";
  EXPECT_EQ(Register(other_type, "dev1", PushToken('a')).status, 404);
  EXPECT_EQ(Http("POST", Registration(pass, "dev%2F..%2Fx"), "{}", ApplePass(pass)).status, 404);
  EXPECT_EQ(Http("POST", Registration(pass, std::string(101, 'd')), "{}", ApplePass(pass)).status, 404);

  // What changed: everything without a tag, nothing since the tag given.
  auto listed = Http("GET", Updates(pass, "dev1"));
  ASSERT_EQ(listed.status, 200) << listed.body;
  json list = Json(listed);
  EXPECT_EQ(list["serialNumbers"], json::array({pass.serial}));
  ASSERT_TRUE(list["lastUpdated"].is_string());  // a number would stop the device's updates
  std::string tag = list["lastUpdated"];
  EXPECT_EQ(Http("GET", Updates(pass, "dev1", tag)).status, 204);
  EXPECT_EQ(Http("GET", Updates(pass, "nobody")).status, 204);
  EXPECT_EQ(Problem(Http("GET", Updates(pass, "dev1", "12abc")), 400)["field"], "passesUpdatedSince");

  // The latest pass: Last-Modified once its second is over, 304 for If-Modified-Since.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto latest = Http("GET", LatestPass(pass), "", ApplePass(pass));
  ASSERT_EQ(latest.status, 200) << latest.body;
  EXPECT_EQ(latest.header("content-type"), "application/vnd.apple.pkpass");
  std::string modified = latest.header("last-modified");
  ASSERT_THAT(modified, HasSubstr(" GMT"));
  EXPECT_EQ(Http("GET", LatestPass(pass), "", {ApplePass(pass)[0], "If-Modified-Since: " + modified}).status,
            304);
  EXPECT_EQ(Http("GET", LatestPass(pass), "", {"Authorization: ApplePass " + std::string(32, 'x')}).status,
            401);
  EXPECT_EQ(PassJson(latest.body, "latest")["voided"], false);
  // Hostile or odd validators are ignored, never trusted: a full answer.
  for (const char* ims : {"yesterday", "Mon, 32 Jan 2026 00:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT",
                          "Thu, 01 Jan 1970 00:00:00 GMT\r\nX: y"})
    EXPECT_EQ(
        Http("GET", LatestPass(pass), "", {ApplePass(pass)[0], std::string("If-Modified-Since: ") + ims})
            .status,
        200)
        << ims;
  EXPECT_EQ(Http("GET", LatestPass(pass), "", {"Authorization: applepass " + pass.auth}).status, 200);
  EXPECT_EQ(Http("GET", LatestPass(pass), "", {"Authorization: ApplePass"}).status, 401);
  EXPECT_EQ(Http("GET", LatestPass(pass), "", {ApplePass(pass)[0], "If-None-Match: " + latest.header("etag")})
                .status,
            304);

  // Revoked by staff over HTTP: the stand-in gets one push for the device, topic = pass type.
  ASSERT_EQ(
      Http("POST", Server().url("/v1/cards/" + pass.serial + "/revoke"), "{\"reason\":\"lost\"}", StaffAuth())
          .status,
      200);
  auto pushes = PushesTo(PushToken('a'));
  ASSERT_EQ(pushes.size(), 1u) << Server().Log();
  EXPECT_EQ(pushes[0]["method"], "POST");
  EXPECT_EQ(pushes[0]["protocol"], "h2");
  EXPECT_EQ(pushes[0]["headers"]["apns-topic"], pass.type);
  EXPECT_EQ(pushes[0]["client"]["userId"], pass.type);  // the pass certificate authenticated it
  EXPECT_EQ(pushes[0]["body"], "{}");
  EXPECT_EQ(pushes[0]["status"], 200);

  // The device asks what changed, fetches the pass: voided, and its signature verifies.
  auto changed = Http("GET", Updates(pass, "dev1", tag));
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(Json(changed)["serialNumbers"], json::array({pass.serial}));
  EXPECT_GT(std::stoll(Json(changed)["lastUpdated"].get<std::string>()), std::stoll(tag));
  auto voided = Http("GET", LatestPass(pass), "", {ApplePass(pass)[0], "If-Modified-Since: " + modified});
  ASSERT_EQ(voided.status, 200) << voided.body;
  json pj = PassJson(voided.body, "voided");
  EXPECT_EQ(pj["voided"], true);
  EXPECT_EQ(pj["serialNumber"], pass.serial);
  EXPECT_EQ(Verify(pass.token)["status"], "revoked");

  // The device unregisters: nothing is listed for it any more.
  EXPECT_EQ(Http("DELETE", Registration(pass, "dev1"), "", ApplePass(pass)).status, 200);
  EXPECT_EQ(Http("DELETE", Registration(wrong, "dev1"), "", ApplePass(wrong)).status, 401);
  EXPECT_EQ(Http("GET", Updates(pass, "dev1")).status, 204);
  // One push only for that change, also after the pusher's next rounds.
  EXPECT_EQ(PushesTo(PushToken('a'), 2, 10).size(), 1u);
}

TEST_P(WalletServiceTest, ACliRevocationIsPushedByTheRunningServiceAndGoneDevicesAreForgotten) {
  Pass second = ClaimPass("T2");
  Pass third = ClaimPass("T3");
  ASSERT_EQ(Register(second, "phone", PushToken('b')).status, 201);
  ASSERT_EQ(Register(second, "watch", PushToken('c')).status, 201);
  // APNs answers 410 Unregistered for this one (the stand-in's "dead..." tokens).
  std::string dead = "dead" + PushToken('0').substr(4);
  ASSERT_EQ(Register(third, "old-phone", dead).status, 201);

  auto revoke = Cli({"ledger", "revoke", "--serial", second.serial, "--reason", "lost phone"});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  EXPECT_EQ(PushesTo(PushToken('b')).size(), 1u) << Server().Log();
  EXPECT_EQ(PushesTo(PushToken('c')).size(), 1u);
  EXPECT_EQ(Json(Http("GET", Updates(second, "phone")))["serialNumbers"], json::array({second.serial}));

  auto gone = Cli({"ledger", "revoke", "--serial", third.serial, "--reason", "left"});
  ASSERT_EQ(gone.exit_code, 0) << gone.err;
  auto answered = PushesTo(dead);
  ASSERT_EQ(answered.size(), 1u) << Server().Log();
  EXPECT_EQ(answered[0]["status"], 410);
  for (int i = 0; i < 100 && Http("GET", Updates(third, "old-phone")).status != 204; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(Http("GET", Updates(third, "old-phone")).status, 204);  // the device is forgotten

  // Registrations live in the ledger: a restarted service still knows the phone.
  EXPECT_EQ(server_->Terminate(), 0);
  server_.reset();
  second.web_service = Server().url("/wallet/");  // the new process listens elsewhere
  EXPECT_EQ(Json(Http("GET", Updates(second, "phone")))["serialNumbers"], json::array({second.serial}));
  EXPECT_EQ(Register(second, "phone", PushToken('b')).status, 200);
}

TEST_P(WalletServiceTest, DeviceLogsAreLoggedCappedAndEscaped) {
  Pass pass = ClaimPass("T4");
  std::string log_url = pass.web_service + "/v1/log";
  json logs = {{"logs", {"Web service error for pass.x: \u0001 \"quoted\"", std::string(2000, 'x')}}};
  EXPECT_EQ(Http("POST", log_url, logs.dump(), {"Content-Type: application/json"}).status, 200);
  EXPECT_EQ(
      Problem(Http("POST", log_url, "{\"logs\":\"no\"}", {"Content-Type: application/json"}), 400)["field"],
      "logs");
  EXPECT_EQ(Http("POST", log_url, std::string(5000, '['), {"Content-Type: application/json"}).status, 413);
  std::string log = Server().Log();
  EXPECT_THAT(log, HasSubstr("\"event\":\"wallet_device_log\""));
  EXPECT_THAT(log, HasSubstr("\\u0001 \\\"quoted\\\""));
  EXPECT_THAT(log, Not(HasSubstr(std::string(1001, 'x'))));
}

// Key rotation: `keys rotate`, then `cards refresh` re-signs the token, marks the pass updated
// and queues its push; the running service pushes it, the device fetches the pass with the new
// token in its barcode, and the old token keeps verifying. Running it again changes nothing.
TEST_P(WalletServiceTest, CardsRefreshAfterAKeyRotationReachesTheWallet) {
  Pass pass = ClaimPass("T5");
  ASSERT_EQ(Register(pass, "phone5", PushToken('d')).status, 201);
  std::string tag = Json(Http("GET", Updates(pass, "phone5")))["lastUpdated"];
  auto rotate = Cli({"keys", "rotate"});
  ASSERT_EQ(rotate.exit_code, 0) << rotate.err;
  auto refresh = Cli({"cards", "refresh"});
  ASSERT_EQ(refresh.exit_code, 0) << refresh.err;
  EXPECT_THAT(refresh.out, HasSubstr("cards refresh: 1 re-signed"));
  EXPECT_EQ(PushesTo(PushToken('d')).size(), 1u) << Server().Log();
  ASSERT_EQ(kill(Server().pid(), SIGHUP), 0);  // the service learns the new key

  auto changed = Http("GET", Updates(pass, "phone5", tag));
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(Json(changed)["serialNumbers"], json::array({pass.serial}));
  auto latest = Http("GET", LatestPass(pass), "", ApplePass(pass));
  ASSERT_EQ(latest.status, 200) << latest.body;
  json pj = PassJson(latest.body, "refreshed");
  std::string fresh = pj["barcodes"][0]["message"];
  EXPECT_NE(fresh, pass.token);
  EXPECT_EQ(pj["voided"], false);
  EXPECT_EQ(pj["authenticationToken"], pass.auth);    // never changes
  EXPECT_EQ(Verify(pass.token)["status"], "active");  // the old key is still published
  std::string status;
  for (int i = 0; i < 50 && status != "active"; ++i) {
    status = Verify(fresh)["status"];
    if (status != "active") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, "active");

  auto again = Cli({"cards", "refresh"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("0 re-signed"));
  EXPECT_THAT(again.out, HasSubstr("1 already signed"));
  EXPECT_EQ(PushesTo(PushToken('d'), 2, 10).size(), 1u);
  auto verify = Cli({"ledger", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// After a key rotation `cards refresh` also patches every saved Google object's barcode to the
// new token (the Apple pass's); a card never saved to Google is counted, a failure is logged,
// counted and left for `google sync`, and the run still succeeds.
TEST_P(WalletServiceTest, CardsRefreshPatchesTheSavedGoogleObjects) {
  ASSERT_NO_FATAL_FAILURE(UseGoogle());
  Pass saved = ClaimPass("T1");
  Pass failing = ClaimPass("T2");
  ClaimPass("T3");  // never saved to Google Wallet
  for (const Pass* p : {&saved, &failing}) {
    auto link = Http("GET", Server().url("/v1/cards/" + p->serial + "/google"), "",
                     {"Authorization: Bearer " + p->auth});
    ASSERT_EQ(link.status, 302) << link.body << Server().Log();
  }
  const std::string failing_before = google_->objects().at(ObjectId(failing.serial))["barcode"]["value"];
  google_->AddFault({.path_prefix = "/walletobjects/v1/genericObject/" + ObjectId(failing.serial),
                     .status = 400,
                     .times = 1});
  ASSERT_EQ(Cli({"keys", "rotate"}).exit_code, 0);
  auto refresh = Cli({"cards", "refresh"});
  ASSERT_EQ(refresh.exit_code, 0) << refresh.err;
  EXPECT_THAT(refresh.out, HasSubstr("cards refresh: 3 re-signed"));
  EXPECT_THAT(refresh.out,
              HasSubstr("google: 1 objects patched, 1 cards never saved to Google Wallet, 1 failed"));
  EXPECT_THAT(refresh.out, HasSubstr("run `lerarenkaart google sync --year " + std::to_string(year_) + "`"));
  EXPECT_THAT(refresh.err,
              HasSubstr("object of card " + failing.serial + " not patched (google sync repairs it)"));

  // The object carries the token of the pass the wallet fetches now.
  auto latest = Http("GET", LatestPass(saved), "", ApplePass(saved));
  ASSERT_EQ(latest.status, 200) << latest.body;
  std::string fresh = PassJson(latest.body, "refreshed-google")["barcodes"][0]["message"];
  EXPECT_NE(fresh, saved.token);
  json object = google_->objects().at(ObjectId(saved.serial));
  EXPECT_EQ(object["barcode"]["value"], fresh);
  EXPECT_EQ(object["barcode"]["alternateText"], saved.serial);
  EXPECT_EQ(object["state"], "ACTIVE");
  EXPECT_EQ(google_->objects().at(ObjectId(failing.serial))["barcode"]["value"], failing_before);
  // google sync repairs the failed one once Google answers again.
  auto sync = Cli({"google", "sync", "--year", std::to_string(year_), "--token-url", google_->token_url(),
                   "--api-url", google_->api_url()});
  EXPECT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  EXPECT_NE(google_->objects().at(ObjectId(failing.serial))["barcode"]["value"], failing_before);
}

// The new card year: a holder of last year's card who is on this year's roster gets this year's
// card in the same wallet entry. The device registered for last year's pass is pushed, lists the
// same serial, fetches a pass with the same serialNumber and authenticationToken and a token of
// the new year that partners' verify accepts; the saved Google object (same id) is patched; the
// teacher's claim answers the renewed card; a second run does nothing; the ledger verifies.
TEST_P(WalletServiceTest, TheNewCardYearTakesOverTheWalletEntry) {
  ASSERT_NO_FATAL_FAILURE(UseGoogle());
  const int last = year_ - 1;
  // Last year's roster and T1's digital card of last year, saved in both wallets.
  auto imp = Cli({"import", "roster", (dir_ / "roster.csv").string(), "--year", std::to_string(last)});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  auto issued = Cli({"ledger", "issue", "--staff-id", "T1", "--year", std::to_string(last)});
  ASSERT_EQ(issued.exit_code, 0) << issued.err;
  // This year's roster (imported again: nothing changes) names the holder waiting to be renewed.
  auto hint = Cli({"import", "roster", (dir_ / "roster.csv").string(), "--year", std::to_string(year_)});
  ASSERT_EQ(hint.exit_code, 0) << hint.err;
  EXPECT_THAT(hint.err, HasSubstr("1 holders of a " + std::to_string(last) +
                                  " digital card are on this roster: "
                                  "`lerarenkaart cards renew --year " +
                                  std::to_string(year_) + "`"));
  auto ledger = OpenLedger();
  ASSERT_NE(ledger, nullptr);
  auto staff_cards = ledger->cards().FindCardsOfStaff("T1");
  ASSERT_TRUE(staff_cards.has_value() && staff_cards->size() == 1u);
  auto old = ledger->cards().FindCard(staff_cards->front().serial);
  ASSERT_TRUE(old.has_value());
  ledger.reset();
  Pass pass{old->serial, "", old->auth_token, "", ""};
  Pass probe = ClaimPass("T6");  // the pass type identifier and web service URL of served passes
  pass.type = probe.type;
  pass.web_service = probe.web_service;
  ASSERT_EQ(Register(pass, "phone-year", PushToken('e')).status, 201);
  std::string tag = Json(Http("GET", Updates(pass, "phone-year")))["lastUpdated"];
  google_->PutObject(
      {{"id", ObjectId(pass.serial)},
       {"classId", "3388000000012345678.lerarenkaart-" + std::to_string(last)},
       {"state", "ACTIVE"},
       {"barcode", {{"type", "QR_CODE"}, {"value", "last-years-token"}, {"alternateText", pass.serial}}}});

  // Next year's renewal is refused until next year begins.
  auto early = Cli({"cards", "renew", "--year", std::to_string(year_ + 1)});
  EXPECT_EQ(early.exit_code, 1) << early.out << early.err;
  EXPECT_THAT(early.err, HasSubstr("begins on 1 January " + std::to_string(year_ + 1)));

  auto renew = Cli({"cards", "renew", "--year", std::to_string(year_)});
  ASSERT_EQ(renew.exit_code, 0) << renew.err;
  EXPECT_THAT(renew.out,
              HasSubstr("cards renew " + std::to_string(year_) + ": 1 renewed in the same wallet entry"));
  EXPECT_THAT(renew.out, HasSubstr("google: 1 objects patched"));
  EXPECT_EQ(PushesTo(PushToken('e')).size(), 1u) << Server().Log();

  auto changed = Http("GET", Updates(pass, "phone-year", tag));
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(Json(changed)["serialNumbers"], json::array({pass.serial}));
  auto latest = Http("GET", LatestPass(pass), "", ApplePass(pass));
  ASSERT_EQ(latest.status, 200) << latest.body;
  json pj = PassJson(latest.body, "next-year");
  EXPECT_EQ(pj["serialNumber"], pass.serial);       // the same wallet entry
  EXPECT_EQ(pj["authenticationToken"], pass.auth);  // never changes
  EXPECT_EQ(pj["voided"], false);
  std::string token = pj["barcodes"][0]["message"];
  json claims = TokenClaims(token);
  EXPECT_EQ(claims["y"], year_);
  const std::string new_serial = claims["sub"];
  EXPECT_NE(new_serial, pass.serial);
  json verdict = Verify(token);
  EXPECT_EQ(verdict["status"], "active") << verdict;
  EXPECT_EQ(verdict["serial"], new_serial);
  // Google: the same object, now this year's card.
  json object = google_->objects().at(ObjectId(pass.serial));
  EXPECT_EQ(object["barcode"]["value"], token);
  EXPECT_EQ(object["state"], "ACTIVE");
  EXPECT_THAT(object["textModulesData"].dump(), HasSubstr(std::to_string(year_)));

  // The teacher claims with this year's code: the answer (and so the card page) is the renewed card.
  auto claimed = Claim("T1", 200);
  EXPECT_EQ(claimed["serial"], new_serial);
  EXPECT_EQ(claimed["token"], token);

  // Idempotent: nothing renewed twice, nothing pushed twice; google sync of last year leaves it.
  auto again = Cli({"cards", "renew", "--year", std::to_string(year_)});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out,
              HasSubstr("0 renewed in the same wallet entry (passes queued for a push), 1 renewed before"));
  EXPECT_EQ(PushesTo(PushToken('e'), 2, 10).size(), 1u);
  auto sync = Cli({"google", "sync", "--year", std::to_string(last)});
  EXPECT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  EXPECT_THAT(sync.out, HasSubstr("renewed: 1 cards left alone"));
  EXPECT_EQ(google_->objects().at(ObjectId(pass.serial))["barcode"]["value"], token);
  auto verify = Cli({"ledger", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// A template that declares "followingYears" covers next year: no warning on import or serve, and
// a claim of next year's card downloads a pass of that year (not 503).
TEST_P(WalletServiceTest, ATemplateThatServesFollowingYearsCoversNextYear) {
  const fs::path root = dir_ / "templates";
  fs::create_directories(root / std::to_string(year_));
  fs::copy(lk::testing::SourceDir() / "templates" / std::to_string(year_), root / std::to_string(year_),
           fs::copy_options::recursive);
  json tj = json::parse(ReadAll(root / std::to_string(year_) / "template.json"));
  tj["followingYears"] = true;
  WriteText(root / std::to_string(year_) / "template.json", tj.dump(2));
  WriteText(config_, ReadAll(config_) + "\n[passes]\ntemplates_dir = \"" + root.string() + "\"\n");
  const std::string next = std::to_string(year_ + 1);
  auto imp = Cli({"import", "roster", (dir_ / "roster.csv").string(), "--year", next, "--claim-codes",
                  (dir_ / "codes-next.csv").string()});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  EXPECT_THAT(imp.err, Not(HasSubstr("warning")));
  std::string codes = ReadAll(dir_ / "codes-next.csv");
  auto at = codes.find("\nT1,");
  ASSERT_NE(at, std::string::npos) << codes;
  std::string code = Trim(codes.substr(at + 4, codes.find('\n', at + 1) - at - 4));
  auto claim = Http("POST", Server().url("/v1/claims"), json{{"claim_code", code}}.dump(),
                    {"Content-Type: application/json"});
  ASSERT_EQ(claim.status, 201) << claim.body;
  EXPECT_EQ(Json(claim)["year"], year_ + 1);
  auto pkpass = Http("GET", Server().url(Json(claim)["pass_url"]), "",
                     {"Authorization: Bearer " + Json(claim)["access_token"].get<std::string>()});
  ASSERT_EQ(pkpass.status, 200) << pkpass.body << Server().Log();
  json pj = PassJson(pkpass.body, "following-year");
  EXPECT_THAT(pj["expirationDate"].get<std::string>(), StartsWith(std::to_string(year_ + 2) + "-"));
  EXPECT_THAT(pj.dump(), HasSubstr("\"value\":\"" + next + "\""));
  EXPECT_THAT(Server().Log(), Not(HasSubstr("no Apple pass template covers card year " + next)));
}

// A card year with a roster but no pass template: the import and serve say so (claims would 503).
TEST_P(WalletServiceTest, ImportAndServeWarnWhenNoPassTemplateCoversTheYear) {
  const std::string next = std::to_string(year_ + 1);
  auto imp = Cli({"import", "roster", (dir_ / "roster.csv").string(), "--year", next});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  EXPECT_THAT(imp.err, HasSubstr("warning: no Apple pass template covers card year " + next));
  auto current = Cli({"import", "roster", (dir_ / "roster.csv").string(), "--year", std::to_string(year_)});
  ASSERT_EQ(current.exit_code, 0) << current.err;
  EXPECT_THAT(current.err, Not(HasSubstr("warning")));
  std::string log = Server().Log();
  EXPECT_THAT(log, HasSubstr("no Apple pass template covers card year " + next));
  EXPECT_THAT(log, Not(HasSubstr("covers card year " + std::to_string(year_) + " ")));
}

INSTANTIATE_TEST_SUITE_P(Backends, WalletServiceTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace lk::api::testing
