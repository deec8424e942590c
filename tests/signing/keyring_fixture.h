#pragma once
// A fixture for tests that sign and verify: a keyring with one token key, made at test time in
// the test's own directory, a fake clock at 2026-03-01T10:00:00Z and the default token policy.
#include <gtest/gtest.h>

#include <memory>

#include "signing/internal/keyring_store.h"
#include "signing/signing.h"
#include "tests/testing/testing.h"

namespace lk::signing {

class KeyringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.dir = dir_.path() / "keys";
    ASSERT_TRUE(internal::EnsurePrivateDir(config_.dir));
    ASSERT_TRUE(internal::KeyringStore(config_.dir).AddKey(clock_.Now()));
    auto ring = Keyring::Open(config_);
    ASSERT_TRUE(ring) << ring.error().message;
    ring_ = std::move(*ring);
  }

  testing::TempDir dir_;
  FakeClock clock_{*ParseRfc3339("2026-03-01T10:00:00Z")};
  TokenPolicy policy_;
  KeyConfig config_;
  std::unique_ptr<Keyring> ring_;
};

}  // namespace lk::signing
