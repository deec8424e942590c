// ApnsClient against a real HTTP/2 server over TLS with client-certificate verification: the
// stand-in APNs of apns_stand_in.py on 127.0.0.1:0, certificates made at test time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/base.h"
#include "push/push.h"
#include "signing/signing.h"
#include "tests/push/apns_stand_in.h"
#include "tests/testing/testing.h"

namespace lk::push {
namespace {
using ::testing::HasSubstr;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr char kTopic[] = "pass.be.lerarenkaart.test";

// A 64-hex-digit token starting with `prefix` (the stand-in answers by prefix).
std::string Token(const std::string& prefix, int i) {
  char tail[65];
  std::snprintf(tail, sizeof tail, "%064x", i);
  return prefix + std::string(tail + prefix.size());
}

class ApnsClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new testing::TempDir();
    testing::ApnsStandIn::MakeCertificates(testing::SourceDir(), certs_->path());
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }
  void SetUp() override {
    server_ = std::make_unique<testing::ApnsStandIn>(testing::SourceDir(), certs_->path(), dir_.path(), true);
  }

  static std::string Pem(const std::string& name) { return *ReadFile(certs_->path() / name); }
  ApnsConfig Config(const std::string& cert = "client.pem", const std::string& key = "client-key.pem") {
    ApnsConfig c;
    c.base_url = server_->url();
    c.topic = kTopic;
    if (!cert.empty()) c.certificate_pem = Pem(cert);
    if (!key.empty()) c.private_key_pem = Pem(key);
    c.ca_file = (certs_->path() / "ca.pem").string();
    c.max_in_flight = 50;
    c.max_attempts = 3;
    c.sleep = [this](std::chrono::milliseconds d) {
      sleeps_.push_back(d);
      clock_.Advance(std::chrono::ceil<std::chrono::seconds>(d));
    };
    return c;
  }
  std::unique_ptr<ApnsClient> Client(ApnsConfig c) {
    auto client = ApnsClient::Create(std::move(c), clock_);
    EXPECT_TRUE(client.has_value()) << client.error().message;
    return std::move(*client);
  }
  // Every request the stand-in recorded so far.
  std::vector<json> Requests() {
    std::vector<json> out;
    std::ifstream in(server_->log_path());
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }
  std::map<std::string, int> RequestsPerToken() {
    std::map<std::string, int> n;
    for (const json& r : Requests())
      n[r["path"].get<std::string>().substr(std::string("/3/device/").size())]++;
    return n;
  }

  static testing::TempDir* certs_;
  testing::TempDir dir_;
  FakeClock clock_{*ParseRfc3339("2026-12-02T12:00:00Z")};
  std::vector<std::chrono::milliseconds> sleeps_;
  std::unique_ptr<testing::ApnsStandIn> server_;
};
testing::TempDir* ApnsClientTest::certs_ = nullptr;

TEST_F(ApnsClientTest, ManyStreamsOnOneHttp2ConnectionWithTopicAndEmptyBody) {
  std::vector<std::string> tokens;
  for (int i = 0; i < 400; ++i) tokens.push_back(Token("a", i));
  auto client = Client(Config());
  auto sum = client->PushAll(tokens);
  ASSERT_TRUE(sum.has_value()) << sum.error().message;
  EXPECT_EQ(sum->delivered, 400u);
  EXPECT_EQ(sum->requests, 400u);
  EXPECT_EQ(sum->connections, 1u);
  // The connection stays open for the next change.
  auto again = client->PushAll(std::span(tokens).first(10));
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->delivered, 10u);
  EXPECT_EQ(again->connections, 0u);

  auto requests = Requests();
  ASSERT_EQ(requests.size(), 410u);
  std::set<int> connections;
  std::set<std::string> paths;
  for (const json& r : requests) {
    connections.insert(r["connection"].get<int>());
    paths.insert(r["path"].get<std::string>());
    EXPECT_EQ(r["protocol"], "h2");
    EXPECT_EQ(r["method"], "POST");
    EXPECT_EQ(r["headers"]["apns-topic"], kTopic);
    EXPECT_EQ(r["body"], "{}");
    EXPECT_EQ(r["client"]["userId"], kTopic);  // authenticated with the pass certificate
  }
  EXPECT_EQ(connections.size(), 1u);
  EXPECT_EQ(paths.size(), 400u);
  EXPECT_TRUE(paths.contains("/3/device/" + tokens[123]));
  EXPECT_THAT(json::parse(server_->Stop())["connections"], 1);
}

TEST_F(ApnsClientTest, GoneTokensAreReportedForRemovalAndOther4xxFail) {
  std::vector<std::string> tokens = {Token("dead", 1), Token("bad", 2), Token("413", 3), Token("c", 4)};
  std::map<std::string, TokenResult> seen;
  auto sum = Client(Config())->PushAll(tokens, [&](const TokenResult& r) { seen[r.token] = r; });
  ASSERT_TRUE(sum.has_value()) << sum.error().message;
  EXPECT_EQ(sum->delivered, 1u);
  EXPECT_EQ(sum->gone, 2u);
  EXPECT_THAT(sum->gone_tokens, ::testing::UnorderedElementsAre(tokens[0], tokens[1]));
  EXPECT_EQ(seen[tokens[0]].outcome, Outcome::kGone);
  EXPECT_EQ(seen[tokens[0]].status, 410);
  EXPECT_EQ(seen[tokens[0]].reason, "Unregistered");
  EXPECT_EQ(seen[tokens[1]].status, 400);
  EXPECT_EQ(seen[tokens[1]].reason, "BadDeviceToken");
  EXPECT_EQ(seen[tokens[2]].outcome, Outcome::kFailed);
  EXPECT_EQ(seen[tokens[2]].reason, "PayloadTooLarge");
  EXPECT_EQ(seen[tokens[2]].attempts, 1);  // not retried
  ASSERT_EQ(sum->problems.size(), 1u);
  EXPECT_EQ(sum->problems[0].token, tokens[2]);
}

TEST_F(ApnsClientTest, TooManyRequestsAndServerErrorsAreRetriedWithExponentialBackoff) {
  std::vector<std::string> tokens = {Token("429", 1), Token("503", 2), Token("e", 3)};
  std::map<std::string, TokenResult> seen;
  auto sum = Client(Config())->PushAll(tokens, [&](const TokenResult& r) { seen[r.token] = r; });
  ASSERT_TRUE(sum.has_value()) << sum.error().message;
  EXPECT_EQ(seen[tokens[0]].outcome, Outcome::kDelivered);
  EXPECT_EQ(seen[tokens[0]].attempts, 3);  // 429, 429, 200
  EXPECT_EQ(seen[tokens[1]].outcome, Outcome::kUnreachable);
  EXPECT_EQ(seen[tokens[1]].attempts, 3);  // max_attempts
  EXPECT_EQ(seen[tokens[1]].status, 503);
  EXPECT_EQ(seen[tokens[1]].reason, "ServiceUnavailable");
  EXPECT_EQ(seen[tokens[2]].attempts, 1);
  EXPECT_EQ(sum->requests, 7u);
  auto per_token = RequestsPerToken();
  EXPECT_EQ(per_token[tokens[0]], 3);
  EXPECT_EQ(per_token[tokens[1]], 3);
  // Each token waits 1 s +-50% before its second attempt and 2 s +-50% before its third, on the
  // injected sleeper: the test does not sleep. One token alone shows its own waits.
  sleeps_.clear();
  auto alone = Client(Config())->PushAll(std::vector<std::string>{Token("429", 4)});
  ASSERT_TRUE(alone.has_value()) << alone.error().message;
  EXPECT_EQ(alone->delivered, 1u);
  ASSERT_EQ(sleeps_.size(), 2u);
  EXPECT_GE(sleeps_[0], 500ms);
  EXPECT_LE(sleeps_[0], 1500ms);
  EXPECT_GE(sleeps_[1], 1000ms);
  EXPECT_LE(sleeps_[1], 3000ms);
}

TEST_F(ApnsClientTest, HostileTokensAreRejectedBeforeSending) {
  std::vector<std::string> tokens = {"",
                                     "abc",
                                     Token("a", 1) + "/../../admin",
                                     std::string(64, 'g'),
                                     Token("a", 2).substr(0, 60) + "\r\nx:",
                                     std::string(202, 'a'),
                                     std::string(31, 'a'),
                                     Token("A", 3)};
  auto sum = Client(Config())->PushAll(tokens);
  ASSERT_TRUE(sum.has_value()) << sum.error().message;
  EXPECT_EQ(sum->invalid, 7u);
  EXPECT_EQ(sum->delivered, 1u);  // upper-case hex is hex
  EXPECT_EQ(sum->requests, 1u);
  EXPECT_EQ(Requests().size(), 1u);
  EXPECT_EQ(sum->problems[0].outcome, Outcome::kInvalidToken);
  EXPECT_TRUE(IsValidPushToken(std::string(64, 'f')));
  EXPECT_FALSE(IsValidPushToken(std::string(64, 'f') + " "));
}

// A journal that dies (like the process would) on its Nth write.
class CrashingJournal final : public PushJournal {
 public:
  CrashingJournal(PushJournal& inner, int writes) : inner_(inner), writes_(writes) {}
  Result<bool> Delivered(std::string_view c, std::string_view t) override { return inner_.Delivered(c, t); }
  Result<> RecordDelivered(std::string_view c, std::span<const std::string> tokens) override {
    if (--writes_ < 0) return Fail(Code::kUnavailable, "journal: simulated crash");
    return inner_.RecordDelivered(c, tokens);
  }

 private:
  PushJournal& inner_;
  int writes_;
};

TEST_F(ApnsClientTest, AfterACrashAChangeIsNotPushedAgainToAcknowledgedTokens) {
  std::vector<std::string> tokens;
  for (int i = 0; i < 300; ++i) tokens.push_back(Token("b0", i));
  auto journal = NewMemoryPushJournal();
  ApnsConfig config = Config();
  config.journal_batch = 20;
  config.max_in_flight = 10;
  {
    CrashingJournal crashing(*journal, 3);
    auto first = Client(config)->Push("card 1 revoked", tokens, crashing);
    ASSERT_FALSE(first.has_value());
    EXPECT_THAT(first.error().message, HasSubstr("simulated crash"));
  }
  std::set<std::string> recorded;
  for (const auto& t : tokens)
    if (*journal->Delivered("card 1 revoked", t)) recorded.insert(t);
  EXPECT_EQ(recorded.size(), 60u);  // three batches of journal_batch
  size_t sent_before = Requests().size();
  EXPECT_LT(sent_before, tokens.size());

  auto second = Client(config)->Push("card 1 revoked", tokens, *journal);  // the restart
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(second->skipped, 60u);
  EXPECT_EQ(second->delivered, 240u);
  auto per_token = RequestsPerToken();
  for (const auto& t : tokens) {
    EXPECT_GE(per_token[t], 1) << t;
    if (recorded.contains(t))
      EXPECT_EQ(per_token[t], 1) << t << " was acknowledged and recorded";
    else
      EXPECT_LE(per_token[t], 2) << t;
  }
  // A third run sends nothing; another change goes to everyone again.
  auto third = Client(config)->Push("card 1 revoked", tokens, *journal);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->skipped, 300u);
  EXPECT_EQ(third->requests, 0u);
  auto other = Client(config)->Push("key rotation", std::span(tokens).first(5), *journal);
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->delivered, 5u);
}

TEST_F(ApnsClientTest, AServerThatRequiresAClientCertificateRejectsAClientWithoutOne) {
  for (const auto& [cert, key] : {std::pair{"", ""}, std::pair{"other.pem", "other-key.pem"}}) {
    SCOPED_TRACE(cert);
    std::vector<std::string> tokens = {Token("a", 1), Token("a", 2)};
    auto sum = Client(Config(cert, key))->PushAll(tokens);
    ASSERT_FALSE(sum.has_value());
    EXPECT_EQ(sum.error().code, Code::kUnavailable);
    EXPECT_THAT(sum.error().message, HasSubstr("unreachable after 3 attempts"));
    EXPECT_THAT(sum.error().message, HasSubstr("accepts the pass certificate"));
    std::printf("client error: %s\n", sum.error().message.c_str());
  }
  EXPECT_TRUE(Requests().empty());
}

TEST_F(ApnsClientTest, ACertificateRefusedByApnsStopsTheRun) {
  std::vector<std::string> tokens = {Token("403", 1)};
  for (int i = 0; i < 50; ++i) tokens.push_back(Token("c", i));
  ApnsConfig config = Config();
  config.max_in_flight = 1;
  auto sum = Client(config)->PushAll(tokens);
  ASSERT_FALSE(sum.has_value());
  EXPECT_EQ(sum.error().code, Code::kPermissionDenied);
  EXPECT_THAT(sum.error().message, HasSubstr("BadCertificate"));
  EXPECT_EQ(Requests().size(), 1u);
}

TEST_F(ApnsClientTest, UnusableConfigurationsAreRefused) {
  auto bad = [&](ApnsConfig c) {
    auto r = ApnsClient::Create(std::move(c), clock_);
    return r.has_value() ? Code::kInternal : r.error().code;
  };
  ApnsConfig c = Config();
  c.topic = "";
  EXPECT_EQ(bad(c), Code::kInvalidArgument);
  EXPECT_EQ(bad(Config("client.pem", "other-key.pem")), Code::kInvalidArgument);  // key of another cert
  EXPECT_EQ(bad(Config("client-key.pem", "client-key.pem")), Code::kInvalidArgument);
  c = Config();
  c.base_url = "ftp://127.0.0.1";
  EXPECT_EQ(bad(c), Code::kInvalidArgument);
  c = Config();
  c.max_in_flight = 0;
  EXPECT_EQ(bad(c), Code::kInvalidArgument);
}

// The wiring the service uses: the pass-signing identity is the APNs client identity.
TEST_F(ApnsClientTest, ThePassSigningIdentityAuthenticatesThePush) {
  signing::KeyConfig keys{.dir = dir_ / "keys"};
  ASSERT_TRUE(signing::InitDevelopmentKeys(keys, clock_).has_value());
  auto signer = signing::PassSigner::Load(keys);
  ASSERT_TRUE(signer.has_value()) << signer.error().message;
  testing::ApnsStandIn apple(testing::SourceDir(), certs_->path(), dir_ / "apple", true,
                             keys.dir / "dev-wwdr.pem");
  ApnsConfig config = Config("", "");
  config.base_url = apple.url();
  config.topic = (*signer)->pass_type_identifier();
  config.certificate_pem = (*signer)->CertificatePem();
  config.private_key_pem = (*signer)->PrivateKeyPem();
  auto sum = Client(config)->PushAll(std::vector<std::string>{Token("f", 1)});
  ASSERT_TRUE(sum.has_value()) << sum.error().message;
  EXPECT_EQ(sum->delivered, 1u);
  apple.Stop();
  std::ifstream in(apple.log_path());
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(json::parse(line)["client"]["userId"], (*signer)->pass_type_identifier());
  EXPECT_EQ(json::parse(line)["headers"]["apns-topic"], (*signer)->pass_type_identifier());
}

}  // namespace
}  // namespace lk::push
