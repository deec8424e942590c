// The new card year in the same wallet entry (Cards::RenewDigital) on every backend: who is
// renewed and who keeps last year's card, counts per card year, the wallet entry (serial, access
// token, pass changes, the changed-since feed), the audit chain, idempotence, a run cut short,
// a second year in the same entry, and a signer that fails.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "ledger/ledger.h"
#include "tests/ledger/ledger_testing.h"
#include "tests/testing/testing.h"

namespace lk::ledger {
namespace {
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using namespace std::chrono;

const char* kRosterHeader =
    "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n";
const std::string kPush(64, 'a');

std::string Row(const std::string& id, const std::string& school = "12345") {
  return id + ",Voornaam,Achternaam,teaching,GO,basic," + school + ",2000,no\n";
}

class RenewalTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = std::make_unique<testing::Backend>(GetParam(), dir_.path());
    if (!backend_->available()) {
      const char* url = std::getenv("LK_TEST_POSTGRES_URL");
      if (url && *url) FAIL() << backend_->reason();
      GTEST_SKIP() << backend_->reason();
    }
    auto l = OpenLedger(backend_->options(), clock_);
    ASSERT_TRUE(l.has_value()) << l.error().message;
    ledger_ = std::move(*l);
    // 2026: T1..T5. T1-T3 claim a digital card, T4 a card revoked later, T5 none.
    Import(2026, {"T1", "T2", "T3", "T4", "T5"});
    for (const char* id : {"T1", "T2", "T3", "T4"}) {
      auto card = ledger_->cards().IssueDigital(id, 2026);
      ASSERT_TRUE(card.has_value()) << card.error().message;
      old_[id] = card->serial;
    }
    ASSERT_TRUE(ledger_->cards().Revoke(old_["T4"], "lost").has_value());
  }
  void Import(int year, const std::vector<std::string>& ids, const std::string& school = "12345") {
    std::string csv = kRosterHeader;
    for (const auto& id : ids) csv += Row(id, school);
    lk::testing::WriteText(dir_ / "roster.csv", csv);
    auto r = ledger_->imports().ImportRoster(dir_ / "roster.csv", year);
    ASSERT_TRUE(r.has_value()) << r.error().message;
  }
  // A stand-in signer: the token names the serial and year (signing is tested in signing/).
  TokenSigner Signer() {
    return [this](const std::string& serial, int year) -> Result<std::string> {
      ++signed_;
      return "tok." + serial + "." + std::to_string(year);
    };
  }
  std::map<std::string, int64_t> DigitalByYear() {
    std::map<std::string, int64_t> out;
    auto rows = ledger_->counts().Query({Period::kCalendar, Dimension::kNone});
    EXPECT_TRUE(rows.has_value());
    for (const auto& r : *rows) out[r.period] = r.digital;
    return out;
  }
  void ExpectIntact() {
    auto v = ledger_->audit().Verify();
    ASSERT_TRUE(v.has_value()) << v.error().message;
    EXPECT_TRUE(v->ok) << v->problem;
  }

  lk::testing::TempDir dir_;
  FakeClock clock_{sys_days(2027y / January / 2) + 9h};
  std::unique_ptr<testing::Backend> backend_;
  std::unique_ptr<Ledger> ledger_;
  std::map<std::string, std::string> old_;
  int signed_ = 0;
};

TEST_P(RenewalTest, HoldersOnNextYearsRosterGetItsCardInTheSameWalletEntry) {
  // T1 registered the 2026 pass on a phone.
  ASSERT_TRUE(ledger_->pass_updates().Register("phone1", kPush, old_["T1"]).has_value());
  auto seen = ledger_->pass_updates().UpdatedSince("phone1", std::nullopt);
  ASSERT_TRUE(seen.has_value());
  const int64_t tag_before = seen->last_updated;
  // 2027: T1, T2, T4 (revoked card), T5 (no card); T3 left. T2 claimed a 2027 card already.
  Import(2027, {"T1", "T2", "T4", "T5", "T6"});
  auto own = ledger_->cards().IssueDigital("T2", 2027);
  ASSERT_TRUE(own.has_value());
  auto status = ledger_->cards().RenewalStatus(2027);
  ASSERT_TRUE(status.has_value()) << status.error().message;
  EXPECT_EQ(status->to_renew, 1);       // T1
  EXPECT_EQ(status->own_card, 1);       // T2
  EXPECT_EQ(status->not_on_roster, 1);  // T3
  EXPECT_EQ(status->renewed, 0);
  EXPECT_EQ(DigitalByYear(), (std::map<std::string, int64_t>{{"2026", 3}, {"2027", 1}}));

  const Time at = clock_.Now();
  auto renewed = ledger_->cards().RenewDigital(2027, 100, Signer(), at);
  ASSERT_TRUE(renewed.has_value()) << renewed.error().message;
  ASSERT_EQ(renewed->size(), 1u);
  const Card& fresh = renewed->front();
  EXPECT_NE(fresh.serial, old_["T1"]);
  EXPECT_EQ(fresh.year, 2027);
  EXPECT_EQ(fresh.wallet_serial, old_["T1"]);
  EXPECT_EQ(fresh.token, "tok." + fresh.serial + ".2027");

  // The new card as stored: its own card of 2027 in the 2026 card's wallet entry, same secret.
  auto stored = ledger_->cards().FindCard(fresh.serial);
  ASSERT_TRUE(stored.has_value());
  auto earlier = ledger_->cards().FindCard(old_["T1"]);
  ASSERT_TRUE(earlier.has_value());
  EXPECT_EQ(stored->year, 2027);
  EXPECT_EQ(stored->wallet_serial, old_["T1"]);
  EXPECT_EQ(PassSerial(*stored), old_["T1"]);
  EXPECT_EQ(stored->auth_token, earlier->auth_token);
  EXPECT_EQ(stored->token, fresh.token);
  EXPECT_TRUE(stored->renewed_by.empty());
  EXPECT_FALSE(earlier->revoked);  // the 2026 card stays valid until it expires
  EXPECT_EQ(earlier->renewed_by, fresh.serial);
  EXPECT_EQ(earlier->token, "");  // untouched

  // Counts: the 2027 card counts in 2027, the 2026 cards stay in 2026.
  EXPECT_EQ(DigitalByYear(), (std::map<std::string, int64_t>{{"2026", 3}, {"2027", 2}}));
  // The wallet entry changed: the phone is told (the queue names the entry) and lists it.
  EXPECT_EQ(backend_->Value("SELECT serial FROM wallet_changes ORDER BY id DESC LIMIT 1"), old_["T1"]);
  auto changed = ledger_->pass_updates().UpdatedSince("phone1", tag_before);
  ASSERT_TRUE(changed.has_value());
  EXPECT_THAT(changed->serials, ElementsAre(old_["T1"]));
  EXPECT_EQ(changed->last_updated, fresh.update_tag);
  EXPECT_THAT(ledger_->pass_updates().UpdatedSince("phone1", fresh.update_tag)->serials, IsEmpty());
  // The audit chain records it, and verify recounts every aggregate.
  auto entries = ledger_->audit().EntriesOfCard(fresh.serial);
  ASSERT_TRUE(entries.has_value());
  ASSERT_FALSE(entries->empty());
  EXPECT_EQ(entries->back().action, "renew digital");
  EXPECT_THAT(entries->back().detail,
              ::testing::HasSubstr(old_["T1"] + ">" + old_["T1"] + ">" + fresh.serial));
  ExpectIntact();

  // Idempotent: nothing is left, nothing written, nothing signed.
  const int signed_once = signed_;
  const std::string head = backend_->Value("SELECT seq FROM audit_head");
  auto again = ledger_->cards().RenewDigital(2027, 100, Signer(), at);
  ASSERT_TRUE(again.has_value());
  EXPECT_THAT(*again, IsEmpty());
  EXPECT_EQ(signed_, signed_once);
  EXPECT_EQ(backend_->Value("SELECT seq FROM audit_head"), head);
  status = ledger_->cards().RenewalStatus(2027);
  EXPECT_EQ(status->to_renew, 0);
  EXPECT_EQ(status->renewed, 1);
  // Someone who joins the 2027 roster later is renewed by the next run.
}

TEST_P(RenewalTest, BatchesResumeAndASecondYearKeepsTheFirstEntry) {
  Import(2027, {"T1", "T2", "T3"});
  auto first = ledger_->cards().RenewDigital(2027, 2, Signer(), clock_.Now());  // a run cut short
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->size(), 2u);
  // A fresh process (the ledger reopened) finishes the rest.
  ledger_.reset();
  auto l = OpenLedger(backend_->options(), clock_);
  ASSERT_TRUE(l.has_value());
  ledger_ = std::move(*l);
  auto rest = ledger_->cards().RenewDigital(2027, 2, Signer(), clock_.Now());
  ASSERT_TRUE(rest.has_value());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_THAT(*ledger_->cards().RenewDigital(2027, 2, Signer(), clock_.Now()), IsEmpty());
  EXPECT_EQ(DigitalByYear(), (std::map<std::string, int64_t>{{"2026", 3}, {"2027", 3}}));

  // 2028: the 2027 card of T1 renews into the entry of the 2026 card again.
  clock_.Advance(hours(24 * 365));
  Import(2028, {"T1"});
  std::string serial2027;
  for (const auto& c : *first)
    if (c.wallet_serial == old_["T1"]) serial2027 = c.serial;
  for (const auto& c : *rest)
    if (c.wallet_serial == old_["T1"]) serial2027 = c.serial;
  ASSERT_FALSE(serial2027.empty());
  auto y2028 = ledger_->cards().RenewDigital(2028, 10, Signer(), clock_.Now());
  ASSERT_TRUE(y2028.has_value()) << y2028.error().message;
  ASSERT_EQ(y2028->size(), 1u);
  EXPECT_EQ(y2028->front().wallet_serial, old_["T1"]);
  EXPECT_EQ(ledger_->cards().FindCard(old_["T1"])->renewed_by, y2028->front().serial);
  EXPECT_EQ(ledger_->cards().FindCard(serial2027)->renewed_by, y2028->front().serial);
  // The whole year's listing says which cards left the wallets.
  int renewed_2027 = 0;
  ASSERT_TRUE(ledger_->cards()
                  .ForEachDigitalCard(2027, [&](const Card& c) { renewed_2027 += !c.renewed_by.empty(); })
                  .has_value());
  EXPECT_EQ(renewed_2027, 1);
  ExpectIntact();
}

TEST_P(RenewalTest, VerifyNamesAWalletEntryChangedBehindTheLedgersBack) {
  Import(2027, {"T1", "T2"});
  auto renewed = ledger_->cards().RenewDigital(2027, 10, Signer(), clock_.Now());
  ASSERT_TRUE(renewed.has_value() && renewed->size() == 2u);
  ExpectIntact();
  const std::string moved = renewed->front().serial, other = renewed->back().wallet_serial;
  ASSERT_EQ(backend_->Sql("UPDATE cards SET wallet_serial = '" + other + "' WHERE serial = '" + moved + "'"),
            "");
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->bad_card, moved);
  EXPECT_THAT(v->problem, ::testing::HasSubstr("is in the wallet entry of " + other));
  ASSERT_EQ(backend_->Sql("UPDATE cards SET wallet_serial = NULL WHERE serial = '" + moved + "'"), "");
  v = ledger_->audit().Verify();
  EXPECT_FALSE(v->ok);
  EXPECT_THAT(v->problem, ::testing::HasSubstr("card " + moved + " lost the wallet entry"));
}

TEST_P(RenewalTest, ASignerThatFailsWritesNothing) {
  Import(2027, {"T1", "T2"});
  const std::string head = backend_->Value("SELECT seq FROM audit_head");
  auto failed = ledger_->cards().RenewDigital(
      2027, 10,
      [](const std::string&, int) -> Result<std::string> { return Fail(Code::kInvalidArgument, "no key"); },
      clock_.Now());
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().message, "no key");
  EXPECT_EQ(backend_->Value("SELECT seq FROM audit_head"), head);
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM cards WHERE wallet_serial IS NOT NULL"), "0");
  EXPECT_EQ(ledger_->cards().RenewalStatus(2027)->to_renew, 2);
  ExpectIntact();
}

INSTANTIATE_TEST_SUITE_P(Backends, RenewalTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace lk::ledger
