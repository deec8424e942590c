// UpdatePusher (wallet/wallet.h) on every ledger backend against the real HTTP/2 stand-in APNs:
// a change reaches each registered device once, a crash after part of a batch was journalled
// pushes only the rest, an unreachable APNs defers the batch until its retry time, a 503 device
// is retried by later rounds and then given up, and a 410 device is forgotten.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "tests/ledger/ledger_testing.h"
#include "tests/push/apns_stand_in.h"
#include "tests/testing/testing.h"
#include "wallet/wallet.h"

namespace lk::wallet {
namespace {
using json = nlohmann::json;
using namespace std::chrono;

const std::string kTopic = "pass.be.lerarenkaart.test";
std::string Token(const std::string& prefix, int i) {
  char tail[65];
  std::snprintf(tail, sizeof tail, "%064x", i);
  return prefix + std::string(tail + prefix.size());
}

class UpdatePusherTest : public ledger::testing::LedgerBackendTest {
 protected:
  static void SetUpTestSuite() {
    certs_ = new lk::testing::TempDir();
    lk::testing::ApnsStandIn::MakeCertificates(lk::testing::SourceDir(), certs_->path());
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }
  void SetUp() override {
    LedgerBackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::string roster = ledger::testing::kRosterHeader;
    for (int i = 0; i < 6; ++i) roster += "T" + std::to_string(i) + ",A,B,teaching,GO,basic,12345,2000,no\n";
    ASSERT_TRUE(ledger_->imports().ImportRoster(Write("roster.csv", roster), 2026).has_value());
    for (int i = 0; i < 6; ++i)
      serials_.push_back(ledger_->cards().IssueDigital("T" + std::to_string(i), 2026)->serial);
    apple_ = std::make_unique<lk::testing::ApnsStandIn>(lk::testing::SourceDir(), certs_->path(),
                                                        dir_ / "apple", true);
  }

  std::unique_ptr<push::ApnsClient> Client(const std::string& url) {
    push::ApnsConfig c;
    c.base_url = url;
    c.topic = kTopic;
    c.certificate_pem = *ReadFile(certs_->path() / "client.pem");
    c.private_key_pem = *ReadFile(certs_->path() / "client-key.pem");
    c.ca_file = (certs_->path() / "ca.pem").string();
    c.max_attempts = 2;
    c.initial_backoff = milliseconds(10);
    c.connect_timeout = milliseconds(2000);
    c.sleep = [this](milliseconds) { clock_.Advance(seconds(1)); };
    auto client = push::ApnsClient::Create(c, clock_);
    EXPECT_TRUE(client.has_value()) << client.error().message;
    return std::move(*client);
  }
  PusherOptions Options(const std::string& holder) {
    PusherOptions o;
    o.holder = holder;
    o.lease = seconds(60);
    o.retry_after = seconds(30);
    o.max_runs = 3;
    o.log = [this](std::string_view line) { log_.emplace_back(line); };
    return o;
  }
  void Register(const std::string& device, const std::string& token, int card) {
    auto r = ledger_->pass_updates().Register(device, token, serials_[static_cast<size_t>(card)]);
    ASSERT_TRUE(r.has_value()) << r.error().message;
  }
  // Requests the stand-in received, per token.
  std::map<std::string, int> Received() {
    std::map<std::string, int> out;
    std::ifstream in(apple_->log_path());
    std::string line;
    while (std::getline(in, line)) {
      json j = json::parse(line, nullptr, false);
      if (j.is_object()) ++out[j.value("path", "").substr(std::string("/3/device/").size())];
    }
    return out;
  }

  static lk::testing::TempDir* certs_;
  std::vector<std::string> serials_;
  std::unique_ptr<lk::testing::ApnsStandIn> apple_;
  std::vector<std::string> log_;
};
lk::testing::TempDir* UpdatePusherTest::certs_ = nullptr;

TEST_P(UpdatePusherTest, AChangeReachesEachDeviceOnceAndNothingElse) {
  Register("phone", Token("a", 1), 0);
  Register("watch", Token("a", 2), 0);
  Register("bystander", Token("a", 3), 1);
  auto client = Client(apple_->url());
  UpdatePusher pusher(*ledger_, *client, clock_, Options("p1"));
  EXPECT_EQ(pusher.RunOnce()->batches, 0u);  // nothing queued: no batch, no request
  ASSERT_TRUE(ledger_->cards().Revoke(serials_[0], "lost").has_value());
  auto round = pusher.RunOnce();
  ASSERT_TRUE(round.has_value()) << round.error().message;
  EXPECT_EQ(round->batches, 1u);
  EXPECT_EQ(round->delivered, 2u);
  EXPECT_EQ(pusher.RunOnce()->batches, 0u);  // done: not pushed again
  auto got = Received();
  EXPECT_EQ(got, (std::map<std::string, int>{{Token("a", 1), 1}, {Token("a", 2), 1}}));
  ASSERT_FALSE(log_.empty());
  EXPECT_THAT(log_.back(), ::testing::HasSubstr("\"delivered\":2"));
}

TEST_P(UpdatePusherTest, AfterACrashOnlyWhatWasNotJournalledIsPushed) {
  for (int i = 0; i < 4; ++i) Register("d" + std::to_string(i), Token("a", i), 2);
  ASSERT_TRUE(ledger_->cards().Revoke(serials_[2], "lost").has_value());
  // A pusher took the batch, pushed two devices and journalled them, then its process died.
  auto batch = ledger_->pass_updates().ClaimPushBatch("crashed", seconds(60));
  ASSERT_TRUE(batch.has_value() && batch->has_value());
  const std::string done[] = {Token("a", 0), Token("a", 2)};
  ASSERT_TRUE(
      ledger_->pass_updates().RecordDelivered((*batch)->id, done, "crashed", seconds(60)).has_value());

  auto client = Client(apple_->url());
  UpdatePusher pusher(*ledger_, *client, clock_, Options("p2"));
  EXPECT_EQ(pusher.RunOnce()->batches, 0u);  // the dead pusher's lease still holds
  clock_.Advance(seconds(61));
  auto round = pusher.RunOnce();
  ASSERT_TRUE(round.has_value()) << round.error().message;
  EXPECT_EQ(round->delivered, 2u);
  EXPECT_EQ(round->skipped, 2u);
  EXPECT_EQ(Received(), (std::map<std::string, int>{{Token("a", 1), 1}, {Token("a", 3), 1}}));
}

TEST_P(UpdatePusherTest, AnUnreachableApnsDefersTheBatchUntilItsRetryTime) {
  Register("phone", Token("a", 7), 3);
  ASSERT_TRUE(ledger_->cards().Revoke(serials_[3], "lost").has_value());
  auto down = Client("https://127.0.0.1:1");  // nothing listens there
  UpdatePusher failing(*ledger_, *down, clock_, Options("p1"));
  auto round = failing.RunOnce();
  ASSERT_FALSE(round.has_value());
  EXPECT_EQ(round.error().code, Code::kUnavailable);
  auto client = Client(apple_->url());
  UpdatePusher pusher(*ledger_, *client, clock_, Options("p2"));
  EXPECT_EQ(pusher.RunOnce()->batches, 0u);  // not before its retry time
  clock_.Advance(seconds(31));
  EXPECT_EQ(pusher.RunOnce()->delivered, 1u);
  EXPECT_EQ(Received()[Token("a", 7)], 1);
}

TEST_P(UpdatePusherTest, GoneDevicesAreForgottenAndBusyOnesRetriedThenGivenUp) {
  Register("gone", Token("dead", 1), 4);
  Register("busy", Token("503", 1), 4);
  Register("fine", Token("a", 1), 4);
  ASSERT_TRUE(ledger_->cards().Revoke(serials_[4], "lost").has_value());
  auto client = Client(apple_->url());
  UpdatePusher pusher(*ledger_, *client, clock_, Options("p1"));
  auto first = pusher.RunOnce();
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->gone, 1u);
  EXPECT_EQ(first->unreachable, 1u);
  EXPECT_EQ(first->deferred, 1u);
  EXPECT_EQ(*ledger_->pass_updates().RegistrationCount(), 2);  // "gone" forgotten
  for (int run = 2; run <= 3; ++run) {
    clock_.Advance(seconds(31));
    auto again = pusher.RunOnce();
    ASSERT_TRUE(again.has_value()) << again.error().message;
    EXPECT_EQ(again->skipped, 1u) << run;  // "fine" was journalled
  }
  clock_.Advance(seconds(31));
  EXPECT_EQ(pusher.RunOnce()->batches, 0u);  // given up after max_runs
  auto got = Received();
  EXPECT_EQ(got[Token("a", 1)], 1);
  EXPECT_EQ(got[Token("dead", 1)], 1);
  EXPECT_EQ(got[Token("503", 1)], 6);  // 3 runs x 2 attempts
}

LK_ON_EVERY_BACKEND(UpdatePusherTest);

}  // namespace
}  // namespace lk::wallet
