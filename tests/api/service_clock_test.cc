// The service in this process on a FakeClock: what depends on time (the credential cache, rate
// limits) is tested by moving the clock, not by sleeping. Requests still go over real HTTP on
// 127.0.0.1; the ledger is a real SQLite file that a second Ledger (as the CLI would) changes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "api/api.h"
#include "base/base.h"
#include "ledger/ledger.h"
#include "signing/signing.h"
#include "tests/api/service_harness.h"
#include "tests/testing/testing.h"

namespace lk::api {
namespace {
using json = nlohmann::json;
using testing::Http;

class ServiceClockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_.dir = dir_ / "keys";
    ASSERT_TRUE(signing::InitDevelopmentKeys(keys_, clock_));
    auto ring = signing::Keyring::Open(keys_);
    ASSERT_TRUE(ring) << ring.error().message;
    keyring_ = std::move(*ring);
    options_.data_dir = dir_.path();
    options_.keys_dir = keys_.dir;
    other_ = OpenLedgerOrDie();
  }
  std::unique_ptr<ledger::Ledger> OpenLedgerOrDie() {
    auto l = ledger::OpenLedger(options_, clock_);
    EXPECT_TRUE(l) << l.error().message;
    return l ? std::move(*l) : nullptr;
  }
  void Start(ServiceOptions o) {
    o.port = 0;
    o.access_log = false;
    ServiceDeps d;
    d.clock = &clock_;
    d.ledger = OpenLedgerOrDie();
    d.keyring = keyring_.get();
    auto s = Service::Start(o, std::move(d));
    ASSERT_TRUE(s) << s.error().message;
    service_ = std::move(*s);
  }
  std::string Url(const std::string& path) const { return service_->base_url() + path; }
  long Verify(const std::string& key) {
    return Http("POST", Url("/v1/verify"), R"({"token":"x"})", {"Authorization: Bearer " + key}).status;
  }

  lk::testing::TempDir dir_;
  FakeClock clock_{Time(std::chrono::sys_days(std::chrono::year(2026) / 3 / 1))};
  signing::KeyConfig keys_;
  std::unique_ptr<signing::Keyring> keyring_;
  ledger::LedgerOptions options_;
  std::unique_ptr<ledger::Ledger> other_;  // another writer on the same ledger (as the CLI)
  std::unique_ptr<Service> service_;
};

// A removed credential keeps working while this instance remembers it (10 s), not a second
// longer; another credential is not affected.
TEST_F(ServiceClockTest, RemovedCredentialStopsWorkingWhenTheCacheLapses) {
  Start({});
  auto gone = other_->access().AddCredential(ledger::CredentialKind::kPartner, "Temporary");
  auto kept = other_->access().AddCredential(ledger::CredentialKind::kPartner, "Museum M");
  ASSERT_TRUE(gone && kept);
  EXPECT_EQ(Verify(*gone), 200);
  ASSERT_TRUE(other_->access().RemoveCredential(ledger::CredentialKind::kPartner, "Temporary"));
  EXPECT_EQ(Verify(*gone), 200);  // remembered
  clock_.Advance(std::chrono::seconds(9));
  EXPECT_EQ(Verify(*gone), 200);
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_EQ(Verify(*gone), 401);
  EXPECT_EQ(Verify(*kept), 200);
  clock_.Advance(std::chrono::seconds(60));
  EXPECT_EQ(Verify(*gone), 401);  // failures are never remembered as successes
}

// Token buckets refill with the clock: the burst, then 429 with the wait in Retry-After, then
// one more request per second of moved time.
TEST_F(ServiceClockTest, RateLimitsRefillAsTheClockMoves) {
  ServiceOptions o;
  o.per_address = {0.5, 3};
  Start(o);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Http("GET", Url("/openapi.json")).status, 200) << i;
  auto limited = Http("GET", Url("/openapi.json"));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.header("retry-after"), "2");
  EXPECT_EQ(Http("GET", Url("/healthz")).status, 200);  // probes are never limited
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(Http("GET", Url("/openapi.json")).status, 429);
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(Http("GET", Url("/openapi.json")).status, 200);
  EXPECT_EQ(Http("GET", Url("/openapi.json")).status, 429);
  clock_.Advance(std::chrono::seconds(60));  // a full bucket again, not more
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Http("GET", Url("/openapi.json")).status, 200) << i;
  EXPECT_EQ(Http("GET", Url("/openapi.json")).status, 429);
}

}  // namespace
}  // namespace lk::api
