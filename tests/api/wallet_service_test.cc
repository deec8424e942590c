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

#include "tests/api/service_fixture.h"
#include "tests/ledger/ledger_testing.h"
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

  // The pass as Wallet downloads it first (through the card's access token), unpacked.
  json PassJson(const std::string& pkpass, const std::string& name) {
    WriteText(dir_ / (name + ".pkpass"), pkpass);
    fs::path x = dir_ / name;
    auto unzip = RunProgram({"unzip", "-q", "-o", (dir_ / (name + ".pkpass")).string(), "-d", x.string()});
    EXPECT_EQ(unzip.exit_code, 0) << unzip.err;
    auto cms =
        RunProgram({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
                    (x / "signature").string(), "-content", (x / "manifest.json").string(), "-CAfile",
                    (data_ / "keys" / "dev-root-ca.pem").string(), "-purpose", "any", "-out", "/dev/null"});
    EXPECT_EQ(cms.exit_code, 0) << cms.err;
    EXPECT_THAT(cms.err, HasSubstr("Verification successful"));
    json manifest = json::parse(ReadAll(x / "manifest.json"));
    for (auto& [file, sha1] : manifest.items())
      EXPECT_EQ(HexEncode(Sha1(ReadAll(x / file))), sha1.get<std::string>()) << file;
    return json::parse(ReadAll(x / "pass.json"));
  }

  // What the stand-in received for `token`, waiting up to `tries` x 0.1 s for `count` pushes.
  std::vector<json> PushesTo(const std::string& token, size_t count = 1, int tries = 200) {
    std::vector<json> found;
    for (int i = 0; i < tries; ++i) {
      found.clear();
      std::ifstream in(apple_->log_path());
      std::string line;
      while (std::getline(in, line)) {
        json j = json::parse(line, nullptr, false);
        if (j.is_object() && j.value("path", "") == "/3/device/" + token) found.push_back(j);
      }
      if (found.size() >= count) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return found;
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

  std::unique_ptr<ledger::testing::Backend> backend_;
  fs::path certs_;
  std::unique_ptr<lk::testing::ApnsStandIn> apple_;
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
