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

class LedgerLookupTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = std::make_unique<testing::Backend>(GetParam(), dir_.path());
    if (!backend_->available()) {
      const char* url = std::getenv("LK_TEST_POSTGRES_URL");
      if (url && *url) FAIL() << backend_->reason();
      GTEST_SKIP() << backend_->reason();
    }
    auto l = OpenLedger(backend_->options(), clock_);
    ASSERT_TRUE(l) << l.error().message;
    ledger_ = std::move(*l);
    for (int year : {2025, 2026}) {
      lk::testing::WriteText(dir_ / "roster.csv",
                             "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,"
                             "starter\nT1,An,Peeters,teaching,GO,basic,12345,2000,no\n"
                             "T2,Bo,Claes,support,OGO,secondary,23456,9000,no\n");
      ASSERT_TRUE(ledger_->imports().ImportRoster(dir_ / "roster.csv", year));
    }
    lk::testing::WriteText(dir_ / "library.csv", "staff_id,date\nT1,2026-01-10\n");
    ASSERT_TRUE(ledger_->imports().ImportChannel(Channel::kLibrary, dir_ / "library.csv", 2026));
  }

  lk::testing::TempDir dir_;
  FakeClock clock_{sys_days(2026y / February / 1) + 12h};
  std::unique_ptr<testing::Backend> backend_;
  std::unique_ptr<Ledger> ledger_;
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

INSTANTIATE_TEST_SUITE_P(Backends, LedgerLookupTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace lk::ledger
