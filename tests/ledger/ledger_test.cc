// One suite, every backend: each test runs unchanged against SQLite (a temp file) and
// PostgreSQL (a fresh schema on $LK_TEST_POSTGRES_URL; skipped with a message when unset).
#include "ledger/ledger.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>
#include <tuple>

#include "tests/ledger/ledger_testing.h"
#include "tests/testing/testing.h"

namespace lk::ledger {
namespace {
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace std::chrono;

using testing::kRosterHeader;

class LedgerTest : public testing::LedgerBackendTest {
 protected:
  // `ledger verify` passes: the audit chain, every card against its audit entry, and both
  // aggregates against a recount.
  void ExpectVerified(const std::string& step) {
    auto v = ledger_->audit().Verify();
    ASSERT_TRUE(v.has_value()) << step << ": " << v.error().message;
    EXPECT_TRUE(v->ok) << step << ": " << v->problem;
  }
  int64_t Total(Channel ch, int year) {
    auto rows = ledger_->counts().Query({Period::kCalendar, Dimension::kNone, year, year});
    EXPECT_TRUE(rows.has_value());
    if (!rows || rows->empty()) return 0;
    auto& r = rows->front();
    switch (ch) {
      case Channel::kDigital:
        return r.digital;
      case Channel::kSubscription:
        return r.subscription;
      case Channel::kStarter:
        return r.starter;
      case Channel::kLibrary:
        return r.library;
    }
    return 0;
  }
};

// A command that must not start a ledger (create_if_missing = false) opens an existing one and
// refuses a place without one, creating nothing there.
TEST_P(LedgerTest, OpeningWithoutCreateRefusesAPlaceWithoutALedger) {
  LedgerOptions existing = backend_->options();
  existing.create_if_missing = false;
  EXPECT_TRUE(OpenLedger(existing, clock_).has_value());

  std::filesystem::create_directories(dir_ / "other");
  testing::Backend empty(GetParam(), dir_ / "other");
  ASSERT_TRUE(empty.available()) << empty.reason();
  LedgerOptions o = empty.options();
  o.create_if_missing = false;
  auto refused = OpenLedger(o, clock_);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("no ledger"));
  EXPECT_THAT(refused.error().message, HasSubstr("not by this command"));
  if (GetParam() == "sqlite") {
    EXPECT_THAT(refused.error().message, HasSubstr(empty.url()));
    EXPECT_FALSE(std::filesystem::exists(empty.url()));
  } else {
    EXPECT_EQ(
        empty.Value("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"),
        "0");
  }
}

TEST_P(LedgerTest, ReimportAddsNothing) {
  ImportSmallRoster();
  auto again = ledger_->imports().ImportRoster(dir_ / "roster.csv", 2026);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->rows, 3u);
  EXPECT_EQ(again->added, 0u);
  EXPECT_EQ(again->present, 3u);
  auto subs = Write("subs.csv", "staff_id,date\nT1,2026-01-05\nT2,2025-12-20\n");
  auto first = ledger_->imports().ImportChannel(Channel::kSubscription, subs, 2026);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->added, 2u);
  auto second = ledger_->imports().ImportChannel(Channel::kSubscription, subs, 2026);
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(second->added, 0u);
  EXPECT_EQ(second->present, 2u);
  EXPECT_EQ(Total(Channel::kSubscription, 2026), 2);
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->ok) << v->problem;
  EXPECT_EQ(v->entries, 2);  // roster + subscriptions; re-imports change nothing and log nothing
}

// A holder whose card of the channel was revoked still holds it (one card per channel and card
// year): a later file naming them adds nothing for them, also when the card year holds no active
// card of that channel any more (PostgreSQL then still anti-joins the staged rows to its cards).
TEST_P(LedgerTest, ImportNextToRevokedCardsAddsOnlyNewHolders) {
  ImportSmallRoster();
  auto first = ledger_->imports().ImportChannel(Channel::kLibrary,
                                                Write("l1.csv", "staff_id,date\nT1,2026-03-01\n"), 2026);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  ASSERT_EQ(first->added, 1u);
  const std::string serial = backend_->Value("SELECT serial FROM cards WHERE channel = 'library'");
  ASSERT_TRUE(ledger_->cards().Revoke(serial, "lost").has_value());
  ASSERT_EQ(Total(Channel::kLibrary, 2026), 0);
  auto second = ledger_->imports().ImportChannel(
      Channel::kLibrary, Write("l2.csv", "staff_id,date\nT1,2026-04-01\nT2,2026-04-02\n"), 2026);
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(second->added, 1u);
  EXPECT_EQ(second->present, 1u);
  EXPECT_EQ(Total(Channel::kLibrary, 2026), 1);
  EXPECT_EQ(backend_->Value("SELECT status FROM cards WHERE serial = '" + serial + "'"), "revoked");
  ExpectVerified("after the second file");
}

TEST_P(LedgerTest, BadRosterImportsNothingAndListsEveryBadRow) {
  auto f = Write("roster.csv",
                 std::string(kRosterHeader) +
                     "T1,An,Peeters,teaching,GO,basic,12345,2000,no\n"
                     "T2,Bert,Janssens,teacher,GO,basic,12345,2000,no\n"  // line 3: role
                     "T3,Cas,Maes,teaching,GO,basic,12345\n"              // line 4: fields
                     "T4,Dirk,Dams,teaching,GO,basic,12345,0999,maybe\n"  // line 5: postcode, starter
                     "T1,An,Peeters,teaching,GO,basic,12345,2000,no\n"    // line 6: duplicate
                     "T6,Eva,Engels,support,XGO,basic,12a,2000,no\n");    // line 7: network, school
  auto r = ledger_->imports().ImportRoster(f, 2026);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  const std::string& m = r.error().message;
  std::string file = f.string();
  EXPECT_THAT(m, HasSubstr("7 bad rows; nothing was imported"));
  EXPECT_THAT(m, HasSubstr(file + ":3:4 (role): 'teacher' is not one of administrative|teaching|support"));
  EXPECT_THAT(m, HasSubstr(file + ":4: has 7 fields, the header has 9"));
  EXPECT_THAT(m, HasSubstr(file + ":5:8 (school_postcode): '0999' is not a Belgian postcode"));
  EXPECT_THAT(m, HasSubstr(file + ":5:9 (starter): 'maybe' is not yes or no"));
  EXPECT_THAT(m, HasSubstr(file + ":6:1 (staff_id): the same staff member is already on line 2"));
  EXPECT_THAT(m, HasSubstr(file + ":7:5 (network): 'XGO' is not one of GO|OGO|VGO"));
  EXPECT_THAT(m, HasSubstr(file + ":7:7 (school_number): '12a' is not a school number"));
  auto rows = ledger_->counts().Query({Period::kCalendar, Dimension::kNone, 0, 0});
  ASSERT_TRUE(rows.has_value());
  EXPECT_TRUE(rows->empty()) << "the good row must not have been imported";
}

TEST_P(LedgerTest, BadChannelFileImportsNothingAndListsUnknownStaffToo) {
  ImportSmallRoster();
  auto f = Write("library.csv",
                 "staff_id,date,branch\n"
                 "T1,2026-03-01,Gent\n"
                 "T9,2026-03-02,Gent\n"    // line 3: not on roster
                 "T2,2026-02-30,Gent\n"    // line 4: no such date
                 "T3,2031-01-01,Gent\n"    // line 5: far from the card year
                 "T8,2026-03-03,Gent\n");  // line 6: not on roster
  auto r = ledger_->imports().ImportChannel(Channel::kLibrary, f, 2026);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  std::string file = f.string();
  EXPECT_THAT(r.error().message, HasSubstr("4 bad rows"));
  EXPECT_THAT(r.error().message,
              HasSubstr(file + ":3:1 (staff_id): this staff member is not on the roster of card year 2026"));
  EXPECT_THAT(r.error().message, HasSubstr(file + ":4:2 (date): '2026-02-30' is not an ISO date"));
  EXPECT_THAT(r.error().message, HasSubstr(file + ":5:2 (date): 2031-01-01 is more than a year away"));
  EXPECT_THAT(r.error().message, HasSubstr(file + ":6:1 (staff_id): this staff member is not on the roster"));
  EXPECT_EQ(Total(Channel::kLibrary, 2026), 0);
}

// The same staff member twice in a channel file: every later line is a bad row naming the first,
// also when the lines are far apart and not in staff-key order (and with a staff member not on
// the roster in between).
TEST_P(LedgerTest, ChannelFileNamingSomeoneTwiceImportsNothing) {
  ImportSmallRoster();
  auto f = Write("starters.csv",
                 "date;staff_id\n"
                 "2026-03-01;T3\n"
                 "2026-03-02;T1\n"
                 "2026-03-03;T9\n"    // line 4: not on roster
                 "2026-03-04; T3 \n"  // line 5: T3 again (trimmed)
                 "2026-03-05;T2\n"
                 "2026-03-06;T3\n"    // line 7: T3 a third time
                 "2026-03-07;T1\n");  // line 8: T1 again
  auto r = ledger_->imports().ImportChannel(Channel::kStarter, f, 2026);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  const std::string file = f.string(), m = r.error().message;
  EXPECT_THAT(m, HasSubstr("4 bad rows"));
  EXPECT_THAT(m,
              HasSubstr(file + ":4:2 (staff_id): this staff member is not on the roster of card year 2026"));
  EXPECT_THAT(m, HasSubstr(file + ":5:2 (staff_id): the same staff member is already on line 2"));
  EXPECT_THAT(m, HasSubstr(file + ":7:2 (staff_id): the same staff member is already on line 2"));
  EXPECT_THAT(m, HasSubstr(file + ":8:2 (staff_id): the same staff member is already on line 3"));
  EXPECT_LT(m.find(file + ":4:"), m.find(file + ":5:"));  // in line order
  EXPECT_LT(m.find(file + ":7:"), m.find(file + ":8:"));
  EXPECT_EQ(Total(Channel::kStarter, 2026), 0);
}

TEST_P(LedgerTest, ChannelImportWithoutRosterNamesTheFix) {
  auto f = Write("starters.csv", "staff_id,date\nT1,2026-01-05\n");
  auto r = ledger_->imports().ImportChannel(Channel::kStarter, f, 2026);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kFailedPrecondition);
  EXPECT_THAT(r.error().message, HasSubstr("no roster for card year 2026"));
}

TEST_P(LedgerTest, SemicolonsBomCrlfAndQuotedFields) {
  auto f = Write(
      "roster.csv",
      "\xEF\xBB\xBFstaff_id;first_name;last_name;role;network;level;school_number;school_postcode;starter\r\n"
      "T1;\"An; Marie\";\"Peeters \"\"de jonge\"\"\";teaching;GO;basic;12345;2000;no\r\n"
      "T2;Bert;\"Jan\r\nssens\";support;OGO;secondary;23456;3500;YES\r\n"
      "\r\n");
  auto r = ledger_->imports().ImportRoster(f, 2026);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->added, 2u);
  auto subs = Write("subs.csv", "\xEF\xBB\xBF\"staff_id\";\"date\"\n\"T2\";\"2026-01-02\"\n");
  auto s = ledger_->imports().ImportChannel(Channel::kSubscription, subs, 2026);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->added, 1u);
  auto rows = ledger_->counts().Query({Period::kCalendar, Dimension::kProvince, 2026, 2026});
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows->at(0).group, "Antwerpen");
  EXPECT_EQ(rows->at(1).group, "Limburg");
  EXPECT_EQ(rows->at(1).subscription, 1);
}

TEST_P(LedgerTest, UnterminatedQuoteIsABadRow) {
  auto f =
      Write("roster.csv", std::string(kRosterHeader) + "T1,\"An,Peeters,teaching,GO,basic,12345,2000,no\n");
  auto r = ledger_->imports().ImportRoster(f, 2026);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr(f.string() + ":2:2 (first_name): quoted field is never closed"));
}

// A refused import says the same as data: every bad row with its line, column, column name, key
// and values, in line order, each the sentence its message line ends in.
TEST_P(LedgerTest, BadRowsAreDataWithKeysLinesAndColumns) {
  auto f = Write("roster.csv",
                 std::string(kRosterHeader) +
                     "T1,An,Peeters,teaching,GO,basic,12345,2000,no\n"
                     "T2,Bert,Janssens,teacher,GO,basic,12345,2000,no\n"  // line 3: role
                     "T3,Cas,Maes,teaching,GO,basic,12345\n"              // line 4: fields
                     "T4,Dirk,Dams,teaching,GO,basic,12345,0999,maybe\n"  // line 5: postcode, starter
                     "T1,An,Peeters,teaching,GO,basic,12345,2000,no\n");  // line 6: duplicate
  auto r = ledger_->imports().ImportRoster(f, 2026);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  const ImportRefused* refused = ImportRefusedOf(r.error());
  ASSERT_NE(refused, nullptr) << r.error().message;
  EXPECT_EQ(refused->file, f.string());
  EXPECT_FALSE(refused->whole_file);
  using Row = std::tuple<int, int, std::string, std::string, std::vector<ImportValue>>;
  std::vector<Row> rows;
  for (const ImportProblem& p : refused->problems) {
    rows.emplace_back(p.line, p.column, p.column_name, p.key, p.values);
    std::string where = f.string() + ":" + std::to_string(p.line) +
                        (p.column ? ":" + std::to_string(p.column) + " (" + p.column_name + ")" : "");
    EXPECT_THAT(r.error().message + "\n", HasSubstr("\n  " + where + ": " + p.text + "\n")) << p.key;
  }
  EXPECT_EQ(rows, (std::vector<Row>{
                      {3, 4, "role", "role", {{"value", "teacher"}}},
                      {4, 0, "", "field_count", {{"fields", "7"}, {"header_fields", "9"}}},
                      {5, 8, "school_postcode", "postcode", {{"value", "0999"}}},
                      {5, 9, "starter", "starter", {{"value", "maybe"}}},
                      {6, 1, "staff_id", "duplicate_staff", {{"line", "2"}}},
                  }));
  // The message is the CLI's, byte for byte.
  const std::string file = f.string();
  EXPECT_EQ(r.error().message + "\n",
            file + ": 5 bad rows; nothing was imported\n" +                                               //
                "  " + file + ":3:4 (role): 'teacher' is not one of administrative|teaching|support\n" +  //
                "  " + file + ":4: has 7 fields, the header has 9\n" +                                    //
                "  " + file +
                ":5:8 (school_postcode): '0999' is not a Belgian postcode (4 digits, 1000-9999)\n" + "  " +
                file + ":5:9 (starter): 'maybe' is not yes or no\n" +  //
                "  " + file + ":6:1 (staff_id): the same staff member is already on line 2\n");
  // Every key has its English sentence.
  for (std::string_view key : ImportProblemKeys()) EXPECT_FALSE(ImportProblemEnglish(key).empty()) << key;
}

// Whole-file refusals carry one problem each; a quote never closed is a bad row at its field;
// staff not on the roster and a channel file before its roster are data too.
TEST_P(LedgerTest, FileRefusalsAreDataToo) {
  auto key_of = [](const Result<ImportSummary>& r) -> std::tuple<bool, int, int, std::string> {
    if (r) return {};
    const ImportRefused* refused = ImportRefusedOf(r.error());
    if (!refused || refused->problems.empty()) return {false, -1, -1, "(no detail) " + r.error().message};
    const ImportProblem& p = refused->problems.front();
    return {refused->whole_file, p.line, p.column, p.key};
  };
  using K = std::tuple<bool, int, int, std::string>;
  auto empty = ledger_->imports().ImportRoster(Write("a.csv", "\n\n"), 2026);
  EXPECT_EQ(key_of(empty), (K{true, 1, 0, "empty_file"}));
  auto missing =
      ledger_->imports().ImportChannel(Channel::kStarter, Write("b.csv", "staff,day\nT1,x\n"), 2026);
  EXPECT_EQ(key_of(missing), (K{true, 1, 0, "missing_columns"}));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(ImportRefusedOf(missing.error())->problems.front().values,
            (std::vector<ImportValue>{{"missing", "'staff_id', 'date'"}, {"expected", "staff_id,date"}}));
  EXPECT_THAT(missing.error().message, HasSubstr("b.csv:1: the header lacks column 'staff_id', 'date'"));
  auto no_roster = ledger_->imports().ImportChannel(Channel::kStarter,
                                                    Write("c.csv", "staff_id,date\nT1,2026-01-05\n"), 2026);
  EXPECT_EQ(key_of(no_roster), (K{true, 0, 0, "no_roster"}));
  ASSERT_FALSE(no_roster.has_value());
  EXPECT_EQ(no_roster.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(
      no_roster.error().message,
      "there is no roster for card year 2026; import it first (lerarenkaart import roster FILE --year 2026)");
  auto quote = ledger_->imports().ImportRoster(
      Write("d.csv", std::string(kRosterHeader) + "T1,\"An,Peeters,teaching,GO,basic,12345,2000,no\n"), 2026);
  EXPECT_EQ(key_of(quote), (K{false, 2, 2, "unclosed_quote"}));
  auto no_rows = ledger_->imports().ImportPublished(Write(
      "e.csv",
      "calendar_year,eligible_staff,sent_to_subscribers,sent_to_starters,picked_up_at_library,holders_total,"
      "published_share\n"));
  EXPECT_EQ(key_of(no_rows), (K{true, 0, 0, "no_data_rows"}));
  ImportSmallRoster();
  auto unknown = ledger_->imports().ImportChannel(Channel::kLibrary,
                                                  Write("f.csv", "date,staff_id\n2026-03-01,T9\n"), 2026);
  EXPECT_EQ(key_of(unknown), (K{false, 2, 2, "not_on_roster"}));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(ImportRefusedOf(unknown.error())->problems.front().values,
            (std::vector<ImportValue>{{"year", "2026"}}));
  EXPECT_EQ(ImportRefusedOf(unknown.error())->problems.front().column_name, "staff_id");
}

TEST_P(LedgerTest, IssuingTwiceReturnsTheSameDigitalCard) {
  ImportSmallRoster();
  auto a = ledger_->cards().IssueDigital("T1", 2026);
  ASSERT_TRUE(a.has_value()) << a.error().message;
  EXPECT_TRUE(a->is_new);
  EXPECT_EQ(a->serial.size(), 12u);
  EXPECT_GE(a->auth_token.size(), 16u);
  auto b = ledger_->cards().IssueDigital("T1", 2026);
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(b->is_new);
  EXPECT_EQ(b->serial, a->serial);
  EXPECT_EQ(b->auth_token, a->auth_token);
  auto none = ledger_->cards().IssueDigital("T9", 2026);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, Code::kNotFound);
  // A physical card does not stop a digital one: cards and holders are different counts.
  auto subs = Write("subs.csv", "staff_id,date\nT1,2026-01-05\n");
  ASSERT_TRUE(ledger_->imports().ImportChannel(Channel::kSubscription, subs, 2026).has_value());
  auto rows = ledger_->counts().Query({Period::kCalendar, Dimension::kNone, 2026, 2026});
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0).digital + rows->at(0).subscription, 2);
  EXPECT_EQ(rows->at(0).holders, 1);
  EXPECT_EQ(rows->at(0).both, 1);
}

TEST_P(LedgerTest, ConcurrentIssuingFromTwoThreadsGivesOneCard) {
  ImportSmallRoster();
  auto other = Open();
  ASSERT_TRUE(other);
  constexpr int kRounds = 10;
  std::vector<std::string> serials[2];
  int fresh[2] = {0, 0};
  std::barrier sync(2);
  auto work = [&](int t, Ledger* l) {
    for (int i = 0; i < kRounds; ++i) {
      sync.arrive_and_wait();
      auto c = l->cards().IssueDigital("T" + std::to_string(1 + i % 3), 2026 - (i / 3 % 2));
      if (c)
        serials[t].push_back(c->serial + (c->is_new ? "+" : ""));
      else
        serials[t].push_back("error: " + c.error().message);
    }
  };
  // 2025 has no roster: those rounds must fail the same way in both threads.
  std::thread t0(work, 0, ledger_.get()), t1(work, 1, other.get());
  t0.join();
  t1.join();
  std::set<std::string> distinct;
  for (int i = 0; i < kRounds; ++i) {
    std::string a = serials[0][static_cast<size_t>(i)], b = serials[1][static_cast<size_t>(i)];
    if (a.starts_with("error")) {
      EXPECT_THAT(a, HasSubstr("not on the roster"));
      EXPECT_THAT(b, HasSubstr("not on the roster"));
      continue;
    }
    fresh[0] += a.ends_with("+");
    fresh[1] += b.ends_with("+");
    if (a.ends_with("+")) a.pop_back();
    if (b.ends_with("+")) b.pop_back();
    EXPECT_EQ(a, b) << "round " << i;
    distinct.insert(a);
  }
  EXPECT_EQ(distinct.size(), 3u);
  EXPECT_EQ(fresh[0] + fresh[1], 3) << "each card must be new exactly once";
  EXPECT_EQ(Total(Channel::kDigital, 2026), 3);
}

TEST_P(LedgerTest, ConcurrentIssuingFromTwoProcessesGivesOneCard) {
  ImportSmallRoster();
  std::vector<std::string> argv = {lk::testing::Binary(),
                                   "--data-dir",
                                   dir_.path().string(),
                                   "ledger",
                                   "issue",
                                   "--staff-id",
                                   "T2",
                                   "--year",
                                   "2026",
                                   "--ledger",
                                   backend_->url()};
  lk::testing::RunResult out[2];
  std::thread a([&] { out[0] = lk::testing::RunProgram(argv); }),
      b([&] { out[1] = lk::testing::RunProgram(argv); });
  a.join();
  b.join();
  ASSERT_EQ(out[0].exit_code, 0) << out[0].err;
  ASSERT_EQ(out[1].exit_code, 0) << out[1].err;
  auto serial = [](const std::string& s) { return s.substr(0, s.find(" year")); };
  EXPECT_EQ(serial(out[0].out), serial(out[1].out));
  int news = (out[0].out.find(" new") != std::string::npos) + (out[1].out.find(" new") != std::string::npos);
  EXPECT_EQ(news, 1) << out[0].out << out[1].out;
  EXPECT_EQ(Total(Channel::kDigital, 2026), 1);
}

TEST_P(LedgerTest, CliImportPrintsASummaryAndListsBadRows) {
  auto roster =
      Write("roster.csv", std::string(kRosterHeader) + "T1,An,Peeters,teaching,GO,basic,12345,2000,no\n");
  auto cli = [&](const std::string& kind, const std::filesystem::path& f) {
    return lk::testing::RunProgram({lk::testing::Binary(), "--data-dir", dir_.path().string(), "import", kind,
                                    f.string(), "--year", "2026", "--ledger", backend_->url()});
  };
  auto ok = cli("roster", roster);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, roster.string() + ": 1 rows read, 1 roster entries added, 0 already present\n");
  EXPECT_EQ(ok.err, "") << "no progress bar when stderr is not a terminal";
  auto bad = cli("starters", Write("s.csv", "staff_id;date\nT1;2026-01-01\nT2;2026-01-01\nT1;yesterday\n"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err,
              HasSubstr("s.csv:3:1 (staff_id): this staff member is not on the roster of card year 2026"));
  EXPECT_THAT(bad.err, HasSubstr("s.csv:4:2 (date): 'yesterday' is not an ISO date"));
  auto good = cli("starters", Write("s2.csv", "staff_id;date\nT1;2026-01-01\n"));
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_THAT(good.out, HasSubstr("1 rows read, 1 cards added, 0 already present"));
  auto again = cli("starters", dir_ / "s2.csv");
  EXPECT_THAT(again.out, HasSubstr("1 rows read, 0 cards added, 1 already present"));
}

TEST_P(LedgerTest, RevokedCardsAreNotCounted) {
  ImportSmallRoster();
  auto c = ledger_->cards().IssueDigital("T3", 2026);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(ledger_->cards().FindCard(c->serial)->revoked_at.has_value());
  const Time revoked_at = clock_.Now();
  ASSERT_TRUE(ledger_->cards().Revoke(c->serial, "lost phone").has_value());
  clock_.Advance(std::chrono::hours(1));
  // The revocation time, which a revoked card's Apple pass expires at.
  auto found = ledger_->cards().FindCard(c->serial);
  ASSERT_TRUE(found.has_value()) << found.error().message;
  ASSERT_TRUE(found->revoked_at.has_value());
  EXPECT_EQ(*found->revoked_at, std::chrono::floor<std::chrono::seconds>(revoked_at));
  auto again = ledger_->cards().Revoke(c->serial, "lost phone");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(ledger_->cards().Revoke("NOSUCHSERIAL", "x").error().code, Code::kNotFound);
  EXPECT_EQ(Total(Channel::kDigital, 2026), 0);
  auto same = ledger_->cards().IssueDigital("T3", 2026);
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->serial, c->serial);
  EXPECT_TRUE(same->revoked);
  EXPECT_GT(same->update_tag, c->update_tag);
  EXPECT_TRUE(ledger_->audit().Verify()->ok);
}

class AuditTamperTest : public LedgerTest {
 protected:
  void MakeHistory() {
    ImportSmallRoster();
    ASSERT_TRUE(ledger_->cards().IssueDigital("T1", 2026).has_value());
    ASSERT_TRUE(ledger_->cards().IssueDigital("T2", 2026).has_value());
    ASSERT_TRUE(ledger_->cards().IssueDigital("T3", 2026).has_value());
    auto v = ledger_->audit().Verify();
    ASSERT_TRUE(v.has_value());
    ASSERT_TRUE(v->ok) << v->problem;
    ASSERT_EQ(v->entries, 4);
  }
  // The audit log refuses UPDATE and DELETE; a tamperer with owner rights drops the guard first.
  void DropGuard() {
    std::string sql = GetParam() == "sqlite"
                          ? "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete"
                          : "DROP TRIGGER audit_log_no_change ON audit_log";
    ASSERT_EQ(backend_->Sql(sql), "");
  }
};

TEST_P(AuditTamperTest, AppendOnlyAtTheDatabase) {
  MakeHistory();
  EXPECT_THAT(backend_->Sql("UPDATE audit_log SET action = 'x' WHERE seq = 2"), HasSubstr("append-only"));
  EXPECT_THAT(backend_->Sql("DELETE FROM audit_log WHERE seq = 2"), HasSubstr("append-only"));
}

TEST_P(AuditTamperTest, EditedEntryIsNamed) {
  MakeHistory();
  DropGuard();
  ASSERT_EQ(
      backend_->Sql("UPDATE audit_log SET detail = replace(detail, '\"requested\":1', '\"requested\":2') "
                    "WHERE seq = 3"),
      "");
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->first_bad, 3);
  EXPECT_THAT(v->problem, HasSubstr("audit entry 3: its content does not match its hash (edited)"));
  // The CLI says the same and exits 1.
  auto run = lk::testing::RunProgram({lk::testing::Binary(), "--data-dir", dir_.path().string(), "ledger",
                                      "verify", "--ledger", backend_->url()});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.out, HasSubstr("audit entry 3"));
}

TEST_P(AuditTamperTest, DeletedEntryIsNamed) {
  MakeHistory();
  DropGuard();
  ASSERT_EQ(backend_->Sql("DELETE FROM audit_log WHERE seq = 2"), "");
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->first_bad, 2);
  EXPECT_THAT(v->problem, HasSubstr("audit entry 2: missing"));
}

TEST_P(AuditTamperTest, DeletedLastEntryIsNamed) {
  MakeHistory();
  DropGuard();
  ASSERT_EQ(backend_->Sql("DELETE FROM audit_log WHERE seq = 4"), "");
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->first_bad, 4);
  EXPECT_THAT(v->problem, HasSubstr("audit entry 4: missing (the log ends at 3, the head says 4)"));
}

TEST_P(AuditTamperTest, DeletedCardIsTracedToItsEntry) {
  MakeHistory();
  ASSERT_EQ(backend_->Sql("DELETE FROM cards WHERE audit_seq = 3"), "");
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->first_bad, 3);
  EXPECT_THAT(v->problem, HasSubstr("added 1 cards rows but 0 are in the ledger"));
}

// Each audit entry records the fields of the cards it made (a fingerprint of the fields that
// never change) and each revocation; verify compares every card row with them. The edits are
// made directly in the database, as an attacker with write access would (on PostgreSQL the
// trigger that keeps a card on its roster entry is dropped first).
TEST_P(AuditTamperTest, EditedCardIsNamed) {
  MakeHistory();  // entries 2, 3, 4: T1, T2, T3's digital cards
  ASSERT_TRUE(ledger_->imports().ImportChannel(
      Channel::kLibrary, Write("l.csv", "staff_id,date\nT1,2026-03-01\nT2,2026-03-02\n"),
      2026));  // entry 5
  auto expect_card = [&](const std::string& serial, int64_t seq, const std::string& what) {
    auto v = ledger_->audit().Verify();
    ASSERT_TRUE(v.has_value()) << v.error().message;
    EXPECT_FALSE(v->ok);
    EXPECT_EQ(v->first_bad, seq);
    EXPECT_EQ(v->bad_card, serial);
    EXPECT_THAT(v->problem, StartsWith("card " + serial + " (audit entry " + std::to_string(seq) + "): "));
    EXPECT_THAT(v->problem, HasSubstr(what));
  };
  ExpectVerified("untouched");
  const std::string digital = backend_->Value("SELECT serial FROM cards WHERE audit_seq = 3");
  const std::string token = backend_->Value("SELECT auth_token FROM cards WHERE audit_seq = 3");
  ASSERT_EQ(digital.size(), 12u);
  const std::string where = " WHERE serial = '" + digital + "'";
  // A changed issue date.
  ASSERT_EQ(backend_->Sql("UPDATE cards SET issued_on = '2026-01-15'" + where), "");
  expect_card(digital, 3, "its fields differ from what its audit entry recorded (edited)");
  auto run = lk::testing::RunProgram({lk::testing::Binary(), "--data-dir", dir_.path().string(), "ledger",
                                      "verify", "--ledger", backend_->url()});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.out, HasSubstr("card " + digital));
  ASSERT_EQ(backend_->Sql("UPDATE cards SET issued_on = '2026-02-01'" + where), "");
  ExpectVerified("date restored");
  // A swapped pass authentication token.
  ASSERT_EQ(backend_->Sql("UPDATE cards SET auth_token = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'" + where), "");
  expect_card(digital, 3, "(edited)");
  ASSERT_EQ(backend_->Sql("UPDATE cards SET auth_token = '" + token + "'" + where), "");
  // A library card of the import (entry 5) with another school year.
  const std::string library = backend_->Value("SELECT min(serial) FROM cards WHERE audit_seq = 5");
  ASSERT_EQ(backend_->Sql("UPDATE cards SET school_year = 2026 WHERE serial = '" + library + "'"), "");
  expect_card(library, 5, "(edited)");
  ASSERT_EQ(backend_->Sql("UPDATE cards SET school_year = 2025 WHERE serial = '" + library + "'"), "");
  ExpectVerified("school year restored");
  // The library card moved to another holder (T3's roster entry, who has none).
  if (GetParam() == "postgresql") {
    ASSERT_EQ(backend_->Sql("DROP TRIGGER cards_keep_roster ON cards"), "");
  }
  const std::string roster_id =
      backend_->Value("SELECT roster_id FROM cards WHERE serial = '" + library + "'");
  ASSERT_EQ(
      backend_->Sql("UPDATE cards SET roster_id = (SELECT roster_id FROM cards WHERE audit_seq = 4) WHERE "
                    "serial = '" +
                    library + "'"),
      "");
  expect_card(library, 5, "(edited)");
  ASSERT_EQ(backend_->Sql("UPDATE cards SET roster_id = " + roster_id + " WHERE serial = '" + library + "'"),
            "");
  ExpectVerified("holder restored");
  // A revocation undone, or made up, behind the ledger's back.
  ASSERT_TRUE(ledger_->cards().Revoke(digital, "lost phone").has_value());  // entry 6
  ExpectVerified("revoked");
  ASSERT_EQ(
      backend_->Sql("UPDATE cards SET status = 'active', revoked_reason = NULL, revoked_at = NULL" + where),
      "");
  expect_card(digital, 3, "active, but audit entry 6 revoked it");
  ASSERT_EQ(
      backend_->Sql("UPDATE cards SET status = 'revoked', revoked_reason = 'fraud', revoked_at = 1" + where),
      "");
  expect_card(digital, 3, "its revocation differs from audit entry 6");
  const std::string other = backend_->Value("SELECT serial FROM cards WHERE audit_seq = 4");
  ASSERT_EQ(backend_->Sql(
                "UPDATE cards SET status = 'revoked', revoked_reason = 'x', revoked_at = 1 WHERE serial = '" +
                other + "'"),
            "");
  expect_card(digital, 3, "its revocation differs");  // the first bad card in (entry, serial) order
}

// The adoption aggregate (calendar counts) moves with every write and verify recounts it.
TEST_P(LedgerTest, AdoptionAggregateFollowsImportIssueAndRevoke) {
  auto year = [&]() {
    auto rows = ledger_->counts().Query({Period::kCalendar, Dimension::kNone, 2026, 2026});
    EXPECT_TRUE(rows.has_value() && rows->size() == 1u);
    return rows && rows->size() == 1u ? rows->front() : CountsRow{};
  };
  ImportSmallRoster();  // T1 Antwerpen, T2 Oost-Vlaanderen, T3 Brussel
  ExpectVerified("roster");
  EXPECT_EQ(year().eligible, 3);
  EXPECT_EQ(year().holders, 0);
  // A bad file changes nothing, a good one moves T1 and T2 to "library".
  ASSERT_FALSE(ledger_->imports().ImportChannel(
      Channel::kLibrary, Write("bad.csv", "staff_id,date\nT1,2026-03-01\nNOPE,2026-03-01\n"), 2026));
  EXPECT_EQ(year().library, 0);
  ASSERT_TRUE(ledger_->imports().ImportChannel(
      Channel::kLibrary, Write("l.csv", "staff_id,date\nT1,2026-03-01\nT2,2026-03-02\n"), 2026));
  ExpectVerified("library");
  EXPECT_EQ(year().library, 2);
  EXPECT_EQ(year().physical_only, 2);
  // Issue: T1 now holds both kinds, T3 digital only; a repeat (and a duplicate in the batch) adds nothing.
  auto batch = ledger_->cards().IssueDigitalBatch({"T1", "T3", "T1"}, 2026);
  ASSERT_TRUE(batch.has_value()) << batch.error().message;
  ASSERT_TRUE(ledger_->cards().IssueDigital("T3", 2026).has_value());
  ExpectVerified("issue");
  CountsRow y = year();
  EXPECT_EQ(y.digital, 2);
  EXPECT_EQ(y.holders, 3);
  EXPECT_EQ(y.both, 1);
  EXPECT_EQ(y.digital_only, 1);
  EXPECT_EQ(y.physical_only, 1);
  // Revoke: T1 is back to physical only, T3 holds nothing.
  ASSERT_TRUE(ledger_->cards().Revoke(batch->at(0).serial, "lost phone").has_value());
  ASSERT_TRUE(ledger_->cards().Revoke(batch->at(1).serial, "left the school").has_value());
  ExpectVerified("revoke");
  y = year();
  EXPECT_EQ(y.digital, 0);
  EXPECT_EQ(y.holders, 2);
  EXPECT_EQ(y.physical_only, 2);
  EXPECT_EQ(y.both + y.digital_only, 0);
  EXPECT_EQ(y.eligible, 3);
  // The province view of the same aggregate.
  auto prov = ledger_->counts().Query({Period::kCalendar, Dimension::kProvince, 2026, 2026});
  ASSERT_TRUE(prov.has_value());
  ASSERT_EQ(prov->size(), 3u);
  EXPECT_EQ(prov->at(0).group, "Antwerpen");
  EXPECT_EQ(prov->at(0).library, 1);
  EXPECT_EQ(prov->at(1).group, "Brussel");
  EXPECT_EQ(prov->at(1).holders, 0);
  EXPECT_EQ(prov->at(1).eligible, 1);
}

// cards.roster_id must name a roster entry (a foreign key on SQLite; on PostgreSQL one set-based
// check per statement, with roster entries that cannot be deleted).
TEST_P(LedgerTest, CardsReferenceRosterEntries) {
  ImportSmallRoster();
  ASSERT_TRUE(ledger_->cards().IssueDigital("T1", 2026).has_value());
  // SQLite enforces foreign keys on connections that ask for it (the ledger's always does).
  auto sql = [&](const std::string& q) {
    return backend_->Sql(GetParam() == "sqlite" ? "PRAGMA foreign_keys = ON; " + q : q);
  };
  const std::string fk_violation =
      GetParam() == "sqlite" ? "FOREIGN KEY constraint failed" : "violates the foreign key";
  EXPECT_THAT(
      sql("INSERT INTO cards (serial, roster_id, channel, issued_on, school_year, status, update_tag, "
          "audit_seq) VALUES ('ABCDEFGHJKMN', 999999, 'library', '2026-03-01', 2025, 'active', 9, 9)"),
      HasSubstr(fk_violation));
  // Several rows at once, one of them naming no roster entry.
  EXPECT_THAT(
      sql("INSERT INTO cards (serial, roster_id, channel, issued_on, school_year, status, update_tag, "
          "audit_seq) SELECT k.s, r.id + k.n, 'library', '2026-03-01', 2025, 'active', 9, 9 FROM (SELECT "
          "min(id) "
          "AS id FROM roster) r CROSS JOIN (SELECT 0 AS n, 'ABCDEFGHJKM0' AS s UNION ALL SELECT 1, "
          "'ABCDEFGHJKM1' UNION ALL SELECT 999999, 'ABCDEFGHJKM9' UNION ALL SELECT 2, 'ABCDEFGHJKM2') k"),
      HasSubstr(fk_violation));
  // Valid rows around a gap in the roster's ids (PostgreSQL: an id taken by a rolled-back insert),
  // so the check cannot take the whole id range as present: accepted (then rolled back).
  ASSERT_EQ(
      sql("BEGIN; INSERT INTO roster (card_year, staff_key, role, network, level, school_number, postcode, "
          "province, starter, audit_seq) VALUES (2026, '" +
          std::string(64, 'f') +
          "', 'teaching', 'GO', "
          "'basic', '1', 2000, 'Antwerpen', 0, 1); ROLLBACK"),
      "");
  ASSERT_TRUE(ledger_->imports().ImportRoster(
      Write("r4.csv", std::string(kRosterHeader) + "T4,D,D,teaching,GO,basic,1,2000,no\n"), 2026));
  if (GetParam() == "postgresql") {
    EXPECT_EQ(backend_->Value("SELECT max(id) - min(id) + 1 - count(*) FROM roster"), "1");
  }
  EXPECT_EQ(
      sql("BEGIN; INSERT INTO cards (serial, roster_id, channel, issued_on, school_year, status, update_tag, "
          "audit_seq) SELECT CASE k.n WHEN 0 THEN 'ABCDEFGHJKM0' ELSE 'ABCDEFGHJKM1' END, CASE k.n WHEN 0 "
          "THEN r.lo "
          "ELSE r.hi END, 'library', '2026-03-01', 2025, 'active', 9, 9 FROM (SELECT min(id) AS lo, max(id) "
          "AS "
          "hi FROM roster) r CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1) k; ROLLBACK"),
      "");
  EXPECT_NE(sql("DELETE FROM roster WHERE id IN (SELECT roster_id FROM cards)"), "");
  EXPECT_NE(sql("UPDATE cards SET roster_id = roster_id + 1000"), "");
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->ok) << v->problem;
}

// Migration 4 builds the aggregate from the cards already in a ledger made before it existed.
TEST_P(LedgerTest, MigrationBuildsTheAggregateForExistingData) {
  ImportSmallRoster();
  ASSERT_TRUE(ledger_->imports().ImportChannel(Channel::kStarter,
                                               Write("t.csv", "staff_id,date\nT2,2026-03-01\n"), 2026));
  ASSERT_TRUE(ledger_->cards().IssueDigital("T2", 2026).has_value());
  ASSERT_TRUE(ledger_->cards().IssueDigital("T1", 2026).has_value());
  ledger_.reset();
  // Back to schema 3, as an older build left it.
  ASSERT_EQ(backend_->Sql("DROP TABLE adoption_cells"), "");
  ASSERT_EQ(backend_->Sql("DROP INDEX IF EXISTS cards_audit_seq"), "");  // PostgreSQL drops it in migration 6
  ASSERT_EQ(backend_->Sql("DELETE FROM schema_migrations WHERE version = 4"), "");
  ledger_ = Open();
  ASSERT_NE(ledger_, nullptr);
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->ok) << v->problem;
  auto rows = ledger_->counts().Query({Period::kCalendar, Dimension::kNone, 2026, 2026});
  ASSERT_TRUE(rows.has_value() && rows->size() == 1u);
  EXPECT_EQ(rows->front().eligible, 3);
  EXPECT_EQ(rows->front().holders, 2);
  EXPECT_EQ(rows->front().both, 1);
  EXPECT_EQ(rows->front().digital_only, 1);
  EXPECT_EQ(rows->front().starter, 1);
}

TEST_P(AuditTamperTest, TamperedAggregateIsNamed) {
  MakeHistory();  // T1 (Antwerpen, GO, teaching, basic) holds a digital card
  ASSERT_EQ(backend_->Sql(
                "UPDATE adoption_cells SET holders = holders + 1 WHERE province = 'Antwerpen' AND mask = 1"),
            "");
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->first_bad, std::nullopt);
  EXPECT_THAT(v->problem,
              HasSubstr("adoption aggregate: cell (card year 2026, Antwerpen, GO, teaching, basic, "
                        "digital) holds 2, a recount of the cards gives 1"));
  auto run = lk::testing::RunProgram({lk::testing::Binary(), "--data-dir", dir_.path().string(), "ledger",
                                      "verify", "--ledger", backend_->url()});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.out, HasSubstr("adoption aggregate: cell (card year 2026, Antwerpen"));
  // A deleted cell is named too.
  ASSERT_EQ(backend_->Sql("DELETE FROM adoption_cells WHERE province = 'Brussel'"), "");
  v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_THAT(v->problem, HasSubstr("adoption aggregate: cell (card year 2026, Antwerpen"));
  ASSERT_EQ(backend_->Sql(
                "UPDATE adoption_cells SET holders = holders - 1 WHERE province = 'Antwerpen' AND mask = 1"),
            "");
  v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_THAT(v->problem,
              HasSubstr("adoption aggregate: cell (card year 2026, Brussel, VGO, administrative, higher, "
                        "digital) is missing, a recount of the cards gives 1"));
}

// The school-year aggregate (migration 6) moves with every write and verify recounts it. A
// holder is a person across card years: a library card of card year 2025 picked up in October
// 2025 and one of card year 2026 picked up in March 2026 are two cards of one holder in
// 2025-2026; the groups come from each card's roster entry (P moved from Antwerpen to Limburg).
TEST_P(LedgerTest, SchoolYearAggregateFollowsImportIssueAndRevoke) {
  auto school = [&](Dimension by) {
    auto rows = ledger_->counts().Query({Period::kSchool, by, 2025, 2025});
    EXPECT_TRUE(rows.has_value()) << rows.error().message;
    return rows ? *rows : std::vector<CountsRow>{};
  };
  ASSERT_TRUE(ledger_->imports().ImportRoster(
      Write("r25.csv", std::string(kRosterHeader) + "P,p,p,teaching,GO,basic,1,2000,no\n"
                                                    "Q,q,q,support,OGO,secondary,2,9000,no\n"),
      2025));
  ASSERT_TRUE(ledger_->imports().ImportRoster(
      Write("r26.csv", std::string(kRosterHeader) + "P,p,p,teaching,GO,basic,1,3500,no\n"
                                                    "Q,q,q,support,OGO,secondary,2,9000,no\n"),
      2026));
  ASSERT_TRUE(ledger_->imports().ImportChannel(
      Channel::kLibrary, Write("l25.csv", "staff_id,date\nP,2025-10-01\nQ,2025-11-02\n"), 2025));
  ExpectVerified("library 2025");
  ASSERT_TRUE(ledger_->imports().ImportChannel(Channel::kLibrary,
                                               Write("l26.csv", "staff_id,date\nP,2026-03-01\n"), 2026));
  ExpectVerified("library 2026");
  auto all = school(Dimension::kNone);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].period, "2025-2026");
  EXPECT_EQ(all[0].library, 3);  // P twice, Q
  EXPECT_EQ(all[0].holders, 2);  // P, Q
  EXPECT_EQ(all[0].physical_only, 2);
  auto prov = school(Dimension::kProvince);
  ASSERT_EQ(prov.size(), 3u);  // Antwerpen (P 2025), Limburg (P 2026), Oost-Vlaanderen (Q)
  EXPECT_EQ(prov[0].group, "Antwerpen");
  EXPECT_EQ(prov[0].holders, 1);
  EXPECT_EQ(prov[1].group, "Limburg");
  EXPECT_EQ(prov[1].holders, 1);
  auto net = school(Dimension::kNetwork);
  ASSERT_EQ(net.size(), 2u);
  EXPECT_EQ(net[0].group, "GO");
  EXPECT_EQ(net[0].library, 2);
  EXPECT_EQ(net[0].holders, 1);  // one person in GO, with two cards
  // A digital card (card year 2026, issued 1 February 2026: school year 2025-2026) makes P a
  // holder of both kinds, in Limburg only; Q's gets revoked again.
  auto p = ledger_->cards().IssueDigital("P", 2026);
  ASSERT_TRUE(p.has_value());
  auto q = ledger_->cards().IssueDigitalBatch({"Q"}, 2026);
  ASSERT_TRUE(q.has_value());
  ExpectVerified("issue");
  all = school(Dimension::kNone);
  EXPECT_EQ(all[0].digital, 2);
  EXPECT_EQ(all[0].both, 2);
  EXPECT_EQ(all[0].physical_only, 0);
  prov = school(Dimension::kProvince);
  EXPECT_EQ(prov[0].group, "Antwerpen");
  EXPECT_EQ(prov[0].physical_only, 1);
  EXPECT_EQ(prov[1].group, "Limburg");
  EXPECT_EQ(prov[1].both, 1);
  ASSERT_TRUE(ledger_->cards().Revoke(q->front().serial, "by mistake").has_value());
  ExpectVerified("revoke digital");
  all = school(Dimension::kNone);
  EXPECT_EQ(all[0].digital, 1);
  EXPECT_EQ(all[0].both, 1);
  EXPECT_EQ(all[0].physical_only, 1);
  // Revoking one of P's two library cards leaves P a library holder in 2025-2026 overall, but
  // no longer in Antwerpen.
  std::string p25 = backend_->Value(
      "SELECT c.serial FROM cards c JOIN roster r ON r.id = c.roster_id WHERE "
      "r.card_year = 2025 AND r.postcode = 2000");
  ASSERT_EQ(p25.size(), 12u) << p25;
  ASSERT_TRUE(ledger_->cards().Revoke(p25, "lost").has_value());
  ExpectVerified("revoke library");
  all = school(Dimension::kNone);
  EXPECT_EQ(all[0].library, 2);
  EXPECT_EQ(all[0].holders, 2);
  EXPECT_EQ(all[0].both, 1);
  prov = school(Dimension::kProvince);
  ASSERT_EQ(prov.size(), 2u);
  EXPECT_EQ(prov[0].group, "Limburg");
}

// An import and a batch next to card years that already hold cards (the general upkeep, which
// looks only at the card years within reach holding active cards): a holder's active card of
// another card year in the same school year (B, who moved province), a revoked one (C: counted
// nowhere), one of another school year (D), a card of another channel on the same roster entry
// (E), nobody else (F), and a card year within reach that holds cards but is out of reach of
// some new cards (2024). verify recounts both aggregates after every step.
TEST_P(LedgerTest, ImportNextToOtherCardYearsCountsHoldersOnce) {
  const std::string others =
      "C,c,c,support,OGO,secondary,2,9000,no\n"
      "D,d,d,support,OGO,secondary,2,9000,no\n"
      "E,e,e,support,OGO,secondary,2,9000,no\n"
      "F,f,f,support,OGO,secondary,2,9000,no\n";
  ASSERT_TRUE(ledger_->imports().ImportRoster(
      Write("r24.csv", std::string(kRosterHeader) + "A,a,a,teaching,GO,basic,1,2000,no\n"), 2024));
  ASSERT_TRUE(ledger_->imports().ImportRoster(
      Write("r25.csv", std::string(kRosterHeader) + "B,b,b,teaching,GO,basic,1,2000,no\n" + others), 2025));
  ASSERT_TRUE(ledger_->imports().ImportRoster(
      Write("r26.csv", std::string(kRosterHeader) + "B,b,b,teaching,GO,basic,1,3500,no\n" + others), 2026));
  ASSERT_TRUE(ledger_->imports().ImportChannel(Channel::kLibrary,
                                               Write("l24.csv", "staff_id,date\nA,2024-10-01\n"), 2024));
  ASSERT_TRUE(ledger_->imports().ImportChannel(
      Channel::kLibrary, Write("l25.csv", "staff_id,date\nB,2025-10-01\nC,2025-10-02\n"), 2025));
  ASSERT_TRUE(ledger_->imports().ImportChannel(Channel::kSubscription,
                                               Write("s25.csv", "staff_id,date\nD,2025-01-10\n"), 2025));
  std::string c25 = backend_->Value(
      "SELECT c.serial FROM cards c JOIN roster r ON r.id = c.roster_id WHERE "
      "r.card_year = 2025 AND c.issued_on = '2025-10-02'");
  ASSERT_EQ(c25.size(), 12u) << c25;
  ASSERT_TRUE(ledger_->cards().Revoke(c25, "lost").has_value());
  ASSERT_TRUE(ledger_->imports().ImportChannel(Channel::kStarter,
                                               Write("t26.csv", "staff_id,date\nE,2026-03-01\n"), 2026));
  ExpectVerified("before");
  auto lib = ledger_->imports().ImportChannel(
      Channel::kLibrary,
      Write("l26.csv",
            "staff_id,date\nB,2026-03-01\nC,2026-02-01\nD,2026-04-01\nE,2026-05-01\nF,2026-06-01\n"),
      2026);
  ASSERT_TRUE(lib.has_value()) << lib.error().message;
  EXPECT_EQ(lib->added, 5u);
  ExpectVerified("library 2026");
  auto school = [&](Dimension by) {
    auto rows = ledger_->counts().Query({Period::kSchool, by, 2025, 2025});
    EXPECT_TRUE(rows.has_value()) << rows.error().message;
    return rows ? *rows : std::vector<CountsRow>{};
  };
  auto all = school(Dimension::kNone);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].library, 6);       // B twice, C, D, E, F (C's 2025 card is revoked)
  EXPECT_EQ(all[0].starter, 1);       // E
  EXPECT_EQ(all[0].subscription, 0);  // D's is of school year 2024-2025
  EXPECT_EQ(all[0].holders, 5);       // B, C, D, E, F: B once
  EXPECT_EQ(all[0].physical_only, 5);
  auto prov = school(Dimension::kProvince);
  ASSERT_EQ(prov.size(), 3u);  // Antwerpen (B 2025), Limburg (B 2026), Oost-Vlaanderen
  EXPECT_EQ(prov[0].holders, 1);
  EXPECT_EQ(prov[1].holders, 1);
  EXPECT_EQ(prov[2].group, "Oost-Vlaanderen");
  EXPECT_EQ(prov[2].holders, 4);
  EXPECT_EQ(prov[2].library, 4);
  auto cal = ledger_->counts().Query({Period::kCalendar, Dimension::kNone, 2026, 2026});
  ASSERT_TRUE(cal.has_value());
  ASSERT_EQ(cal->size(), 1u);
  EXPECT_EQ(cal->at(0).holders, 5);
  EXPECT_EQ(cal->at(0).library, 5);
  EXPECT_EQ(cal->at(0).starter, 1);  // E holds both physical kinds: one holder
  // A batch next to them (issued 1 February 2026: school year 2025-2026): B and E hold both
  // kinds now, a second mention of F gets the same card.
  auto batch = ledger_->cards().IssueDigitalBatch({"B", "E", "F", "F"}, 2026);
  ASSERT_TRUE(batch.has_value()) << batch.error().message;
  EXPECT_EQ(batch->at(2).serial, batch->at(3).serial);
  ExpectVerified("digital 2026");
  all = school(Dimension::kNone);
  EXPECT_EQ(all[0].digital, 3);
  EXPECT_EQ(all[0].holders, 5);
  EXPECT_EQ(all[0].both, 3);
  EXPECT_EQ(all[0].physical_only, 2);
  prov = school(Dimension::kProvince);
  EXPECT_EQ(prov[0].physical_only, 1);  // B in Antwerpen: the 2025 library card only
  EXPECT_EQ(prov[1].both, 1);           // B in Limburg
  cal = ledger_->counts().Query({Period::kCalendar, Dimension::kNone, 2026, 2026});
  ASSERT_TRUE(cal.has_value());
  EXPECT_EQ(cal->at(0).both, 3);
  EXPECT_EQ(cal->at(0).holders, 5);
}

// Every roster entry names an existing card year, on both backends (PostgreSQL checks it once
// per INSERT statement, migration 9); card years are never deleted and entries never moved.
TEST_P(LedgerTest, RosterEntriesReferenceCardYears) {
  ImportSmallRoster();
  auto sql = [&](const std::string& q) {
    return backend_->Sql(GetParam() == "sqlite" ? "PRAGMA foreign_keys = ON; " + q : q);
  };
  const std::string fk_violation =
      GetParam() == "sqlite" ? "FOREIGN KEY constraint failed" : "violates the foreign key";
  auto entry = [](int year, char key) {
    return "(" + std::to_string(year) + ", '" + std::string(64, key) +
           "', 'teaching', 'GO', 'basic', '1', 2000, 'Antwerpen', 0, 1)";
  };
  const std::string insert =
      "INSERT INTO roster (card_year, staff_key, role, network, level, school_number, postcode, "
      "province, starter, audit_seq) VALUES ";
  EXPECT_THAT(sql(insert + entry(2030, 'a')), HasSubstr(fk_violation));
  // Several rows at once, one of them in a card year the ledger does not have.
  EXPECT_THAT(sql(insert + entry(2026, 'b') + ", " + entry(2031, 'c') + ", " + entry(2026, 'd')),
              HasSubstr(fk_violation));
  EXPECT_EQ(sql("BEGIN; " + insert + entry(2026, 'b') + ", " + entry(2026, 'd') + "; ROLLBACK"), "");
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM roster"), "3");
  EXPECT_NE(sql("DELETE FROM card_years"), "");
  EXPECT_NE(sql("UPDATE roster SET card_year = 2030"), "");
  EXPECT_NE(sql("UPDATE card_years SET year = 2030"), "");
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM card_years WHERE year = 2026"), "1");
  ExpectVerified("after the refused changes");
}

// Migration 6 builds the school-year aggregate from the cards already in a ledger.
TEST_P(LedgerTest, MigrationBuildsTheSchoolYearAggregateForExistingData) {
  ImportSmallRoster();
  ASSERT_TRUE(ledger_->imports().ImportChannel(Channel::kStarter,
                                               Write("t.csv", "staff_id,date\nT2,2025-10-01\n"), 2026));
  ASSERT_TRUE(ledger_->cards().IssueDigital("T2", 2026).has_value());
  auto t1 = ledger_->cards().IssueDigital("T1", 2026);
  ASSERT_TRUE(t1.has_value());
  ASSERT_TRUE(ledger_->cards().Revoke(t1->serial, "test").has_value());
  auto before = ledger_->counts().Query({Period::kSchool, Dimension::kLevel, 0, 0});
  ASSERT_TRUE(before.has_value());
  ledger_.reset();
  // Back to schema 5, as an older build left it.
  ASSERT_EQ(backend_->Sql("DROP TABLE school_card_cells"), "");
  ASSERT_EQ(backend_->Sql("DROP TABLE school_holder_cells"), "");
  ASSERT_EQ(backend_->Sql("DROP INDEX cards_revoked"), "");
  ASSERT_EQ(backend_->Sql("DELETE FROM schema_migrations WHERE version = 6"), "");
  ledger_ = Open();
  ASSERT_NE(ledger_, nullptr);
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->ok) << v->problem;
  auto rows = ledger_->counts().Query({Period::kSchool, Dimension::kNone, 0, 0});
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->front().period, "2025-2026");
  EXPECT_EQ(rows->front().holders, 1);  // T2 (T1's card is revoked)
  EXPECT_EQ(rows->front().both, 1);
  EXPECT_EQ(rows->front().starter, 1);
  EXPECT_EQ(rows->front().digital, 1);
  auto after = ledger_->counts().Query({Period::kSchool, Dimension::kLevel, 0, 0});
  ASSERT_TRUE(after.has_value());
  ASSERT_EQ(after->size(), before->size());
  for (size_t i = 0; i < after->size(); ++i) {
    EXPECT_EQ(after->at(i).group, before->at(i).group);
    EXPECT_EQ(after->at(i).holders, before->at(i).holders);
    EXPECT_EQ(after->at(i).digital, before->at(i).digital);
  }
}

TEST_P(AuditTamperTest, TamperedSchoolYearAggregateIsNamed) {
  MakeHistory();  // three digital cards issued 2026-02-01: school year 2025-2026
  ASSERT_EQ(backend_->Sql(
                "UPDATE school_holder_cells SET holders = holders + 1 WHERE dim = 'network' AND grp = 'GO'"),
            "");
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->first_bad, std::nullopt);
  EXPECT_THAT(v->problem,
              HasSubstr("school-year aggregate: cell (school year 2025-2026, network GO, holders of "
                        "digital) holds 2, a recount of the cards gives 1"));
  ASSERT_EQ(backend_->Sql(
                "UPDATE school_holder_cells SET holders = holders - 1 WHERE dim = 'network' AND grp = 'GO'"),
            "");
  ASSERT_TRUE(ledger_->audit().Verify()->ok);
  ASSERT_EQ(backend_->Sql("DELETE FROM school_card_cells WHERE dim = 'all'"), "");
  v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_THAT(v->problem,
              HasSubstr("school-year aggregate: cell (school year 2025-2026, all, digital cards) is "
                        "missing, a recount of the cards gives 3"));
}

// A small dataset checked by hand (see the comments for each expected number).
// The school list names a card's school; a re-import changes nothing, a newer list renames, a bad
// row imports nothing, and the audit chain stays verifiable.
TEST_P(LedgerTest, SchoolListNamesTheSchoolsOfCards) {
  ASSERT_TRUE(
      ledger_->imports()
          .ImportRoster(Write("r.csv", std::string(kRosterHeader) + "A,a,a,teaching,GO,basic,1001,2000,no\n"
                                                                    "B,b,b,teaching,GO,basic,1002,9000,no\n"),
                        2026)
          .has_value());
  auto a = ledger_->cards().IssueDigital("A", 2026);
  ASSERT_TRUE(a.has_value()) << a.error().message;
  EXPECT_EQ(a->school_name, "");

  const std::string list =
      "school_number;name;postcode;municipality\n1001;Sint-Jozefscollege;2000;Antwerpen\n"
      "1002;GO! Atheneum Gent;9000;Gent\n";
  auto first = ledger_->imports().ImportSchools(CsvSource{"scholen.csv", list});
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->rows, 2u);
  EXPECT_EQ(first->added, 2u);
  auto card = ledger_->cards().FindCard(a->serial);
  ASSERT_TRUE(card.has_value());
  EXPECT_EQ(card->school, "1001");
  EXPECT_EQ(card->school_name, "Sint-Jozefscollege");

  const std::string entries = backend_->Value("SELECT count(*) FROM audit_log");
  auto again = ledger_->imports().ImportSchools(CsvSource{"scholen.csv", list});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->added, 0u);
  EXPECT_EQ(again->present, 2u);
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM audit_log"), entries) << "nothing changed, nothing audited";

  auto renamed = ledger_->imports().ImportSchools(CsvSource{
      "scholen-2027.csv",
      "school_number,name,postcode,municipality\n1001,Sint-Jozefscollege Antwerpen,2000,Antwerpen\n"});
  ASSERT_TRUE(renamed.has_value());
  EXPECT_EQ(renamed->added, 1u);
  EXPECT_EQ(ledger_->cards().FindCard(a->serial)->school_name, "Sint-Jozefscollege Antwerpen");
  int listed = 0;
  ASSERT_TRUE(ledger_->cards()
                  .ForEachDigitalCard(
                      2026, [&](const Card& c) { listed += c.school_name == "Sint-Jozefscollege Antwerpen"; })
                  .has_value());
  EXPECT_EQ(listed, 1);

  auto bad = ledger_->imports().ImportSchools(
      CsvSource{"bad.csv",
                "school_number,name,postcode,municipality\n1003,Nieuwe "
                "school,3000,Leuven\nX1,,99,Gent\n1003,Dubbel,3000,Leuven\n"});
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message, HasSubstr("bad.csv:3:1 (school_number): 'X1' is not a school number"));
  EXPECT_THAT(bad.error().message, HasSubstr("bad.csv:3:2 (name)"));
  EXPECT_THAT(bad.error().message, HasSubstr("bad.csv:3:3 (postcode)"));
  EXPECT_THAT(bad.error().message,
              HasSubstr("bad.csv:4:1 (school_number): school 1003 is already on line 2"));
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM schools WHERE school_number = '1003'"), "0");
  ExpectVerified("after the school lists");
}

TEST_P(LedgerTest, CountsPerCalendarSchoolYearAndProvince) {
  auto r25 = Write("r25.csv", std::string(kRosterHeader) +
                                  "A,a,a,teaching,GO,basic,1,2000,no\n"            // Antwerpen
                                  "B,b,b,support,OGO,secondary,2,9000,yes\n"       // Oost-Vlaanderen
                                  "C,c,c,administrative,VGO,higher,3,1000,no\n");  // Brussel
  auto r26 = Write("r26.csv", std::string(kRosterHeader) +
                                  "A,a,a,teaching,GO,basic,1,2000,no\n"          // Antwerpen
                                  "B,b,b,support,OGO,secondary,2,3500,no\n"      // moved to Limburg
                                  "C,c,c,administrative,VGO,higher,3,1000,no\n"  // Brussel
                                  "D,d,d,teaching,GO,adult,4,8000,yes\n");       // West-Vlaanderen
  ASSERT_TRUE(ledger_->imports().ImportRoster(r25, 2025).has_value());
  ASSERT_TRUE(ledger_->imports().ImportRoster(r26, 2026).has_value());
  auto imp = [&](Channel ch, const std::string& name, const std::string& body, int year) {
    auto r = ledger_->imports().ImportChannel(ch, Write(name, "staff_id,date\n" + body), year);
    ASSERT_TRUE(r.has_value()) << r.error().message;
  };
  imp(Channel::kSubscription, "s25.csv", "A,2025-01-10\n", 2025);           // school 2024-2025
  imp(Channel::kLibrary, "l25.csv", "B,2025-03-01\nC,2025-10-01\n", 2025);  // 2024-2025, 2025-2026
  imp(Channel::kSubscription, "s26.csv", "A,2025-12-15\n", 2026);           // 2025-2026
  imp(Channel::kStarter, "t26.csv", "B,2026-09-15\n", 2026);                // 2026-2027
  imp(Channel::kLibrary, "l26.csv", "D,2026-05-05\n", 2026);                // 2025-2026
  ASSERT_TRUE(ledger_->cards().IssueDigital("A", 2026).has_value());        // issued 2026-02-01: 2025-2026
  ASSERT_TRUE(ledger_->cards().IssueDigital("D", 2026).has_value());
  auto c = ledger_->cards().IssueDigital("C", 2026);
  ASSERT_TRUE(c.has_value());
  ASSERT_TRUE(ledger_->cards().Revoke(c->serial, "test").has_value());  // revoked: counted nowhere

  auto cal = ledger_->counts().Query({Period::kCalendar, Dimension::kNone, 2025, 2026});
  ASSERT_TRUE(cal.has_value()) << cal.error().message;
  ASSERT_EQ(cal->size(), 2u);
  const auto& y25 = cal->at(0);
  EXPECT_EQ(y25.period, "2025");
  EXPECT_EQ(y25.group, std::nullopt);
  EXPECT_EQ(y25.eligible, 3);
  EXPECT_EQ(y25.subscription, 1);
  EXPECT_EQ(y25.library, 2);
  EXPECT_EQ(y25.starter + y25.digital, 0);
  EXPECT_EQ(y25.holders, 3);
  EXPECT_EQ(y25.physical_only, 3);
  EXPECT_EQ(y25.digital_only + y25.both, 0);
  const auto& y26 = cal->at(1);
  EXPECT_EQ(y26.period, "2026");
  EXPECT_EQ(y26.eligible, 4);
  EXPECT_EQ(y26.subscription, 1);   // A
  EXPECT_EQ(y26.starter, 1);        // B
  EXPECT_EQ(y26.library, 1);        // D
  EXPECT_EQ(y26.digital, 2);        // A, D (C revoked)
  EXPECT_EQ(y26.holders, 3);        // A, B, D
  EXPECT_EQ(y26.both, 2);           // A, D
  EXPECT_EQ(y26.physical_only, 1);  // B
  EXPECT_EQ(y26.digital_only, 0);

  auto prov = ledger_->counts().Query({Period::kCalendar, Dimension::kProvince, 2026, 2026});
  ASSERT_TRUE(prov.has_value());
  ASSERT_EQ(prov->size(), 4u);  // Antwerpen, Brussel (eligible only), Limburg, West-Vlaanderen
  EXPECT_EQ(prov->at(0).group, "Antwerpen");
  EXPECT_EQ(prov->at(0).both, 1);
  EXPECT_EQ(prov->at(1).group, "Brussel");
  EXPECT_EQ(prov->at(1).eligible, 1);
  EXPECT_EQ(prov->at(1).holders, 0);
  EXPECT_EQ(prov->at(2).group, "Limburg");
  EXPECT_EQ(prov->at(2).starter, 1);
  EXPECT_EQ(prov->at(3).group, "West-Vlaanderen");
  EXPECT_EQ(prov->at(3).library + prov->at(3).digital, 2);

  auto school = ledger_->counts().Query({Period::kSchool, Dimension::kNone, 2024, 2026});
  ASSERT_TRUE(school.has_value());
  ASSERT_EQ(school->size(), 3u);
  EXPECT_EQ(school->at(0).period, "2024-2025");
  // Eligible: the roster of the card year of the school year's January to August, else (2026-2027,
  // no 2027 roster yet) of the year it starts in.
  EXPECT_EQ(school->at(0).eligible, 3);
  EXPECT_EQ(school->at(0).eligible_year, 2025);
  EXPECT_EQ(school->at(1).eligible, 4);
  EXPECT_EQ(school->at(1).eligible_year, 2026);
  EXPECT_EQ(school->at(2).eligible, 4);
  EXPECT_EQ(school->at(2).eligible_year, 2026);
  EXPECT_EQ(school->at(0).subscription, 1);
  EXPECT_EQ(school->at(0).library, 1);
  EXPECT_EQ(school->at(0).holders, 2);
  EXPECT_EQ(school->at(1).period, "2025-2026");
  EXPECT_EQ(school->at(1).subscription, 1);  // A (card year 2026)
  EXPECT_EQ(school->at(1).library, 2);       // C (card year 2025), D
  EXPECT_EQ(school->at(1).digital, 2);       // A, D
  EXPECT_EQ(school->at(1).holders, 3);       // A, C, D: one person, one holder, across card years
  EXPECT_EQ(school->at(1).both, 2);
  EXPECT_EQ(school->at(1).physical_only, 1);
  EXPECT_EQ(school->at(2).period, "2026-2027");
  EXPECT_EQ(school->at(2).starter, 1);

  auto by_role = ledger_->counts().Query({Period::kSchool, Dimension::kRole, 2025, 2025});
  ASSERT_TRUE(by_role.has_value());
  ASSERT_EQ(by_role->size(), 2u);
  EXPECT_EQ(by_role->at(0).group, "administrative");  // C
  EXPECT_EQ(by_role->at(1).group, "teaching");        // A, D
  EXPECT_EQ(by_role->at(1).holders, 2);
  EXPECT_TRUE(ledger_->audit().Verify()->ok);
}

TEST_P(LedgerTest, PublishedFiguresAsPrinted) {
  const std::string published =
      "calendar_year,eligible_staff,sent_to_subscribers,sent_to_starters,picked_up_at_library,holders_total,"
      "published_share\n"
      "2017,204530,15570,14852,102478,138365,67.50%\n"
      "2018,208204,18276,16527,103966,139705,67%\n"
      "2019,213132,19931,17583,100102,138516,65%\n"
      "Totaal,625866,53777,48962,306546,416585,66.50%\n";
  auto f = Write("published.csv", published);
  auto r = ledger_->imports().ImportPublished(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->added, 4u);
  auto rows = ledger_->counts().Published();
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_EQ(rows->at(0).label, "2017");
  EXPECT_EQ(rows->at(0).year, 2017);
  EXPECT_EQ(rows->at(0).holders, 138365);
  EXPECT_EQ(rows->at(0).printed_share, "67.50%");
  EXPECT_EQ(rows->at(1).printed_share, "67%");
  EXPECT_EQ(rows->at(3).label, "Totaal");
  EXPECT_EQ(rows->at(3).year, std::nullopt);
  EXPECT_EQ(rows->at(3).holders, 416585);  // as printed, one less than the sum of the years
  EXPECT_EQ(rows->at(3).library, 306546);
  // Published figures never leak into the per-card counts.
  EXPECT_TRUE(ledger_->counts().Query({})->empty());
  auto again = ledger_->imports().ImportPublished(f);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->present, 4u);
  // A Belgian export: semicolons, decimal comma.
  auto be = Write("published-be.csv",
                  "calendar_year;eligible_staff;sent_to_subscribers;sent_to_starters;picked_up_at_library;"
                  "holders_total;published_share\n2016;200000;1;2;3;100000;\"50,00%\"\n2017;1;1;1;1;1;1%\n");
  auto clash = ledger_->imports().ImportPublished(be);
  ASSERT_FALSE(clash.has_value());
  EXPECT_THAT(clash.error().message,
              HasSubstr(be.string() + ":3:1 (calendar_year): differs from the published"));
  EXPECT_EQ(ledger_->counts().Published()->size(), 4u) << "all or nothing";
  auto bad = Write("bad.csv",
                   "calendar_year,eligible_staff,sent_to_subscribers,sent_to_starters,"
                   "picked_up_at_library,holders_total,published_share\n2020,x,1,1,1,1,67 pct\n");
  auto b = ledger_->imports().ImportPublished(bad);
  ASSERT_FALSE(b.has_value());
  EXPECT_THAT(b.error().message, HasSubstr(":2:2 (eligible_staff): 'x' is not a whole number"));
  EXPECT_THAT(b.error().message, HasSubstr(":2:7 (published_share): '67 pct' is not a printed percentage"));
}

TEST_P(LedgerTest, StaffIdentifiersAreNeverStored) {
  ImportSmallRoster();
  ASSERT_TRUE(ledger_->cards().IssueDigital("T1", 2026).has_value());
  auto key = dir_ / "keys" / "staff-id-hmac.key";
  ASSERT_TRUE(std::filesystem::exists(key));
  EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // The roster holds 64-hex HMACs, not the identifiers.
  EXPECT_EQ(backend_->Sql(
                "CREATE TABLE probe AS SELECT staff_key FROM roster WHERE staff_key IN ('T1', 'T2', 'T3')"),
            "");
  EXPECT_EQ(
      backend_
          ->Sql("INSERT INTO roster (card_year, staff_key, role, network, level, school_number, postcode, "
                "province, starter, audit_seq) VALUES (2026, 'T4', 'teaching', 'GO', 'basic', '1', 2000, "
                "'Antwerpen', 0, 1)")
          .empty(),
      false)
      << "the database itself rejects a raw identifier as staff key";
  if (GetParam() == "sqlite") {
    auto raw = ReadFile(backend_->url());
    ASSERT_TRUE(raw.has_value());
    EXPECT_EQ(raw->find("Peeters"), std::string::npos);
  }
}

// Staff keys are HMAC-SHA256 of the identifier under the staff-id key, exactly as OpenSSL's
// command line computes it.
TEST_P(LedgerTest, StaffKeysAreHmacSha256AsOpenSslComputesIt) {
  ImportSmallRoster();
  auto key = ReadFile(dir_ / "keys" / "staff-id-hmac.key");
  ASSERT_TRUE(key.has_value());
  std::string hex = key->substr(0, 64);
  for (auto [id, postcode] : {std::pair{"T1", "2000"}, std::pair{"T3", "1000"}}) {
    auto run = lk::testing::RunProgram(
        {"openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:" + hex}, id);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    std::string out = run.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    const std::string expected = out.substr(out.rfind(' ') + 1);
    ASSERT_EQ(expected.size(), 64u) << run.out;
    EXPECT_EQ(backend_->Value(std::string("SELECT staff_key FROM roster WHERE postcode = ") + postcode),
              expected)
        << id;
  }
}

// A batch hands out its (random) serials in ascending order of staff key, so the cards go into
// both indexes in order; each caller still gets its own card, duplicates get the same one.
TEST_P(LedgerTest, BatchSerialsAscendInStaffKeyOrderAndMatchTheirHolders) {
  std::string roster = kRosterHeader, library = "staff_id,date\n";
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) {
    ids.push_back("S" + std::to_string(i));
    roster += ids.back() + ",F,L,teaching,GO,basic,1,2000,no\n";
    if (i % 2) library += ids.back() + ",2026-0" + std::to_string(1 + i % 9) + "-15\n";
  }
  ASSERT_TRUE(ledger_->imports().ImportRoster(Write("roster.csv", roster), 2026));
  auto lib = ledger_->imports().ImportChannel(Channel::kLibrary, Write("library.csv", library), 2026);
  ASSERT_TRUE(lib.has_value()) << lib.error().message;
  EXPECT_EQ(lib->added, 30u);
  std::vector<std::string> batch(ids.rbegin(), ids.rend());
  batch.push_back(ids[7]);  // the same person twice
  auto cards = ledger_->cards().IssueDigitalBatch(batch, 2026);
  ASSERT_TRUE(cards.has_value()) << cards.error().message;
  ASSERT_EQ(cards->size(), batch.size());
  EXPECT_EQ(cards->back().serial, (*cards)[batch.size() - 1 - 1 - 7].serial);
  EXPECT_FALSE(cards->back().is_new);
  EXPECT_TRUE((*cards)[batch.size() - 1 - 1 - 7].is_new);
  std::set<std::string> serials;
  for (size_t i = 0; i + 1 < cards->size(); ++i) {
    serials.insert((*cards)[i].serial);
    EXPECT_EQ((*cards)[i].serial.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ"), std::string::npos);
    auto again = ledger_->cards().IssueDigital(batch[i], 2026);  // the card of that very person
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->serial, (*cards)[i].serial) << batch[i];
    EXPECT_EQ(again->auth_token, (*cards)[i].auth_token) << batch[i];
  }
  EXPECT_EQ(serials.size(), ids.size());
  for (const char* channel : {"library", "digital"})
    EXPECT_EQ(backend_->Value(
                  std::string("SELECT count(*) FROM (SELECT row_number() OVER (ORDER BY r.staff_key) AS a, "
                              "row_number() OVER (ORDER BY c.serial) AS b FROM cards c JOIN roster r ON "
                              "r.id = c.roster_id WHERE c.channel = '") +
                  channel + "') x WHERE a <> b"),
              "0")
        << channel;
  // Counts after a first import (no other cards to look for) and a batch (other cards there).
  auto rows = ledger_->counts().Query({Period::kCalendar, Dimension::kNone, 2026, 2026});
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0).library, 30);
  EXPECT_EQ(rows->at(0).digital, 60);
  EXPECT_EQ(rows->at(0).both, 30);
  EXPECT_EQ(rows->at(0).digital_only, 30);
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->ok) << v->problem;
  // A second batch with one new person and one who has a card: read back, not staged.
  ASSERT_TRUE(ledger_->imports().ImportRoster(
      Write("more.csv", std::string(kRosterHeader) + "S99,F,L,support,OGO,adult,2,9000,no\n"), 2026));
  auto mixed = ledger_->cards().IssueDigitalBatch({"S99", "S3", "S99"}, 2026);
  ASSERT_TRUE(mixed.has_value()) << mixed.error().message;
  EXPECT_TRUE((*mixed)[0].is_new);
  EXPECT_FALSE((*mixed)[1].is_new);
  EXPECT_EQ((*mixed)[1].serial, (*cards)[batch.size() - 1 - 1 - 3].serial);
  EXPECT_EQ((*mixed)[2].serial, (*mixed)[0].serial);
  EXPECT_FALSE((*mixed)[2].is_new);
  v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->ok) << v->problem;
}

// Migration 16 (SQLite): the counts' index on cards, lost when migration 11 rebuilt the table, is
// there on a new ledger and comes back on a ledger made before 16; the import join uses it.
TEST_P(LedgerTest, SqliteCardsCarryTheCountsIndexAgain) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "PostgreSQL does without it (migration 6)";
  ImportSmallRoster();
  const std::string index =
      "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'cards_counts'";
  EXPECT_EQ(backend_->Value(index), "1");
  ledger_.reset();
  ASSERT_EQ(backend_->Sql("DROP INDEX cards_counts"), "");
  ASSERT_EQ(backend_->Sql("DELETE FROM schema_migrations WHERE version = 16"), "");
  ledger_ = Open();
  ASSERT_NE(ledger_, nullptr);
  EXPECT_EQ(backend_->Value(index), "1");
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM schema_migrations WHERE version = 16"), "1");
}

// Migration 7 (PostgreSQL: the audit detail stored uncompressed) on a ledger made by migration 6:
// verify still passes, the counts are the same, and new entries verify too.
TEST_P(LedgerTest, MigrationSevenKeepsTheLedgerVerifiable) {
  ImportSmallRoster();
  ASSERT_TRUE(ledger_->imports().ImportChannel(
      Channel::kLibrary, Write("l.csv", "staff_id,date\nT1,2026-01-05\nT2,2026-03-01\n"), 2026));
  ASSERT_TRUE(ledger_->cards().IssueDigitalBatch({"T2", "T3"}, 2026));
  auto before = ledger_->counts().Query({Period::kSchool, Dimension::kProvince, 2025, 2026});
  ASSERT_TRUE(before.has_value());
  ledger_.reset();
  if (GetParam() == "postgresql") {
    ASSERT_EQ(backend_->Sql("ALTER TABLE audit_log ALTER COLUMN detail SET STORAGE EXTENDED"), "");
  }
  ASSERT_EQ(backend_->Sql("DELETE FROM schema_migrations WHERE version = 7"), "");
  ledger_ = Open();
  ASSERT_NE(ledger_, nullptr);
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM schema_migrations WHERE version = 7"), "1");
  if (GetParam() == "postgresql") {
    EXPECT_EQ(
        backend_->Value("SELECT attstorage FROM pg_attribute WHERE attrelid = 'audit_log'::regclass AND "
                        "attname = 'detail'"),
        "e");
  }
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->ok) << v->problem;
  auto after = ledger_->counts().Query({Period::kSchool, Dimension::kProvince, 2025, 2026});
  ASSERT_TRUE(after.has_value());
  ASSERT_EQ(after->size(), before->size());
  for (size_t i = 0; i < after->size(); ++i) {
    EXPECT_EQ((*after)[i].group, (*before)[i].group);
    EXPECT_EQ((*after)[i].holders, (*before)[i].holders);
    EXPECT_EQ((*after)[i].library + (*after)[i].digital, (*before)[i].library + (*before)[i].digital);
  }
  ASSERT_TRUE(ledger_->imports().ImportChannel(Channel::kSubscription,
                                               Write("s.csv", "staff_id,date\nT3,2026-02-01\n"), 2026));
  v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->ok) << v->problem;
  // An edited card of an entry written after the migration is still named.
  std::string serial = backend_->Value("SELECT serial FROM cards WHERE channel = 'subscription'");
  ASSERT_EQ(backend_->Sql("UPDATE cards SET issued_on = '2026-02-02' WHERE serial = '" + serial + "'"), "");
  v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->bad_card, serial);
  EXPECT_THAT(v->problem, HasSubstr("(edited)"));
}

// Large imports and batches (4,096 rows or more) fingerprint their cards for the audit entry on
// a second thread while the database inserts, as if every row made a card. Verify compares each
// card with its entry's list, so a list that is wrong, short or too long for either path (every
// row new, or some holders already with a card) fails here.
TEST_P(LedgerTest, LargeImportsAndBatchesRecordEveryNewCardInTheirAuditEntries) {
  constexpr int kAll = 4600, kFirst = 4200;
  std::string roster = kRosterHeader, first = "staff_id,date\n", all = first;
  std::vector<std::string> ids;
  for (int i = 0; i < kAll; ++i) {
    ids.push_back("S" + std::to_string(i));
    roster += ids.back() + ",F,L,teaching,GO,basic,1," + (i % 2 ? "2000" : "9000") + ",no\n";
    std::string row = ids.back() + ",2026-0" + std::to_string(1 + i % 9) + "-15\n";
    if (i < kFirst) first += row;
    all += row;
  }
  ASSERT_TRUE(ledger_->imports().ImportRoster(Write("roster.csv", roster), 2026));
  auto lib = ledger_->imports().ImportChannel(Channel::kLibrary, Write("first.csv", first), 2026);
  ASSERT_TRUE(lib.has_value()) << lib.error().message;
  EXPECT_EQ(lib->added, static_cast<uint64_t>(kFirst));
  ExpectVerified("import, every row new");
  lib = ledger_->imports().ImportChannel(Channel::kLibrary, Write("all.csv", all), 2026);
  ASSERT_TRUE(lib.has_value()) << lib.error().message;
  EXPECT_EQ(lib->added, static_cast<uint64_t>(kAll - kFirst));
  EXPECT_EQ(lib->present, static_cast<uint64_t>(kFirst));
  ExpectVerified("import, some holders with a card");
  auto batch =
      ledger_->cards().IssueDigitalBatch(std::vector<std::string>(ids.begin(), ids.begin() + kFirst), 2026);
  ASSERT_TRUE(batch.has_value()) << batch.error().message;
  ExpectVerified("batch, every card new");
  auto again = ledger_->cards().IssueDigitalBatch(ids, 2026);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  ExpectVerified("batch, some cards there");
  ASSERT_EQ(again->size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ((*again)[i].is_new, i >= static_cast<size_t>(kFirst)) << ids[i];
    if (i < static_cast<size_t>(kFirst)) {
      EXPECT_EQ((*again)[i].serial, (*batch)[i].serial) << ids[i];
    }
  }
  EXPECT_EQ(Total(Channel::kLibrary, 2026), kAll);
  EXPECT_EQ(Total(Channel::kDigital, 2026), kAll);
}

// kill -9 of a real import mid-way leaves the ledger with none or all of the file's cards.
TEST_P(LedgerTest, KilledImportLeavesNothingOrEverything) {
  constexpr int kRows = 120000;
  std::string roster = kRosterHeader, library = "staff_id;date\n";
  for (int i = 0; i < kRows; ++i) {
    roster += "S" + std::to_string(i) + ",f,l,teaching,GO,basic,100,2000,no\n";
    library += "S" + std::to_string(i) + ";2026-03-0" + std::to_string(1 + i % 9) + "\n";
  }
  ASSERT_TRUE(ledger_->imports().ImportRoster(Write("roster.csv", roster), 2026).has_value());
  auto file = Write("library.csv", library);
  std::vector<std::string> argv = {lk::testing::Binary(),
                                   "--data-dir",
                                   dir_.path().string(),
                                   "import",
                                   "library",
                                   file.string(),
                                   "--year",
                                   "2026",
                                   "--ledger",
                                   backend_->url()};
  int killed_mid_run = 0;
  bool completed = false;
  for (int delay_ms : {30, 120, 250, 400, 600, 900, 1300, 2000, 3000, 5000}) {
    pid_t pid = fork();
    if (pid == 0) {
      int devnull = ::open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    std::this_thread::sleep_for(milliseconds(delay_ms));
    ::kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
      ++killed_mid_run;
    else
      completed = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    auto l = Open();
    ASSERT_TRUE(l);
    auto rows = l->counts().Query({Period::kCalendar, Dimension::kNone, 2026, 2026});
    ASSERT_TRUE(rows.has_value()) << rows.error().message;
    int64_t library_cards = rows->empty() ? 0 : rows->front().library;
    EXPECT_TRUE(library_cards == 0 || library_cards == kRows)
        << "after kill -9 at " << delay_ms << " ms the ledger holds " << library_cards << " of " << kRows;
    auto v = l->audit().Verify();
    ASSERT_TRUE(v.has_value());
    EXPECT_TRUE(v->ok) << v->problem;
    if (library_cards == kRows) {
      completed = true;
      break;
    }
  }
  EXPECT_GE(killed_mid_run, 1) << "no kill landed while the import ran";
  // Whatever happened, finishing the import afterwards gives all rows exactly once.
  auto finish = ledger_->imports().ImportChannel(Channel::kLibrary, file, 2026);
  ASSERT_TRUE(finish.has_value()) << finish.error().message;
  EXPECT_EQ(finish->added + finish->present, static_cast<uint64_t>(kRows));
  EXPECT_EQ(Total(Channel::kLibrary, 2026), kRows);
  RecordProperty("kills_mid_run", killed_mid_run);
  RecordProperty("completed_before_a_kill", completed);
}

// --- the roster's contacts and the claim mail (claims send) ---

TEST_P(LedgerTest, RosterEmailAndLanguageAreOptionalValidatedAndAllOrNothing) {
  const std::string header = std::string(kRosterHeader).substr(0, std::string(kRosterHeader).size() - 1);
  auto bad = ledger_->imports().ImportRoster(
      Write("bad.csv",
            header + ",email,language\n"
                     "T1,An,Peeters,teaching,GO,basic,12345,2000,no,an@school.be,fr\n"
                     "T2,Bert,Janssens,support,OGO,secondary,23456,9000,yes,bert at school,nl\n"
                     "T3,Cas,Maes,administrative,VGO,higher,34567,1000,no,cas@school.be,de\n"
                     "T4,Dina,Dewit,teaching,GO,basic,12345,2000,no,\"dina@school.be\r\nBcc: x@y.be\",\n"),
      2026);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  EXPECT_THAT(bad.error().message, HasSubstr("3 bad rows; nothing was imported"));
  EXPECT_THAT(bad.error().message, HasSubstr("bad.csv:3:10 (email): 'bert at school' is not a mail address"));
  EXPECT_THAT(bad.error().message, HasSubstr("bad.csv:4:11 (language): 'de' is not one of nl|fr|en"));
  EXPECT_THAT(bad.error().message, HasSubstr("bad.csv:5:10 (email):"));
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM roster"), "0");
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM holder_contacts"), "0");

  auto lonely = ledger_->imports().ImportRoster(
      Write("lang.csv", header + ",language\nT1,An,Peeters,teaching,GO,basic,12345,2000,no,fr\n"), 2026);
  ASSERT_FALSE(lonely.has_value());
  EXPECT_THAT(lonely.error().message,
              HasSubstr("lang.csv:1: the header has a 'language' column but no 'email'"));

  // Columns in any order; an empty address or language is allowed.
  const std::string ok = header +
                         ",email,language\n"
                         "T1,An,Peeters,teaching,GO,basic,12345,2000,no,An.Peeters@School.be,FR\n"
                         "T2,Bert,Janssens,support,OGO,secondary,23456,9000,yes,,\n"
                         "T3,Cas,Maes,administrative,VGO,higher,34567,1000,no,cas@school.be,\n";
  auto first = ledger_->imports().ImportRoster(Write("ok.csv", ok), 2026);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->added, 3u);
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM holder_contacts"), "2");
  EXPECT_EQ(backend_->Value("SELECT email || '/' || language FROM holder_contacts h JOIN holder_names n ON "
                            "n.roster_id = h.roster_id WHERE n.display_name = 'An Peeters'"),
            "An.Peeters@School.be/fr");
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM holder_contacts WHERE language IS NULL"), "1");
  // Re-importing the same file changes nothing and writes no audit entry.
  const std::string entries = backend_->Value("SELECT count(*) FROM audit_log");
  auto again = ledger_->imports().ImportRoster(Write("ok.csv", ok), 2026);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->present, 3u);
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM audit_log"), entries);
  // A new address is taken, an empty cell removes one; audited.
  auto changed = ledger_->imports().ImportRoster(
      Write("ok.csv", header + ",email\n"
                               "T1,An,Peeters,teaching,GO,basic,12345,2000,no,an@elsewhere.be\n"
                               "T3,Cas,Maes,administrative,VGO,higher,34567,1000,no,\n"),
      2026);
  ASSERT_TRUE(changed.has_value()) << changed.error().message;
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM holder_contacts"), "1");
  EXPECT_EQ(backend_->Value("SELECT email FROM holder_contacts"), "an@elsewhere.be");
  EXPECT_THAT(backend_->Value("SELECT detail FROM audit_log ORDER BY seq DESC LIMIT 1"),
              HasSubstr("\"contacts_changed\":2"));
  // A roster without the columns leaves contacts alone.
  ImportSmallRoster();
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM holder_contacts"), "1");
  ExpectVerified("contacts");
}

TEST_P(LedgerTest, ClaimMailCodesAreReusedUntilClaimedAndTheJournalIsKept) {
  const std::string header = std::string(kRosterHeader).substr(0, std::string(kRosterHeader).size() - 1);
  auto imported = ledger_->imports().ImportRoster(
      Write("r.csv", header + ",email,language\n"
                              "T1,An,Peeters,teaching,GO,basic,12345,2000,no,an@school.be,fr\n"
                              "T2,Bert,Janssens,support,OGO,secondary,23456,9000,yes,,\n"
                              "T3,Cas,Maes,administrative,VGO,higher,34567,1000,no,cas@school.be,\n"
                              "T4,,,teaching,GO,basic,12345,2000,no,dina@school.be,en\n"),
      2026);
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  auto& access = ledger_->access();
  EXPECT_EQ(access.CountClaimMailHolders(2026).value(), 3);
  const Time expires = clock_.Now() + days(60);
  auto dry = access.PrepareClaimMail(2026, 0, 100, 100, expires, true);
  ASSERT_TRUE(dry.has_value()) << dry.error().message;
  ASSERT_EQ(dry->size(), 3u);
  EXPECT_TRUE((*dry)[0].code.empty());
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM claim_codes"), "0");

  auto first = access.PrepareClaimMail(2026, 0, 100, 100, expires, false);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  ASSERT_EQ(first->size(), 3u);
  EXPECT_LT((*first)[0].roster_id, (*first)[1].roster_id);  // in roster id order (not the file's)
  std::map<std::string, ClaimMailHolder> by_email;
  for (const auto& h : *first) by_email[h.email] = h;
  EXPECT_EQ(by_email["an@school.be"].language, "fr");
  EXPECT_EQ(by_email["an@school.be"].display_name, "An Peeters");
  EXPECT_EQ(by_email["cas@school.be"].language, "");
  EXPECT_EQ(by_email["dina@school.be"].display_name, "");
  for (const auto& h : *first) EXPECT_THAT(h.code, ::testing::MatchesRegex("[0-9A-Z]{4}(-[0-9A-Z]{4}){3}"));
  EXPECT_NE((*first)[0].code, (*first)[1].code);
  // Paging and the limit: after the first entry, at most one to mail.
  auto page = access.PrepareClaimMail(2026, (*first)[0].roster_id, 100, 1, expires, false);
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].code, (*first)[1].code);  // the same code again: a resumed run mails it
  // Later, still valid for more than half: reused; the codes of `import roster --claim-codes`
  // are not (they cannot be derived again) and are replaced.
  clock_.Advance(days(10));
  auto again = access.PrepareClaimMail(2026, 0, 100, 100, expires, false);
  ASSERT_TRUE(again.has_value());
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*again)[i].code, (*first)[i].code);
  auto later = access.PrepareClaimMail(2026, 0, 100, 100, clock_.Now() + days(200), false);
  ASSERT_TRUE(later.has_value());
  EXPECT_NE((*later)[0].code, (*first)[0].code);  // 50 days left of 200: a new code
  EXPECT_FALSE(access.RedeemClaimCode((*first)[0].code, minutes(10)).has_value());

  // The journal.
  std::vector<ClaimMailMark> marks = {{(*later)[0].roster_id, MailMark::kSending, ""},
                                      {(*later)[1].roster_id, MailMark::kSent, ""},
                                      {(*later)[2].roster_id, MailMark::kFailed, "550 no such mailbox"}};
  ASSERT_TRUE(access.MarkClaimMail(marks).has_value());
  EXPECT_FALSE(access.MarkClaimMail(std::vector<ClaimMailMark>{{1, MailMark::kNone, ""}}).has_value());
  for (size_t taken : {0, 1}) {  // another run's holders are not taken again
    auto twice =
        access.MarkClaimMail(std::vector<ClaimMailMark>{{(*later)[taken].roster_id, MailMark::kSending, ""}});
    ASSERT_FALSE(twice.has_value());
    EXPECT_EQ(twice.error().code, Code::kFailedPrecondition);
  }
  auto marked = access.PrepareClaimMail(2026, 0, 100, 100, clock_.Now() + days(200), false);
  ASSERT_TRUE(marked.has_value());
  EXPECT_EQ((*marked)[0].mark, MailMark::kSending);
  EXPECT_EQ((*marked)[0].code, "");  // not to be mailed: no code
  EXPECT_EQ((*marked)[1].mark, MailMark::kSent);
  EXPECT_EQ((*marked)[2].mark, MailMark::kFailed);
  EXPECT_EQ((*marked)[2].code, (*later)[2].code);

  // Claiming takes the holder off the list.
  auto card = access.RedeemClaimCode((*later)[2].code, minutes(10));
  ASSERT_TRUE(card.has_value()) << card.error().message;
  EXPECT_EQ(access.CountClaimMailHolders(2026).value(), 2);
  ASSERT_TRUE(access.RecordClaimMailRun(R"({"year":2026,"sent":1})").has_value());
  EXPECT_EQ(backend_->Value("SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1"), "send claim mails");
  ExpectVerified("claim mail");
}

TEST_P(LedgerTest, SignInLinksAreOneTimeShortLivedAndOnlyForCardHolders) {
  const std::string header = std::string(kRosterHeader).substr(0, std::string(kRosterHeader).size() - 1);
  auto imported = ledger_->imports().ImportRoster(
      Write("r.csv", header + ",email,language\n"
                              "T1,An,Peeters,teaching,GO,basic,12345,2000,no,An@School.be,fr\n"
                              "T2,Bert,Janssens,support,OGO,secondary,23456,9000,yes,bert@school.be,\n"),
      2026);
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  auto& access = ledger_->access();
  // No card yet: no link, and the same answer as an unknown address.
  EXPECT_FALSE(access.CreateSignInLink("an@school.be", clock_.Now() + minutes(15)).value().has_value());
  EXPECT_FALSE(access.CreateSignInLink("nobody@school.be", clock_.Now() + minutes(15)).value().has_value());
  ASSERT_TRUE(ledger_->cards().IssueDigital("T1", 2026).has_value());
  auto link = access.CreateSignInLink("  an@SCHOOL.be ", clock_.Now() + minutes(15));
  ASSERT_TRUE(link.has_value()) << link.error().message;
  ASSERT_TRUE(link->has_value());
  EXPECT_EQ((*link)->email, "An@School.be");
  EXPECT_EQ((*link)->language, "fr");
  EXPECT_EQ((*link)->display_name, "An Peeters");
  EXPECT_EQ((*link)->token.size(), 32u);
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM signin_links WHERE token_hash = '" + (*link)->token + "'"),
            "0");
  // A second link replaces the first.
  auto second = access.CreateSignInLink("an@school.be", clock_.Now() + minutes(15));
  ASSERT_TRUE(second.has_value() && second->has_value());
  EXPECT_EQ(access.RedeemSignInLink((*link)->token).error().code, Code::kNotFound);
  auto card = access.RedeemSignInLink((*second)->token);
  ASSERT_TRUE(card.has_value()) << card.error().message;
  EXPECT_FALSE(card->is_new);
  EXPECT_EQ(card->year, 2026);
  EXPECT_EQ(access.RedeemSignInLink((*second)->token).error().code, Code::kFailedPrecondition);  // once
  EXPECT_EQ(access.RedeemSignInLink("not a token").error().code, Code::kNotFound);
  // Expired.
  auto third = access.CreateSignInLink("an@school.be", clock_.Now() + minutes(15));
  ASSERT_TRUE(third.has_value() && third->has_value());
  clock_.Advance(minutes(16));
  EXPECT_EQ(access.RedeemSignInLink((*third)->token).error().code, Code::kFailedPrecondition);
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM audit_log WHERE action = 'sign in by link'"), "1");
  EXPECT_THAT(backend_->Value("SELECT detail FROM audit_log WHERE action = 'create sign-in link' LIMIT 1"),
              Not(HasSubstr("school.be")));
  ExpectVerified("sign-in links");
}

LK_ON_EVERY_BACKEND(LedgerTest);
// --- claim codes, credentials and card lookup (the HTTP service's needs) ---

TEST_P(LedgerTest, ClaimCodesAreSingleUseExpiringAndStoredOnlyAsHashes) {
  ImportSmallRoster();
  auto codes = ledger_->access().CreateClaimCodes(dir_ / "roster.csv", 2026, clock_.Now() + days(30));
  ASSERT_TRUE(codes.has_value()) << codes.error().message;
  ASSERT_EQ(codes->size(), 3u);
  EXPECT_EQ((*codes)[0].staff_id, "T1");
  EXPECT_THAT((*codes)[0].code, ::testing::MatchesRegex("[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}"));
  // Redeeming issues the card; lower case and no dashes are accepted.
  std::string lower;
  for (char ch : (*codes)[0].code)
    if (ch != '-') lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto card = ledger_->access().RedeemClaimCode(lower, minutes(10));
  ASSERT_TRUE(card.has_value()) << card.error().message;
  EXPECT_TRUE(card->is_new);
  EXPECT_EQ(card->year, 2026);
  auto same = ledger_->cards().IssueDigital("T1", 2026);
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->serial, card->serial);
  // A retry within the window returns the same card; later the code is spent.
  auto retry = ledger_->access().RedeemClaimCode((*codes)[0].code, minutes(10));
  ASSERT_TRUE(retry.has_value()) << retry.error().message;
  EXPECT_EQ(retry->serial, card->serial);
  EXPECT_FALSE(retry->is_new);
  clock_.Advance(minutes(11));
  auto spent = ledger_->access().RedeemClaimCode((*codes)[0].code, minutes(10));
  ASSERT_FALSE(spent.has_value());
  EXPECT_EQ(spent.error().code, Code::kFailedPrecondition);
  EXPECT_THAT(spent.error().message, HasSubstr("already been used"));
  auto unknown = ledger_->access().RedeemClaimCode("0000-0000-0000-0000", minutes(10));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, Code::kNotFound);
  EXPECT_EQ(ledger_->access().RedeemClaimCode("not a code", minutes(10)).error().code,
            Code::kInvalidArgument);
  clock_.Advance(days(31));
  auto expired = ledger_->access().RedeemClaimCode((*codes)[1].code, minutes(10));
  ASSERT_FALSE(expired.has_value());
  EXPECT_THAT(expired.error().message, HasSubstr("expired"));
  // The display name recorded with the codes reaches the card record.
  auto record = ledger_->cards().FindCard(card->serial);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->holder_name, "An Peeters");
  EXPECT_EQ(record->school, "12345");
}

TEST_P(LedgerTest, ClaimCodesNeedEveryoneOnTheRoster) {
  ImportSmallRoster();
  auto f = Write("more.csv", std::string(kRosterHeader) +
                                 "T1,An,Peeters,teaching,GO,basic,12345,2000,no\n"
                                 "T9,Nobody,Here,teaching,GO,basic,12345,2000,no\n");
  auto codes = ledger_->access().CreateClaimCodes(f, 2026, clock_.Now() + days(30));
  ASSERT_FALSE(codes.has_value());
  EXPECT_EQ(codes.error().code, Code::kInvalidArgument);
  EXPECT_THAT(codes.error().message,
              HasSubstr("more.csv:3:1 (staff_id): not on the roster of card year 2026"));
  EXPECT_EQ(backend_->Sql("SELECT 1 FROM claim_codes"), "");
}

TEST_P(LedgerTest, CredentialsAreHashedAndAuthenticateByKind) {
  auto staff = ledger_->access().AddCredential(CredentialKind::kStaff, "reporting");
  ASSERT_TRUE(staff.has_value()) << staff.error().message;
  EXPECT_THAT(*staff, StartsWith("lks_"));
  auto partner = ledger_->access().AddCredential(CredentialKind::kPartner, "Museum M");
  ASSERT_TRUE(partner.has_value());
  EXPECT_THAT(*partner, StartsWith("lkp_"));
  auto who = ledger_->access().Authenticate(CredentialKind::kStaff, *staff);
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->name, "reporting");
  EXPECT_EQ(ledger_->access().Authenticate(CredentialKind::kPartner, *staff).error().code,
            Code::kUnauthenticated);
  EXPECT_EQ(ledger_->access().Authenticate(CredentialKind::kStaff, *staff + "x").error().code,
            Code::kUnauthenticated);
  EXPECT_EQ(ledger_->access().AddCredential(CredentialKind::kStaff, "reporting").error().code,
            Code::kAlreadyExists);
  EXPECT_EQ(ledger_->access().AddCredential(CredentialKind::kStaff, "").error().code, Code::kInvalidArgument);
  auto verify = ledger_->audit().Verify();
  ASSERT_TRUE(verify.has_value());
  EXPECT_TRUE(verify->ok) << verify->problem;
}

// Partner use: counts per (day, partner, outcome) add up across batches, a bad batch writes
// nothing, and a removed partner is no longer found by id.
TEST_P(LedgerTest, VerificationCountsAddUpAndBadBatchesWriteNothing) {
  auto partner = ledger_->access().AddCredential(CredentialKind::kPartner, "Museum M");
  ASSERT_TRUE(partner.has_value());
  auto who = ledger_->access().Authenticate(CredentialKind::kPartner, *partner);
  ASSERT_TRUE(who.has_value());
  auto found = ledger_->access().FindCredential(CredentialKind::kPartner, who->id);
  ASSERT_TRUE(found.has_value()) << found.error().message;
  EXPECT_EQ(found->name, "Museum M");
  EXPECT_EQ(ledger_->access().FindCredential(CredentialKind::kStaff, who->id).error().code, Code::kNotFound);

  std::vector<VerificationCount> batch = {{"2026-12-03", who->id, "valid", 3},
                                          {"2026-12-03", who->id, "revoked", 1},
                                          {"2026-12-04", who->id, "valid", 2}};
  ASSERT_TRUE(ledger_->usage().Add(batch).has_value());
  ASSERT_TRUE(
      ledger_->usage().Add(std::vector<VerificationCount>{{"2026-12-03", who->id, "valid", 4}}).has_value());
  std::vector<VerificationCount> bad = {{"2026-12-03", who->id, "valid", 1},
                                        {"2026-12-03", who->id, "maybe", 1}};
  auto refused = ledger_->usage().Add(bad);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
  EXPECT_FALSE(
      ledger_->usage().Add(std::vector<VerificationCount>{{"3 Dec", who->id, "valid", 1}}).has_value());
  auto q = ledger_->usage().Query("2026-12-01", "2026-12-31");
  ASSERT_TRUE(q.has_value()) << q.error().message;
  EXPECT_EQ(*q, (std::vector<VerificationCount>{{"2026-12-03", who->id, "revoked", 1, "Museum M"},
                                                {"2026-12-03", who->id, "valid", 7, "Museum M"},
                                                {"2026-12-04", who->id, "valid", 2, "Museum M"}}));
  EXPECT_EQ(ledger_->usage().Query("2026-12-04", "2026-12-04")->size(), 1u);

  ASSERT_TRUE(ledger_->access().RemoveCredential(CredentialKind::kPartner, "Museum M").has_value());
  EXPECT_EQ(ledger_->access().FindCredential(CredentialKind::kPartner, who->id).error().code,
            Code::kNotFound);
  EXPECT_EQ(ledger_->usage().Query("2026-12-04", "2026-12-04")->at(0).partner_name, "");  // counts stay
}

TEST_P(LedgerTest, CardLookupTokensAndTheRevocationList) {
  ImportSmallRoster();
  auto a = ledger_->cards().IssueDigital("T1", 2026), b = ledger_->cards().IssueDigital("T2", 2026);
  ASSERT_TRUE(a && b);
  auto found = ledger_->cards().FindCard(a->serial);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->token, "");
  EXPECT_EQ(found->holder_name, "");
  EXPECT_EQ(found->auth_token, a->auth_token);
  auto first = ledger_->cards().AttachToken(a->serial, "token-one", clock_.Now());
  auto second = ledger_->cards().AttachToken(a->serial, "token-two", clock_.Now() + hours(1));
  ASSERT_TRUE(first && second);
  EXPECT_EQ(second->token, "token-one");  // the first writer wins
  EXPECT_EQ(second->token_at, clock_.Now());
  EXPECT_EQ(ledger_->cards().FindCard("NOSUCHSERIAL").error().code, Code::kNotFound);
  ASSERT_TRUE(ledger_->cards().Revoke(b->serial, "lost").has_value());
  auto revoked = ledger_->cards().RevokedSerials(2025, 2027);
  ASSERT_TRUE(revoked.has_value());
  ASSERT_EQ(revoked->size(), 1u);
  EXPECT_EQ((*revoked)[0], std::pair(b->serial, 2026));
  EXPECT_TRUE(ledger_->cards().RevokedSerials(2027, 2028)->empty());
  EXPECT_TRUE(ledger_->cards().FindCard(b->serial)->revoked);
}

// The SQLite connection keeps its prepared statements and reuses them: each use binds its own
// parameters, and a finished use holds no read snapshot, so a second connection's writes show.
// The revocation list's sequence number: the audit entry of the newest revocation of any card
// year, read with the list in one statement. It moves only when a card is revoked, never back,
// and every instance on the ledger (and a restarted one) reads the same.
TEST_P(LedgerTest, RevocationSequenceIsTheNewestRevocationForEveryInstance) {
  ImportSmallRoster(2025);
  ImportSmallRoster(2026);
  auto empty = ledger_->cards().Revocations(2026, 2027);
  ASSERT_TRUE(empty.has_value()) << empty.error().message;
  EXPECT_EQ(empty->sequence, 0);
  EXPECT_TRUE(empty->revoked.empty());
  std::vector<std::string> s;
  for (const char* who : {"T1", "T2", "T3"}) s.push_back(ledger_->cards().IssueDigital(who, 2026)->serial);
  auto old_card = ledger_->cards().IssueDigital("T1", 2025);
  ASSERT_TRUE(old_card);
  EXPECT_EQ(ledger_->cards().Revocations(2026, 2027)->sequence, 0);

  ASSERT_TRUE(ledger_->cards().Revoke(s[2], "lost").has_value());
  auto first = ledger_->cards().Revocations(2026, 2027);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->sequence, ledger_->cards().FindCard(s[2])->update_tag);
  EXPECT_EQ(std::to_string(first->sequence),
            backend_->Value("SELECT max(seq) FROM audit_log WHERE action = 'revoke'"));
  EXPECT_EQ(first->revoked, (std::vector<std::pair<std::string, int>>{{s[2], 2026}}));

  // Other writes move the audit log, not the sequence.
  ASSERT_TRUE(ledger_->cards().IssueDigital("T2", 2025));
  ASSERT_TRUE(ledger_->access().AddCredential(CredentialKind::kStaff, "someone"));
  EXPECT_EQ(ledger_->cards().Revocations(2026, 2027)->sequence, first->sequence);

  // Another instance on the same ledger reads the same, and its revocation moves it for both.
  auto other = Open();
  ASSERT_TRUE(other);
  EXPECT_EQ(other->cards().Revocations(2026, 2027)->sequence, first->sequence);
  ASSERT_TRUE(other->cards().Revoke(s[0], "left").has_value());
  auto second = ledger_->cards().Revocations(2026, 2027);
  ASSERT_TRUE(second.has_value());
  EXPECT_GT(second->sequence, first->sequence);
  std::vector<std::pair<std::string, int>> both = {{s[0], 2026}, {s[2], 2026}};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(second->revoked, both);
  EXPECT_EQ(second->revoked, *ledger_->cards().RevokedSerials(2026, 2027));

  // A revocation outside the asked card years still moves it (the window may move back over it
  // later, and a list must never look older than one sent before).
  ASSERT_TRUE(ledger_->cards().Revoke(old_card->serial, "left").has_value());
  auto third = ledger_->cards().Revocations(2026, 2027);
  ASSERT_TRUE(third.has_value());
  EXPECT_GT(third->sequence, second->sequence);
  EXPECT_EQ(third->revoked, second->revoked);
  auto wider = ledger_->cards().Revocations(2025, 2027);
  ASSERT_TRUE(wider.has_value());
  EXPECT_EQ(wider->sequence, third->sequence);
  ASSERT_EQ(wider->revoked.size(), 3u);
  EXPECT_EQ(wider->revoked[0], std::pair(old_card->serial, 2025));  // by card year, then serial

  // A restarted instance reads the same.
  other.reset();
  ledger_ = Open();
  ASSERT_TRUE(ledger_);
  EXPECT_EQ(ledger_->cards().Revocations(2026, 2027)->sequence, third->sequence);
  ExpectVerified("after the revocations");
}

// Counts rows as text, to compare two whole reports.
std::string Describe(const Result<std::vector<CountsRow>>& rows) {
  if (!rows) return "error: " + rows.error().message;
  std::string out;
  for (const CountsRow& r : *rows)
    out += r.period + "|" + r.group.value_or("-") + "|" + std::to_string(r.eligible.value_or(-1)) + "|" +
           std::to_string(r.digital) + "|" + std::to_string(r.library) + "|" + std::to_string(r.holders) +
           "|" + std::to_string(r.digital_only) + "|" + std::to_string(r.physical_only) + "|" +
           std::to_string(r.both) + "\n";
  return out;
}

// A teacher moves the card to a new phone: one active digital card per holder per card year,
// not one ever. The old card is revoked (and on the revocation list), the replacement has a new
// serial and access token, no count moves, a second submit moves nothing, and the audit chain
// (which records the revocation, the replacement and its fingerprint) verifies.
TEST_P(LedgerTest, MovingACardToANewDeviceRevokesItAndIssuesAReplacement) {
  ImportSmallRoster();
  ASSERT_TRUE(ledger_->imports().ImportChannel(Channel::kLibrary,
                                               Write("l.csv", "staff_id,date\nT1,2026-01-05\n"), 2026));
  auto first = ledger_->cards().IssueDigital("T1", 2026), other = ledger_->cards().IssueDigital("T2", 2026);
  ASSERT_TRUE(first && other);
  const auto calendar = Describe(ledger_->counts().Query({Period::kCalendar, Dimension::kProvince}));
  const auto school = Describe(ledger_->counts().Query({Period::kSchool, Dimension::kNone}));
  const auto school_by = Describe(ledger_->counts().Query({Period::kSchool, Dimension::kLevel}));
  const std::string entries_before = backend_->Value("SELECT count(*) FROM audit_log");

  clock_.Advance(hours(24 * 240));  // the move happens in the next school year (29 September)
  auto moved = ledger_->cards().ReplaceDigital(first->serial, "moved to a new device");
  ASSERT_TRUE(moved.has_value()) << moved.error().message;
  EXPECT_TRUE(moved->is_new);
  EXPECT_NE(moved->serial, first->serial);
  EXPECT_EQ(moved->serial.size(), 12u);
  EXPECT_EQ(moved->year, 2026);
  EXPECT_FALSE(moved->revoked);
  EXPECT_NE(moved->auth_token, first->auth_token);

  auto old_card = ledger_->cards().FindCard(first->serial);
  ASSERT_TRUE(old_card.has_value());
  EXPECT_TRUE(old_card->revoked);
  EXPECT_EQ(old_card->revoked_reason, "moved to a new device");
  EXPECT_EQ(old_card->replaced_by, moved->serial);
  EXPECT_EQ(old_card->update_tag, moved->update_tag);
  auto new_card = ledger_->cards().FindCard(moved->serial);
  ASSERT_TRUE(new_card.has_value());
  EXPECT_FALSE(new_card->revoked);
  EXPECT_EQ(new_card->replaced_by, "");
  EXPECT_EQ(new_card->year, 2026);
  EXPECT_EQ(new_card->auth_token, moved->auth_token);
  EXPECT_EQ(backend_->Value("SELECT issued_on FROM cards WHERE serial = '" + moved->serial + "'"),
            backend_->Value("SELECT issued_on FROM cards WHERE serial = '" + first->serial + "'"));

  auto list = ledger_->cards().Revocations(2026, 2026);
  ASSERT_TRUE(list.has_value()) << list.error().message;
  EXPECT_EQ(list->revoked, (std::vector<std::pair<std::string, int>>{{first->serial, 2026}}));
  EXPECT_EQ(list->sequence, moved->update_tag);

  // Nobody counted twice, nobody lost: every view reads as before the move.
  EXPECT_EQ(Describe(ledger_->counts().Query({Period::kCalendar, Dimension::kProvince})), calendar);
  EXPECT_EQ(Describe(ledger_->counts().Query({Period::kSchool, Dimension::kNone})), school);
  EXPECT_EQ(Describe(ledger_->counts().Query({Period::kSchool, Dimension::kLevel})), school_by);
  EXPECT_EQ(Total(Channel::kDigital, 2026), 2);
  EXPECT_EQ(std::to_string(std::stoll(entries_before) + 1),
            backend_->Value("SELECT count(*) FROM audit_log"));
  EXPECT_EQ(backend_->Value("SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1"), "replace digital");
  ExpectVerified("after the move");

  // A second submit of the same form: the same replacement, nothing written.
  auto again = ledger_->cards().ReplaceDigital(first->serial, "moved to a new device");
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_FALSE(again->is_new);
  EXPECT_EQ(again->serial, moved->serial);
  EXPECT_EQ(again->auth_token, moved->auth_token);
  EXPECT_EQ(std::to_string(std::stoll(entries_before) + 1),
            backend_->Value("SELECT count(*) FROM audit_log"));
  // Issuing, a batch and a re-import see the current card.
  auto issued = ledger_->cards().IssueDigital("T1", 2026);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  EXPECT_EQ(issued->serial, moved->serial);
  EXPECT_FALSE(issued->is_new);
  EXPECT_FALSE(issued->revoked);
  auto batch = ledger_->cards().IssueDigitalBatch({"T2", "T1", "T3"}, 2026);
  ASSERT_TRUE(batch.has_value()) << batch.error().message;
  EXPECT_EQ((*batch)[1].serial, moved->serial);
  EXPECT_FALSE((*batch)[1].is_new);
  EXPECT_TRUE((*batch)[2].is_new);
  auto lib = ledger_->imports().ImportChannel(Channel::kLibrary,
                                              Write("l2.csv", "staff_id,date\nT1,2026-01-05\n"), 2026);
  ASSERT_TRUE(lib.has_value()) << lib.error().message;
  EXPECT_EQ(lib->added, 0u);
  const auto with_t3 = Describe(ledger_->counts().Query({Period::kCalendar, Dimension::kProvince}));

  // Lost again: a third serial; both earlier ones stay revoked.
  auto third = ledger_->cards().ReplaceDigital(moved->serial, "moved to a new device");
  ASSERT_TRUE(third.has_value()) << third.error().message;
  EXPECT_TRUE(third->is_new);
  EXPECT_NE(third->serial, moved->serial);
  EXPECT_NE(third->serial, first->serial);
  EXPECT_EQ(ledger_->cards().ReplaceDigital(first->serial, "moved to a new device")->serial, third->serial);
  EXPECT_EQ(ledger_->cards().RevokedSerials(2026, 2026)->size(), 2u);
  EXPECT_EQ(
      backend_->Value("SELECT count(*) FROM cards c JOIN roster r ON r.id = c.roster_id WHERE "
                      "c.channel = 'digital' AND c.status = 'active' AND r.staff_key = (SELECT staff_key "
                      "FROM roster r2 JOIN cards c2 ON c2.roster_id = r2.id WHERE c2.serial = '" +
                      first->serial + "')"),
      "1");
  EXPECT_EQ(Describe(ledger_->counts().Query({Period::kCalendar, Dimension::kProvince})), with_t3);
  ExpectVerified("after the second move");

  // What cannot move: an unknown serial, a physical card, a card staff revoked, no reason.
  EXPECT_EQ(ledger_->cards().ReplaceDigital("NOSUCHSERIAL", "x").error().code, Code::kNotFound);
  const std::string library = backend_->Value("SELECT serial FROM cards WHERE channel = 'library'");
  EXPECT_EQ(ledger_->cards().ReplaceDigital(library, "x").error().code, Code::kFailedPrecondition);
  ASSERT_TRUE(ledger_->cards().Revoke(other->serial, "left the school").has_value());
  auto revoked = ledger_->cards().ReplaceDigital(other->serial, "moved to a new device");
  ASSERT_FALSE(revoked.has_value());
  EXPECT_EQ(revoked.error().code, Code::kFailedPrecondition);
  EXPECT_THAT(revoked.error().message, HasSubstr("revoked"));
  EXPECT_EQ(ledger_->cards().ReplaceDigital(third->serial, "  ").error().code, Code::kInvalidArgument);
  ExpectVerified("after the refusals");
}

// Two submits at the same moment (two threads, or two service instances on one ledger) move the
// card once: one replacement, the other caller gets the same one.
TEST_P(LedgerTest, ConcurrentMovesOfOneCardMakeOneReplacement) {
  ImportSmallRoster();
  auto card = ledger_->cards().IssueDigital("T1", 2026);
  ASSERT_TRUE(card);
  auto second = Open();
  ASSERT_TRUE(second);
  std::barrier start(2);
  Result<IssuedCard> a, b;
  std::thread t1([&] {
    start.arrive_and_wait();
    a = ledger_->cards().ReplaceDigital(card->serial, "moved to a new device");
  });
  std::thread t2([&] {
    start.arrive_and_wait();
    b = second->cards().ReplaceDigital(card->serial, "moved to a new device");
  });
  t1.join();
  t2.join();
  ASSERT_TRUE(a.has_value()) << a.error().message;
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_EQ(a->serial, b->serial);
  EXPECT_NE(a->is_new, b->is_new);
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM cards WHERE status = 'active'"), "1");
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM audit_log WHERE action = 'replace digital'"), "1");
  ExpectVerified("after two concurrent moves");
}

// Migration 11 turns a ledger that allowed one digital card per holder ever into one that
// allows one active per year: existing cards, the aggregates and the audit chain carry over.
TEST_P(LedgerTest, MigrationElevenKeepsExistingCardsAndLetsThemMove) {
  ImportSmallRoster();
  auto card = ledger_->cards().IssueDigital("T1", 2026);
  ASSERT_TRUE(card && ledger_->cards().IssueDigital("T2", 2026));
  ASSERT_TRUE(ledger_->cards().AttachToken(card->serial, "token-one", clock_.Now()));
  ASSERT_TRUE(ledger_->cards().Revoke(ledger_->cards().IssueDigital("T3", 2026)->serial, "left"));
  const auto before = Describe(ledger_->counts().Query({Period::kCalendar, Dimension::kProvince}));
  ledger_.reset();
  // Back to the cards table of migrations 1-10, as an older build left it.
  if (GetParam() == "sqlite") {
    ASSERT_EQ(
        backend_->Sql(
            "CREATE TABLE cards_old (serial TEXT PRIMARY KEY CHECK (length(serial) = 12), roster_id BIGINT "
            "NOT NULL REFERENCES roster (id), channel TEXT NOT NULL, issued_on TEXT NOT NULL, school_year "
            "INTEGER NOT NULL, status TEXT NOT NULL, revoked_reason TEXT, revoked_at BIGINT, auth_token "
            "TEXT, update_tag BIGINT NOT NULL, audit_seq BIGINT NOT NULL, qr_token TEXT, qr_token_at "
            "BIGINT, UNIQUE (roster_id, channel)); INSERT INTO cards_old SELECT serial, roster_id, channel, "
            "issued_on, school_year, status, revoked_reason, revoked_at, auth_token, update_tag, audit_seq, "
            "qr_token, qr_token_at FROM cards; DROP TABLE cards; ALTER TABLE cards_old RENAME TO cards; "
            "CREATE INDEX cards_audit_seq ON cards (audit_seq); CREATE INDEX cards_revoked ON cards "
            "(roster_id) WHERE status = 'revoked'"),
        "");
  } else {
    ASSERT_EQ(
        backend_->Sql("DROP INDEX cards_current; ALTER TABLE cards DROP COLUMN replaced_by; ALTER TABLE "
                      "cards ADD CONSTRAINT cards_roster_id_channel_key UNIQUE (roster_id, channel)"),
        "");
  }
  ASSERT_EQ(backend_->Sql("DELETE FROM schema_migrations WHERE version = 11"), "");
  // The rebuilt SQLite table lacks the later columns too (migration 15: wallet_serial).
  if (GetParam() == "sqlite") {
    ASSERT_EQ(backend_->Sql("DELETE FROM schema_migrations WHERE version = 15"), "");
  }
  ledger_ = Open();
  ASSERT_NE(ledger_, nullptr);
  ExpectVerified("after migration 11");
  EXPECT_EQ(Describe(ledger_->counts().Query({Period::kCalendar, Dimension::kProvince})), before);
  EXPECT_EQ(ledger_->cards().FindCard(card->serial)->token, "token-one");
  auto moved = ledger_->cards().ReplaceDigital(card->serial, "moved to a new device");
  ASSERT_TRUE(moved.has_value()) << moved.error().message;
  EXPECT_TRUE(moved->is_new);
  EXPECT_EQ(Describe(ledger_->counts().Query({Period::kCalendar, Dimension::kProvince})), before);
  ExpectVerified("after a move on the migrated ledger");
}

TEST_P(LedgerTest, RepeatedLookupsSeeTheirOwnParametersAndOtherConnectionsWrites) {
  ImportSmallRoster();
  auto other = Open();
  ASSERT_TRUE(other);
  auto a = ledger_->cards().IssueDigital("T1", 2026);
  ASSERT_TRUE(a);
  for (int i = 0; i < 3; ++i) {
    auto found = ledger_->cards().FindCard(a->serial);
    ASSERT_TRUE(found.has_value()) << found.error().message;
    EXPECT_EQ(found->serial, a->serial);
    EXPECT_FALSE(found->revoked);
    EXPECT_EQ(ledger_->cards().FindCard("NOSUCHSERIAL").error().code, Code::kNotFound);
  }
  auto b = other->cards().IssueDigital("T2", 2026);
  ASSERT_TRUE(b);
  auto found_b = ledger_->cards().FindCard(b->serial);
  ASSERT_TRUE(found_b.has_value()) << found_b.error().message;
  EXPECT_EQ(found_b->serial, b->serial);
  EXPECT_EQ(found_b->auth_token, b->auth_token);
  EXPECT_TRUE(ledger_->cards().RevokedSerials(2025, 2027)->empty());
  ASSERT_TRUE(other->cards().Revoke(a->serial, "lost").has_value());
  EXPECT_TRUE(ledger_->cards().FindCard(a->serial)->revoked);
  EXPECT_FALSE(ledger_->cards().FindCard(b->serial)->revoked);
  auto revoked = ledger_->cards().RevokedSerials(2025, 2027);
  ASSERT_TRUE(revoked.has_value());
  EXPECT_EQ(*revoked, (std::vector<std::pair<std::string, int>>{{a->serial, 2026}}));
}

// A replacement recorded in the audit entry of the move: pointing the old card at another
// card, or reviving it, is named.
TEST_P(AuditTamperTest, EditedReplacementIsNamed) {
  MakeHistory();
  auto t1 = ledger_->cards().IssueDigital("T1", 2026);
  ASSERT_TRUE(t1);
  auto moved = ledger_->cards().ReplaceDigital(t1->serial, "moved to a new device");
  ASSERT_TRUE(moved.has_value()) << moved.error().message;
  ExpectVerified("before tampering");
  ASSERT_EQ(
      backend_->Sql("UPDATE cards SET replaced_by = 'ZZZZZZZZZZZZ' WHERE serial = '" + t1->serial + "'"), "");
  auto v = ledger_->audit().Verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->bad_card, t1->serial);
  EXPECT_THAT(v->problem, HasSubstr("its replacement differs from audit entry"));
}

LK_ON_EVERY_BACKEND(AuditTamperTest);

TEST(ProvinceTest, BelgianPostcodeRanges) {
  EXPECT_EQ(*ProvinceOfPostcode(1000), "Brussel");
  EXPECT_EQ(*ProvinceOfPostcode(1299), "Brussel");
  EXPECT_EQ(*ProvinceOfPostcode(1300), "Waals-Brabant");
  EXPECT_EQ(*ProvinceOfPostcode(1500), "Vlaams-Brabant");
  EXPECT_EQ(*ProvinceOfPostcode(3000), "Vlaams-Brabant");
  EXPECT_EQ(*ProvinceOfPostcode(3500), "Limburg");
  EXPECT_EQ(*ProvinceOfPostcode(2600), "Antwerpen");
  EXPECT_EQ(*ProvinceOfPostcode(4000), "Luik");
  EXPECT_EQ(*ProvinceOfPostcode(5000), "Namen");
  EXPECT_EQ(*ProvinceOfPostcode(6599), "Henegouwen");
  EXPECT_EQ(*ProvinceOfPostcode(6600), "Luxemburg");
  EXPECT_EQ(*ProvinceOfPostcode(7000), "Henegouwen");
  EXPECT_EQ(*ProvinceOfPostcode(8000), "West-Vlaanderen");
  EXPECT_EQ(*ProvinceOfPostcode(9999), "Oost-Vlaanderen");
  EXPECT_EQ(ProvinceOfPostcode(999).error().code, Code::kInvalidArgument);
}

TEST(LedgerOpenTest, RejectsOtherUrlSchemes) {
  FakeClock clock(sys_days(2026y / January / 1));
  auto l = OpenLedger({.url = "mysql://x"}, clock);
  ASSERT_FALSE(l.has_value());
  EXPECT_EQ(l.error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace lk::ledger
