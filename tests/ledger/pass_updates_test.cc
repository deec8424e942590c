// Pass updates (ledger/pass_updates.h) on every backend: registrations, the changed-since feed,
// the push queue a revocation fills, batches leased by one pusher at a time, the journal that
// survives a crash, and registrations that outlive the process and are shared by two of them.
#include "ledger/pass_updates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "ledger/ledger.h"
#include "tests/ledger/ledger_testing.h"
#include "tests/testing/testing.h"

namespace lk::ledger {
namespace {
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using namespace std::chrono;

const std::string kTokenA(64, 'a'), kTokenB(64, 'b'), kTokenC(64, 'c');

// The small roster with a digital card each (serials_ in T1, T2, T3 order).
class PassUpdatesTest : public testing::LedgerBackendTest {
 protected:
  void SetUp() override {
    LedgerBackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ImportSmallRoster();
    for (const char* id : {"T1", "T2", "T3"}) {
      auto card = ledger_->cards().IssueDigital(id, 2026);
      ASSERT_TRUE(card.has_value()) << card.error().message;
      serials_.push_back(card->serial);
    }
  }
  PassUpdates& updates() { return ledger_->pass_updates(); }
  int64_t Tag(const std::string& serial) { return ledger_->cards().FindCard(serial)->update_tag; }

  std::vector<std::string> serials_;
};

TEST_P(PassUpdatesTest, RegisterTwiceUnregisterAndTheDeviceGoesWithItsLastPass) {
  auto first = updates().Register("device1", kTokenA, serials_[0]);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_TRUE(*first);                                                 // 201
  EXPECT_FALSE(*updates().Register("device1", kTokenA, serials_[0]));  // 200
  EXPECT_TRUE(*updates().Register("device1", kTokenB, serials_[1]));   // a new push token for the device
  EXPECT_EQ(*updates().RegistrationCount(), 2);
  EXPECT_EQ(backend_->Value("SELECT push_token FROM wallet_devices WHERE device_id = 'device1'"), kTokenB);
  auto unknown = updates().Register("device1", kTokenA, "NOSUCHCARD00");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, Code::kNotFound);

  EXPECT_TRUE(*updates().Unregister("device1", serials_[0]));
  EXPECT_FALSE(*updates().Unregister("device1", serials_[0]));  // already gone
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM wallet_devices"), "1");
  EXPECT_TRUE(*updates().Unregister("device1", serials_[1]));
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM wallet_devices"), "0");
}

TEST_P(PassUpdatesTest, APassTakesAtMostTenDevices) {
  for (int i = 0; i < kMaxDevicesPerPass; ++i)
    ASSERT_TRUE(updates().Register("d" + std::to_string(i), kTokenA, serials_[0]).has_value());
  auto refused = updates().Register("one-too-many", kTokenA, serials_[0]);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Code::kResourceExhausted);
  EXPECT_FALSE(*updates().Register("d3", kTokenA, serials_[0]));  // a registered device still answers 200
}

TEST_P(PassUpdatesTest, ChangedSinceFollowsRevocationsWithTotallyOrderedTags) {
  ASSERT_TRUE(updates().Register("device1", kTokenA, serials_[0]).has_value());
  ASSERT_TRUE(updates().Register("device1", kTokenA, serials_[1]).has_value());
  auto all = updates().UpdatedSince("device1", std::nullopt);
  ASSERT_TRUE(all.has_value()) << all.error().message;
  std::vector<std::string> both = {serials_[0], serials_[1]};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(all->serials, both);
  const int64_t tag = all->last_updated;
  EXPECT_EQ(tag, std::max(Tag(serials_[0]), Tag(serials_[1])));
  EXPECT_THAT(updates().UpdatedSince("device1", tag)->serials, IsEmpty());
  EXPECT_THAT(updates().UpdatedSince("nobody", std::nullopt)->serials, IsEmpty());

  clock_.Advance(minutes(5));
  ASSERT_TRUE(ledger_->cards().Revoke(serials_[1], "lost").has_value());
  auto changed = updates().UpdatedSince("device1", tag);
  EXPECT_THAT(changed->serials, ElementsAre(serials_[1]));
  EXPECT_GT(changed->last_updated, tag);
  EXPECT_THAT(updates().UpdatedSince("device1", changed->last_updated)->serials, IsEmpty());
  // The change's time is its audit entry's: Last-Modified.
  EXPECT_EQ(*updates().ChangedAt(changed->last_updated), clock_.Now());
  EXPECT_EQ(updates().ChangedAt(999999).error().code, Code::kNotFound);
  // A revocation queued a push; a card of another channel would not.
  EXPECT_EQ(*updates().PendingChanges(), 1);
}

// Moving a card to a new phone voids the old card's pass on the devices that registered it.
TEST_P(PassUpdatesTest, AMovedCardsOldPassIsListedAndQueuedForAPush) {
  ASSERT_TRUE(updates().Register("old-phone", kTokenA, serials_[0]).has_value());
  const int64_t tag = updates().UpdatedSince("old-phone", std::nullopt)->last_updated;
  clock_.Advance(minutes(5));
  auto moved = ledger_->cards().ReplaceDigital(serials_[0], "moved to a new device");
  ASSERT_TRUE(moved.has_value()) << moved.error().message;
  auto changed = updates().UpdatedSince("old-phone", tag);
  ASSERT_TRUE(changed.has_value());
  EXPECT_THAT(changed->serials, ElementsAre(serials_[0]));
  EXPECT_TRUE(ledger_->cards().FindCard(serials_[0])->revoked);
  EXPECT_EQ(*updates().PendingChanges(), 1);
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->ok) << v->problem;
}

TEST_P(PassUpdatesTest, ABatchIsLeasedToOnePusherAndItsJournalSurvivesACrash) {
  ASSERT_TRUE(updates().Register("phone", kTokenA, serials_[0]).has_value());
  ASSERT_TRUE(updates().Register("ipad", kTokenB, serials_[0]).has_value());
  ASSERT_TRUE(updates().Register("other", kTokenC, serials_[2]).has_value());
  EXPECT_FALSE(updates().ClaimPushBatch("p1", seconds(60))->has_value());  // nothing queued
  ASSERT_TRUE(ledger_->cards().Revoke(serials_[0], "lost").has_value());

  auto batch = updates().ClaimPushBatch("p1", seconds(60));
  ASSERT_TRUE(batch.has_value()) << batch.error().message;
  ASSERT_TRUE(batch->has_value());
  EXPECT_EQ((*batch)->changes, 1u);
  EXPECT_THAT((*batch)->tokens, ElementsAre(kTokenA, kTokenB));  // not the other pass's device
  EXPECT_THAT((*batch)->delivered, IsEmpty());
  EXPECT_EQ(*updates().PendingChanges(), 0);
  // Another pusher finds nothing while p1 holds the lease.
  EXPECT_FALSE(updates().ClaimPushBatch("p2", seconds(60))->has_value());
  const std::string delivered[] = {kTokenA};
  ASSERT_TRUE(updates().RecordDelivered((*batch)->id, delivered, "p1", seconds(60)).has_value());
  ASSERT_TRUE(
      updates().RecordDelivered((*batch)->id, delivered, "p1", seconds(60)).has_value());  // idempotent

  // p1 crashes. Its lease runs out; p2, in a process started afresh, takes the batch with its journal.
  ledger_.reset();
  ledger_ = Open();
  clock_.Advance(seconds(61));
  auto again = updates().ClaimPushBatch("p2", seconds(60));
  ASSERT_TRUE(again.has_value() && again->has_value());
  EXPECT_EQ((*again)->id, (*batch)->id);
  EXPECT_EQ((*again)->runs, 2);
  EXPECT_THAT((*again)->delivered, ElementsAre(kTokenA));
  EXPECT_THAT((*again)->tokens, ElementsAre(kTokenA, kTokenB));

  // Deferred: nobody takes it before its time, then anyone may.
  ASSERT_TRUE(updates().DeferPushBatch((*again)->id, clock_.Now() + seconds(30)).has_value());
  EXPECT_FALSE(updates().ClaimPushBatch("p2", seconds(60))->has_value());
  clock_.Advance(seconds(30));
  auto third = updates().ClaimPushBatch("p3", seconds(60));
  ASSERT_TRUE(third.has_value() && third->has_value());
  ASSERT_TRUE(updates().FinishPushBatch((*third)->id, {2, 2, 0, 0}).has_value());
  EXPECT_FALSE(updates().ClaimPushBatch("p3", seconds(60))->has_value());
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM wallet_push_deliveries"), "0");
  EXPECT_EQ(
      backend_->Value("SELECT delivered FROM wallet_push_batches WHERE id = " + std::to_string((*third)->id)),
      "2");
}

TEST_P(PassUpdatesTest, GoneTokensTakeTheirDevicesAndRegistrations) {
  ASSERT_TRUE(updates().Register("phone", kTokenA, serials_[0]).has_value());
  ASSERT_TRUE(updates().Register("phone", kTokenA, serials_[1]).has_value());
  ASSERT_TRUE(updates().Register("ipad", kTokenB, serials_[0]).has_value());
  const std::string gone[] = {kTokenA, std::string(64, 'f')};
  EXPECT_EQ(*updates().RemovePushTokens(gone), 1);
  EXPECT_EQ(*updates().RegistrationCount(), 1);
  EXPECT_THAT(updates().UpdatedSince("phone", std::nullopt)->serials, IsEmpty());
}

TEST_P(PassUpdatesTest, TwoLedgersOnOneDatabaseShareRegistrations) {
  auto other = Open();
  ASSERT_TRUE(other);
  ASSERT_TRUE(other->pass_updates().Register("phone", kTokenA, serials_[0]).has_value());
  EXPECT_THAT(updates().UpdatedSince("phone", std::nullopt)->serials, ElementsAre(serials_[0]));
  ASSERT_TRUE(other->cards().Revoke(serials_[0], "lost").has_value());  // say, the CLI
  auto batch = updates().ClaimPushBatch("service", seconds(60));
  ASSERT_TRUE(batch.has_value() && batch->has_value());
  EXPECT_THAT((*batch)->tokens, ElementsAre(kTokenA));
}

TEST_P(PassUpdatesTest, ReplacedTokensTakeANewTagQueueAPushAndKeepTheAuditChainWhole) {
  ASSERT_TRUE(ledger_->cards().Revoke(serials_[2], "left").has_value());
  ASSERT_TRUE(updates().Register("phone", kTokenA, serials_[0]).has_value());
  const int64_t before = Tag(serials_[0]), pending = *updates().PendingChanges();
  clock_.Advance(minutes(1));
  std::vector<std::pair<std::string, std::string>> tokens = {
      {serials_[0], "token.zero.new"}, {serials_[2], "token.two.new"}, {"NOSUCHCARD00", "x"}};
  auto n = updates().ReplaceTokens(tokens, clock_.Now());
  ASSERT_TRUE(n.has_value()) << n.error().message;
  EXPECT_EQ(*n, 1);  // the revoked and the unknown card are left alone
  auto card = ledger_->cards().FindCard(serials_[0]);
  EXPECT_EQ(card->token, "token.zero.new");
  EXPECT_GT(card->update_tag, before);
  EXPECT_EQ(ledger_->cards().FindCard(serials_[2])->token, "");
  EXPECT_EQ(*updates().PendingChanges(), pending + 1);
  EXPECT_THAT(updates().UpdatedSince("phone", before)->serials, ElementsAre(serials_[0]));
  auto verified = ledger_->audit().Verify();
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_TRUE(verified->ok) << verified->problem;
  // A tag changed behind the ledger's back is still caught.
  ASSERT_EQ(
      backend_->Sql("UPDATE cards SET update_tag = update_tag + 100 WHERE serial = '" + serials_[1] + "'"),
      "");
  EXPECT_FALSE(ledger_->audit().Verify()->ok);
}

LK_ON_EVERY_BACKEND(PassUpdatesTest);

}  // namespace
}  // namespace lk::ledger
