// The verify path's in-memory card status: what it answers, when it defers to the ledger, and
// that a refresh can never undo a newer revocation.
#include "api/internal/card_status.h"

#include <gtest/gtest.h>

#include <thread>

namespace lk::api::internal {
namespace {

using Status = CardStatusCache::Status;
using std::chrono::seconds;

class CardStatusCacheTest : public ::testing::Test {
 protected:
  CardStatusCache cache_{seconds(2), 4};
  CardStatusCache::Clock::time_point t0_ = CardStatusCache::Clock::now();
};

TEST_F(CardStatusCacheTest, AsksTheLedgerUntilTheFirstRefresh) {
  cache_.RememberIssued("A1", 2026);
  EXPECT_EQ(cache_.Lookup("A1", 2026, t0_), std::nullopt);
  cache_.ReplaceRevoked({}, 2025, 2027, t0_);
  EXPECT_EQ(cache_.Lookup("A1", 2026, t0_), Status::kActive);
  EXPECT_EQ(cache_.Lookup("B2", 2026, t0_), std::nullopt);  // never seen: only the ledger knows
}

TEST_F(CardStatusCacheTest, RevokedFromTheLedgerOrThisInstanceWins) {
  cache_.RememberIssued("A1", 2026);
  cache_.RememberIssued("A2", 2026);
  cache_.ReplaceRevoked({{"A1", 2026}}, 2025, 2027, t0_);
  EXPECT_EQ(cache_.Lookup("A1", 2026, t0_), Status::kRevoked);
  cache_.MarkRevoked("A2", 2026);
  EXPECT_EQ(cache_.Lookup("A2", 2026, t0_), Status::kRevoked);
  // A refresh whose query started before this instance's revocation does not undo it.
  cache_.ReplaceRevoked({{"A1", 2026}}, 2025, 2027, t0_ - seconds(1));
  EXPECT_EQ(cache_.Lookup("A2", 2026, t0_), Status::kRevoked);
}

TEST_F(CardStatusCacheTest, StaleAfterTheBoundAndFreshAgainAfterARefresh) {
  cache_.RememberIssued("A1", 2026);
  cache_.ReplaceRevoked({}, 2025, 2027, t0_);
  EXPECT_EQ(cache_.Lookup("A1", 2026, t0_ + seconds(2)), Status::kActive);
  EXPECT_EQ(cache_.Lookup("A1", 2026, t0_ + seconds(3)), std::nullopt);  // refreshes failed: ask the ledger
  cache_.ReplaceRevoked({}, 2025, 2027, t0_ + seconds(3));
  EXPECT_EQ(cache_.Lookup("A1", 2026, t0_ + seconds(3)), Status::kActive);
}

TEST_F(CardStatusCacheTest, YearsOutsideTheRefreshedRangeGoToTheLedger) {
  cache_.RememberIssued("A1", 2028);
  cache_.ReplaceRevoked({}, 2025, 2027, t0_);
  EXPECT_EQ(cache_.Lookup("A1", 2028, t0_), std::nullopt);
  EXPECT_EQ(cache_.Lookup("A1", 2024, t0_), std::nullopt);
}

TEST_F(CardStatusCacheTest, EndedCardYearsAreForgotten) {
  cache_.RememberIssued("OLD", 2025);
  cache_.ReplaceRevoked({{"OLDR", 2025}}, 2025, 2027, t0_);
  cache_.ReplaceRevoked({}, 2026, 2028, t0_);
  cache_.ReplaceRevoked({}, 2025, 2027, t0_);  // even if the range moved back, they are gone
  EXPECT_EQ(cache_.Lookup("OLD", 2025, t0_), std::nullopt);
  EXPECT_EQ(cache_.Lookup("OLDR", 2025, t0_), std::nullopt);
}

TEST_F(CardStatusCacheTest, KnownSerialsAreBounded) {
  cache_.ReplaceRevoked({}, 2025, 2027, t0_);
  for (int i = 0; i < 4; ++i) cache_.RememberIssued("S" + std::to_string(i), 2026);
  EXPECT_EQ(cache_.known_size(), 4u);
  cache_.RememberIssued("S4", 2026);  // over the bound: starts over
  EXPECT_EQ(cache_.known_size(), 1u);
  EXPECT_EQ(cache_.Lookup("S0", 2026, t0_), std::nullopt);
  EXPECT_EQ(cache_.Lookup("S4", 2026, t0_), Status::kActive);
}

TEST_F(CardStatusCacheTest, ConcurrentReadersAndWriters) {
  cache_.ReplaceRevoked({}, 2025, 2027, t0_);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string s = "C" + std::to_string(t) + "-" + std::to_string(i % 3);
        if (t % 2)
          cache_.MarkRevoked(s, 2026);
        else
          cache_.RememberIssued(s, 2026);
        (void)cache_.Lookup(s, 2026, t0_);
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(cache_.Lookup("C1-0", 2026, t0_), Status::kRevoked);
}

}  // namespace
}  // namespace lk::api::internal
