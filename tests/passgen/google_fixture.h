#pragma once
// Shared setup for the Google Wallet tests: development keys made at test time in a temp dir,
// a fake clock in the 2026 card year, a stand-in Google on 127.0.0.1, and a client configured
// against it that records its waits and log lines instead of sleeping and printing.
#include <gtest/gtest.h>

#include <mutex>

#include "passgen/google_wallet.h"
#include "tests/passgen/google_stand_in.h"
#include "tests/testing/testing.h"

namespace lk::passgen {

class GoogleTest : public ::testing::Test {
 protected:
  // Development keys are made once per test program (RSA key generation is slow) and copied
  // into each test's own directory.
  static const std::filesystem::path& TemplateKeys() {
    static testing::TempDir dir;
    static bool made = [] {
      FakeClock clock{Start()};
      return signing::InitDevelopmentKeys({dir / "keys"}, clock).has_value();
    }();
    EXPECT_TRUE(made);
    static std::filesystem::path keys = dir / "keys";
    return keys;
  }
  static Time Start() {
    return std::chrono::sys_days(std::chrono::year(2026) / 3 / 1) + std::chrono::hours(12);
  }

  void SetUp() override {
    keys_.dir = dir_ / "keys";
    std::filesystem::copy(TemplateKeys(), keys_.dir, std::filesystem::copy_options::recursive);
    account_ = std::move(*signing::ServiceAccount::Load(keys_));
    keyring_ = std::move(*signing::Keyring::Open(keys_));
    issuer_ = std::move(*signing::TokenIssuer::Create(*keyring_, policy_));
    verifier_ = signing::TokenVerifier::Create(keyring_->Published(clock_.Now()), policy_);
    google_ = std::make_unique<testing::GoogleStandIn>(account_->PublicKeyPem(), account_->client_email());
    config_.issuer_id = "3388000000012345678";
    config_.token_url = google_->token_url();
    config_.api_url = google_->api_url();
    config_.connect_timeout = std::chrono::milliseconds(1000);
    config_.total_timeout = std::chrono::milliseconds(2000);
    config_.backoff_base = std::chrono::milliseconds(10);
    config_.backoff_max = std::chrono::milliseconds(5000);
    config_.sleep = [this](std::chrono::milliseconds d) {
      std::lock_guard l(mu_);
      sleeps_.push_back(d);
    };
    config_.log = [this](std::string_view line) {
      std::lock_guard l(mu_);
      logged_.emplace_back(line);
    };
  }

  std::unique_ptr<WalletApi> Client() { return std::move(*NewWalletClient(*account_, config_, clock_)); }
  // A card as the wallets show it.
  static ::lk::Card Card(std::string serial, std::string name = "An Peeters",
                         std::string school = "GO! Atheneum Gent", int year = 2026, bool revoked = false) {
    ::lk::Card c;
    c.serial = std::move(serial);
    c.year = year;
    c.holder_name = std::move(name);
    c.school = std::move(school);
    c.revoked = revoked;
    return c;
  }

  testing::TempDir dir_;
  FakeClock clock_{Start()};
  signing::KeyConfig keys_;
  signing::TokenPolicy policy_;
  std::unique_ptr<signing::ServiceAccount> account_;
  std::unique_ptr<signing::Keyring> keyring_;
  std::unique_ptr<signing::TokenIssuer> issuer_;
  std::unique_ptr<signing::TokenVerifier> verifier_;
  std::unique_ptr<testing::GoogleStandIn> google_;
  GoogleWalletConfig config_;
  GoogleCardDesign design_;
  std::mutex mu_;
  std::vector<std::chrono::milliseconds> sleeps_;
  std::vector<std::string> logged_;
};

}  // namespace lk::passgen
