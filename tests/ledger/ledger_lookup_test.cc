// The staff console's reads, on SQLite and on PostgreSQL ($LK_TEST_POSTGRES_URL; skipped with a
// message when unset): a staff member's cards found without issuing one, one card's audit trail,
// and the credentials without their secrets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ledger/ledger.h"
#include "tests/ledger/ledger_testing.h"
#include "tests/testing/testing.h"

namespace lk::ledger {
namespace {
using ::testing::ElementsAre;
using ::testing::Field;
using namespace std::chrono;

// T1 and T2 on the rosters of 2025 and 2026, T1 in the library channel of 2026.
class LedgerLookupTest : public testing::LedgerBackendTest {
 protected:
  void SetUp() override {
    LedgerBackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto roster = Write("roster.csv", std::string(testing::kRosterHeader) +
                                          "T1,An,Peeters,teaching,GO,basic,12345,2000,no\n"
                                          "T2,Bo,Claes,support,OGO,secondary,23456,9000,no\n");
    for (int year : {2025, 2026}) ASSERT_TRUE(ledger_->imports().ImportRoster(roster, year));
    ASSERT_TRUE(ledger_->imports().ImportChannel(
        Channel::kLibrary, Write("library.csv", "staff_id,date\nT1,2026-01-10\n"), 2026));
  }
};

TEST_P(LedgerLookupTest, CardsOfAStaffMemberAcrossYearsAndChannelsWithoutIssuingOne) {
  auto d2025 = ledger_->cards().IssueDigital("T1", 2025);
  auto d2026 = ledger_->cards().IssueDigital("T1", 2026);
  ASSERT_TRUE(d2025 && d2026);
  auto cards = ledger_->cards().FindCardsOfStaff(" T1 ");
  ASSERT_TRUE(cards) << cards.error().message;
  ASSERT_EQ(cards->size(), 3u);  // newest year first; in a year, by channel name
  EXPECT_EQ((*cards)[0].year, 2026);
  EXPECT_EQ((*cards)[0].channel, Channel::kDigital);
  EXPECT_EQ((*cards)[0].serial, d2026->serial);
  EXPECT_EQ((*cards)[1].channel, Channel::kLibrary);
  EXPECT_EQ((*cards)[2].serial, d2025->serial);
  EXPECT_EQ((*cards)[0].school, "12345");
  // On the roster without a card, and not on any roster: nothing, and nothing made.
  EXPECT_TRUE(ledger_->cards().FindCardsOfStaff("T2")->empty());
  EXPECT_TRUE(ledger_->cards().FindCardsOfStaff("NOBODY")->empty());
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM cards"), "3");
  EXPECT_EQ(ledger_->cards().FindCardsOfStaff("").error().code, Code::kInvalidArgument);
}

TEST_P(LedgerLookupTest, AuditTrailOfOneCardIsItsIssueItsClaimCodeAndItsRevocation) {
  lk::testing::WriteText(dir_ / "names.csv", "staff_id,first_name,last_name\nT2,Bo,Claes\n");
  ASSERT_TRUE(ledger_->access().CreateClaimCodes(dir_ / "names.csv", 2026, clock_.Now() + days(30)));
  auto card = ledger_->cards().IssueDigital("T2", 2026);
  ASSERT_TRUE(card);
  ASSERT_TRUE(ledger_->cards().Revoke(card->serial, "lost phone"));
  auto trail = ledger_->audit().EntriesOfCard(card->serial);
  ASSERT_TRUE(trail) << trail.error().message;
  EXPECT_THAT(*trail,
              ElementsAre(Field(&AuditEntry::action, "create claim codes"),
                          Field(&AuditEntry::action, "issue digital"), Field(&AuditEntry::action, "revoke")));
  EXPECT_THAT(trail->back().detail, ::testing::HasSubstr("lost phone"));
  EXPECT_LT(trail->front().seq, trail->back().seq);
  EXPECT_EQ(ledger_->audit().EntriesOfCard("NOSUCHSERIAL").error().code, Code::kNotFound);
}

TEST_P(LedgerLookupTest, CredentialsAreListedByKindAndNameWithoutSecrets) {
  auto a = ledger_->access().AddCredential(CredentialKind::kPartner, "Museum M");
  auto b = ledger_->access().AddCredential(CredentialKind::kStaff, "Analist");
  ASSERT_TRUE(a && b);
  auto list = ledger_->access().ListCredentials();
  ASSERT_TRUE(list) << list.error().message;
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "Analist");
  EXPECT_EQ((*list)[0].kind, CredentialKind::kStaff);
  EXPECT_EQ((*list)[1].name, "Museum M");
  EXPECT_EQ((*list)[1].created, clock_.Now());
}

LK_ON_EVERY_BACKEND(LedgerLookupTest);

}  // namespace
}  // namespace lk::ledger
