// The ledger under faults of what it stands on, with real servers and real file systems:
// PostgreSQL stopped, crashed and restarted between and during operations (a server of the
// test's own), and SQLite on a small tmpfs that fills up or is mounted read-only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <chrono>
#include <functional>
#include <future>
#include <thread>

#include "ledger/ledger.h"
#include "tests/testing/postgres_cluster.h"
#include "tests/testing/scratch_disk.h"
#include "tests/testing/testing.h"

namespace lk::ledger {
namespace {
using ::testing::HasSubstr;
using namespace std::chrono;
namespace fs = std::filesystem;

const char* kRosterHeader =
    "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n";

// A roster of `n` staff S1..Sn.
std::string Roster(int n) {
  std::string csv = kRosterHeader;
  for (int i = 1; i <= n; ++i)
    csv += "S" + std::to_string(i) + ",Voornaam,Achternaam,teaching,GO,basic,12345,2000,no\n";
  return csv;
}

// What every fault test shares: a fake clock, a temporary folder, one ledger and its checks.
class FaultTest : public ::testing::Test {
 protected:
  std::unique_ptr<Ledger> Open() {
    auto l = OpenLedger(options_, clock_);
    EXPECT_TRUE(l.has_value()) << l.error().message;
    return l ? std::move(*l) : nullptr;
  }
  fs::path Write(const std::string& name, const std::string& content) {
    lk::testing::WriteText(dir_ / name, content);
    return dir_ / name;
  }
  void ImportRoster(int n, int year = 2026) {
    auto r =
        ledger_->imports().ImportRoster(Write("roster-" + std::to_string(year) + ".csv", Roster(n)), year);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    ASSERT_EQ(r->added, static_cast<uint64_t>(n));
  }
  // A roster of three (S1..S3) and S1's card.
  IssuedCard FirstCard() {
    ImportRoster(3);
    auto card = ledger_->cards().IssueDigital("S1", 2026);
    EXPECT_TRUE(card.has_value()) << card.error().message;
    return card.value_or(IssuedCard{});
  }
  void ExpectVerified(const std::string& step) {
    auto v = ledger_->audit().Verify();
    ASSERT_TRUE(v.has_value()) << step << ": " << v.error().message;
    EXPECT_TRUE(v->ok) << step << ": " << v->problem;
  }
  int64_t Cards(Channel channel) {
    auto rows = ledger_->counts().Query({Period::kCalendar, Dimension::kNone, 2026, 2026});
    EXPECT_TRUE(rows.has_value()) << rows.error().message;
    if (!rows || rows->empty()) return 0;
    return channel == Channel::kDigital ? rows->front().digital : rows->front().subscription;
  }

  lk::testing::TempDir dir_;
  FakeClock clock_{sys_days(2026y / February / 1) + 12h};
  LedgerOptions options_;
  std::unique_ptr<Ledger> ledger_;
};

// ---------------------------------------------------------------------------------------------
// PostgreSQL: a server of the test's own, so stopping it disturbs no other suite.

class PostgresFaultTest : public FaultTest {
 protected:
  static void SetUpTestSuite() {
    cluster_dir_ = new lk::testing::TempDir;
    cluster_ptr_ = new lk::testing::PostgresCluster(cluster_dir_->path());
  }
  static void TearDownTestSuite() {
    delete cluster_ptr_;
    delete cluster_dir_;
  }
  void SetUp() override {
    if (!cluster_.reason().empty()) GTEST_SKIP() << cluster_.reason();
    ASSERT_EQ(cluster_.error(), "");
    db_ = "t_" + HexEncode(RandomBytes(6));
    cluster_.Sql("CREATE DATABASE " + db_);
    // Server defaults unlike the ledger's session settings: a replacement session that missed
    // them would read dates back as 01/02/2026.
    cluster_.Sql("ALTER DATABASE " + db_ + " SET DateStyle = 'SQL, DMY'");
    options_.url = cluster_.url(db_);
    options_.data_dir = dir_.path();
    ledger_ = Open();
    ASSERT_NE(ledger_, nullptr);
  }
  std::string Sql(const std::string& sql) { return cluster_.Sql(sql, db_); }
  // The issue dates of card year 2026's digital cards as the ledger reads them.
  std::vector<std::string> IssueDates() {
    std::vector<std::string> out;
    auto r = ledger_->cards().ForEachDigitalCard(2026, [&](const Card& c) { out.push_back(c.issued_on); });
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return out;
  }
  // Runs `write` while a session of the test's own holds the audit head row: the ledger's write
  // transaction does all its work (cards, roster entries, the audit entry) and then waits at its
  // last statement, UPDATE audit_head. The server is restarted (`mode`) while it waits.
  template <typename T>
  Result<T> InterruptAtCommit(const std::function<Result<T>()>& write, const std::string& mode) {
    PGconn* holder = PQconnectdb(options_.url.c_str());
    EXPECT_EQ(PQstatus(holder), CONNECTION_OK) << PQerrorMessage(holder);
    PQclear(PQexec(holder, "BEGIN; SELECT 1 FROM audit_head FOR UPDATE"));
    auto pending = std::async(std::launch::async, write);
    bool waiting = false;
    for (auto until = steady_clock::now() + 60s; !waiting && steady_clock::now() < until;) {
      waiting = Sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                    "wait_event_type = 'Lock' AND query LIKE 'UPDATE audit_head%'") == "1";
      if (!waiting) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(waiting) << "the ledger's transaction never reached UPDATE audit_head";
    EXPECT_EQ(cluster_.Restart(mode), "");
    auto result = pending.get();
    PQfinish(holder);
    return result;
  }
  // The same, for a restart that must cut the write: returns its error.
  template <typename T>
  Error CutAtCommit(const std::function<Result<T>()>& write, const std::string& mode) {
    auto result = InterruptAtCommit(write, mode);
    EXPECT_FALSE(result.has_value()) << "the write survived a server crash in the middle of its transaction";
    return result ? Error{} : result.error();
  }

  static inline lk::testing::TempDir* cluster_dir_ = nullptr;
  static inline lk::testing::PostgresCluster* cluster_ptr_ = nullptr;
  lk::testing::PostgresCluster& cluster_ = *cluster_ptr_;
  std::string db_;
};

// A restart while the ledger is idle costs nothing: the next operation finds the closed
// connection, opens another with the same session settings and goes on. Also after a crash.
TEST_F(PostgresFaultTest, RestartBetweenOperationsIsInvisible) {
  ImportRoster(4);
  ASSERT_TRUE(ledger_->cards().IssueDigital("S1", 2026).has_value());
  int staff = 2;
  for (std::string mode : {"fast", "immediate"}) {
    ASSERT_EQ(cluster_.Restart(mode), "");
    auto card = ledger_->cards().IssueDigital("S" + std::to_string(staff++), 2026);
    ASSERT_TRUE(card.has_value()) << mode << ": " << card.error().message;
    EXPECT_TRUE(card->is_new);
    EXPECT_THAT(IssueDates(), ::testing::Each(std::string("2026-02-01"))) << mode;
  }
  ASSERT_EQ(cluster_.Restart("fast"), "");
  // A channel import stages its rows in a temporary table: the new session makes its own.
  auto subs = ledger_->imports().ImportChannel(Channel::kSubscription,
                                               Write("subs.csv", "staff_id,date\nS1,2026-01-05\n"), 2026);
  ASSERT_TRUE(subs.has_value()) << subs.error().message;
  EXPECT_EQ(subs->added, 1u);
  EXPECT_EQ(Cards(Channel::kDigital), 3);
  ExpectVerified("after three restarts");
}

// While the server is down every operation fails at once with kUnavailable and says the ledger
// is unreachable; once it is back the same ledger object works again by itself.
TEST_F(PostgresFaultTest, DownServerFailsFastThenRecovers) {
  options_.url += "?application_name=lerarenkaart&password=s3cret";  // must never be shown
  ledger_ = Open();
  const IssuedCard first = FirstCard();
  ASSERT_EQ(cluster_.Stop("fast"), "");
  std::vector<std::pair<std::string, std::function<Result<>()>>> operations = {
      {"find",
       [&]() -> Result<> {
         auto r = ledger_->cards().FindCard(first.serial);
         return r ? Result<>() : std::unexpected(r.error());
       }},
      {"issue",
       [&]() -> Result<> {
         auto r = ledger_->cards().IssueDigital("S2", 2026);
         return r ? Result<>() : std::unexpected(r.error());
       }},
      {"verify",
       [&]() -> Result<> {
         auto r = ledger_->audit().Verify();
         return r ? Result<>() : std::unexpected(r.error());
       }},
  };
  for (int round = 0; round < 2; ++round) {
    for (auto& [name, op] : operations) {
      auto start = steady_clock::now();
      auto r = op();
      auto took = steady_clock::now() - start;
      ASSERT_FALSE(r.has_value()) << name;
      EXPECT_EQ(r.error().code, Code::kUnavailable) << name << ": " << r.error().message;
      EXPECT_THAT(r.error().message, HasSubstr("the ledger at postgresql://postgres@127.0.0.1:")) << name;
      EXPECT_THAT(r.error().message, HasSubstr("is unreachable")) << name;
      EXPECT_THAT(r.error().message, ::testing::Not(HasSubstr("s3cret"))) << name;
      EXPECT_LT(took, 2s) << name << " waited for a server that is down";
    }
    std::this_thread::sleep_for(1100ms);  // past the pause between connection attempts
  }
  ASSERT_EQ(cluster_.Start(), "");
  Result<IssuedCard> second = Fail(Code::kUnavailable, "not tried");
  for (auto until = steady_clock::now() + 10s; !second && steady_clock::now() < until;
       std::this_thread::sleep_for(100ms))
    second = ledger_->cards().IssueDigital("S2", 2026);
  ASSERT_TRUE(second.has_value()) << "no recovery: " << second.error().message;
  EXPECT_TRUE(second->is_new);
  EXPECT_EQ(Sql("SELECT count(*) FROM cards"), "2");
  ExpectVerified("after the outage");
}

// A transaction cut by a crash (an immediate shutdown: no session lets go of its locks, so the
// waiting transaction can only die) fails with kUnavailable, leaves nothing of itself behind,
// and the ledger carries on with a new connection: one card, then a 20,000-row roster import.
TEST_F(PostgresFaultTest, TransactionCutByCrashStoresNothing) {
  ImportRoster(3);
  const std::string entries = Sql("SELECT count(*) FROM audit_log");
  Error cut = CutAtCommit<IssuedCard>([&] { return ledger_->cards().IssueDigital("S1", 2026); }, "immediate");
  EXPECT_EQ(cut.code, Code::kUnavailable) << cut.message;
  EXPECT_THAT(cut.message, HasSubstr("lost the connection to the ledger"));
  EXPECT_THAT(cut.message, HasSubstr("rolled back, nothing of it was stored"));
  EXPECT_EQ(Sql("SELECT count(*) FROM cards"), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM audit_log"), entries);
  ExpectVerified("after the cut issue");
  auto again = ledger_->cards().IssueDigital("S1", 2026);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_TRUE(again->is_new);

  const auto roster = Write("big.csv", Roster(20000));
  Error cut_import =
      CutAtCommit<ImportSummary>([&] { return ledger_->imports().ImportRoster(roster, 2027); }, "immediate");
  EXPECT_EQ(cut_import.code, Code::kUnavailable) << cut_import.message;
  EXPECT_THAT(cut_import.message, HasSubstr("rolled back, nothing of it was stored"));
  EXPECT_EQ(Sql("SELECT count(*) FROM roster WHERE card_year = 2027"), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM card_years WHERE year = 2027"), "0");
  ExpectVerified("after the cut import");
  auto import = ledger_->imports().ImportRoster(roster, 2027);
  ASSERT_TRUE(import.has_value()) << import.error().message;
  EXPECT_EQ(import->added, 20000u);
  ExpectVerified("after the import");
}

// A fast restart ends every session at once, so the session holding the lock may go first and
// the cut transaction may get as far as its COMMIT. Whatever the race, the write is all or
// nothing, its answer does not claim more than is known, and a retry returns the same card.
TEST_F(PostgresFaultTest, TransactionCutByFastRestartIsAllOrNothing) {
  ImportRoster(3);
  const int entries = std::stoi(Sql("SELECT count(*) FROM audit_log"));
  auto cut = InterruptAtCommit<IssuedCard>([&] { return ledger_->cards().IssueDigital("S1", 2026); }, "fast");
  const int cards = std::stoi(Sql("SELECT count(*) FROM cards"));
  EXPECT_EQ(std::stoi(Sql("SELECT count(*) FROM audit_log")), entries + cards);
  if (cut) {
    EXPECT_EQ(cards, 1);
  } else {
    EXPECT_EQ(cut.error().code, Code::kUnavailable) << cut.error().message;
    EXPECT_THAT(cut.error().message, HasSubstr("lost the connection to the ledger"));
    if (cards == 1) {
      EXPECT_THAT(cut.error().message, HasSubstr("whether the change was stored is unknown"));
    }
  }
  ExpectVerified("after the restart");
  auto again = ledger_->cards().IssueDigital("S1", 2026);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->is_new, cards == 0);
  if (cut) {
    EXPECT_EQ(again->serial, cut->serial);
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM cards"), "1");
}

// ---------------------------------------------------------------------------------------------
// SQLite on a tmpfs of its own: filled up, or mounted read-only.

class SqliteDiskFaultTest : public FaultTest {
 protected:
  void SetUp() override {
    disk_ = std::make_unique<lk::testing::ScratchDisk>(dir_ / "disk", "16m");
    if (!disk_->mounted()) GTEST_SKIP() << disk_->error();
    file_ = (disk_->path() / "ledger.sqlite").string();
    options_.url = file_;
    options_.data_dir = dir_.path();
    ledger_ = Open();
    ASSERT_NE(ledger_, nullptr);
  }
  void TearDown() override {
    ledger_.reset();
    disk_.reset();
  }
  // PRAGMA integrity_check from a connection of its own.
  std::string IntegrityCheck() {
    sqlite3* db = nullptr;
    std::string out;
    if (sqlite3_open_v2(file_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW)
          out += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      sqlite3_finalize(st);
    }
    if (out.empty()) out = sqlite3_errmsg(db);
    sqlite3_close(db);
    return out;
  }
  // Staff "S<first>".."S<first + n - 1>".
  static std::vector<std::string> Staff(int first, int n) {
    std::vector<std::string> ids;
    for (int i = first; i < first + n; ++i) ids.push_back("S" + std::to_string(i));
    return ids;
  }

  std::unique_ptr<lk::testing::ScratchDisk> disk_;
  std::string file_;
};

// Cards are issued in batches until the full disk refuses one. Every card acknowledged before
// stays; the refusal names the file and what to do; reads go on; the file is intact; once
// space is freed the same ledger object writes again.
TEST_F(SqliteDiskFaultTest, FullDiskRefusesWritesClearlyAndRecoversWhenSpaceReturns) {
  ImportRoster(3000);
  ASSERT_EQ(disk_->Fill(), "");
  std::vector<IssuedCard> acknowledged;
  std::optional<Error> refused;
  int next = 1;
  for (; next <= 3000 && !refused; next += 100) {
    auto batch = ledger_->cards().IssueDigitalBatch(Staff(next, 100), 2026);
    if (batch)
      acknowledged.insert(acknowledged.end(), batch->begin(), batch->end());
    else
      refused = batch.error();
  }
  ASSERT_TRUE(refused.has_value()) << "3,000 cards fitted on a full disk";
  EXPECT_EQ(refused->code, Code::kUnavailable) << refused->message;
  EXPECT_THAT(refused->message, HasSubstr("the disk holding the ledger " + file_ + " is full"));
  EXPECT_THAT(refused->message, HasSubstr("free space, then retry"));
  // A channel import (its CSV is elsewhere) is refused the same way and adds nothing.
  auto subs = ledger_->imports().ImportChannel(
      Channel::kSubscription, Write("subs.csv", "staff_id,date\nS1,2026-01-05\nS2,2026-01-06\n"), 2026);
  ASSERT_FALSE(subs.has_value());
  EXPECT_THAT(subs.error().message, HasSubstr("is full"));
  // Reads work on the full disk.
  EXPECT_EQ(Cards(Channel::kDigital), static_cast<int64_t>(acknowledged.size()));
  EXPECT_EQ(Cards(Channel::kSubscription), 0);
  for (const auto& card : acknowledged) {
    auto found = ledger_->cards().FindCard(card.serial);
    ASSERT_TRUE(found.has_value()) << card.serial << ": " << found.error().message;
  }
  ExpectVerified("on the full disk");
  EXPECT_EQ(IntegrityCheck(), "ok");

  disk_->Free();
  auto retried = ledger_->cards().IssueDigitalBatch(Staff(next - 100, 100), 2026);
  ASSERT_TRUE(retried.has_value()) << retried.error().message;
  subs = ledger_->imports().ImportChannel(Channel::kSubscription, dir_ / "subs.csv", 2026);
  ASSERT_TRUE(subs.has_value()) << subs.error().message;
  EXPECT_EQ(subs->added, 2u);
  EXPECT_EQ(Cards(Channel::kDigital), static_cast<int64_t>(acknowledged.size() + 100));
  ExpectVerified("after space returned");
  EXPECT_EQ(IntegrityCheck(), "ok");
}

// A ledger opened on a read-only file system (a service started on it, `ledger verify` run on
// it) reads; writes fail naming the file system; once it is remounted read-write, the same
// ledger object writes again.
TEST_F(SqliteDiskFaultTest, ReadOnlyFileSystemServesReadsAndRecoversWhenWritable) {
  const IssuedCard first = FirstCard();
  ledger_.reset();  // a mount with a file open for writing cannot be made read-only
  ASSERT_EQ(disk_->Remount(true), "");
  ledger_ = Open();
  ASSERT_NE(ledger_, nullptr);
  auto found = ledger_->cards().FindCard(first.serial);
  ASSERT_TRUE(found.has_value()) << found.error().message;
  EXPECT_EQ(Cards(Channel::kDigital), 1);
  ExpectVerified("read-only");
  auto refused = ledger_->cards().IssueDigital("S2", 2026);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Code::kUnavailable) << refused.error().message;
  EXPECT_THAT(refused.error().message,
              HasSubstr("the file system holding the ledger " + file_ + " is read-only"));
  EXPECT_THAT(refused.error().message, HasSubstr("make it writable"));

  ASSERT_EQ(disk_->Remount(false), "");
  auto second = ledger_->cards().IssueDigital("S2", 2026);
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_TRUE(second->is_new);
  EXPECT_EQ(Cards(Channel::kDigital), 2);
  ExpectVerified("writable again");
  EXPECT_EQ(IntegrityCheck(), "ok");
}

// A ledger whose -wal file still holds committed changes (a crash image) cannot be read on a
// read-only file system without them: it is refused, not read stale; once writable, it opens
// with them.
TEST_F(SqliteDiskFaultTest, UncheckpointedLedgerOnReadOnlyFileSystemIsRefusedNotReadStale) {
  const IssuedCard card = FirstCard();
  ASSERT_GT(fs::file_size(file_ + "-wal"), 0u);
  // The files as a crash leaves them, copied while the ledger is open.
  const fs::path image = dir_ / "image";
  fs::create_directories(image);
  fs::copy_file(file_, image / "ledger.sqlite");
  fs::copy_file(file_ + "-wal", image / "ledger.sqlite-wal");
  ledger_.reset();
  fs::remove(file_);
  fs::copy_file(image / "ledger.sqlite", file_);
  fs::copy_file(image / "ledger.sqlite-wal", file_ + "-wal");
  ASSERT_EQ(disk_->Remount(true), "");
  auto refused = OpenLedger(options_, clock_);
  ASSERT_FALSE(refused.has_value()) << "a read-only ledger opened without its write-ahead log";
  EXPECT_EQ(refused.error().code, Code::kUnavailable);
  EXPECT_THAT(refused.error().message, HasSubstr(file_ + "-wal holds changes not yet in the ledger file"));
  ASSERT_EQ(disk_->Remount(false), "");
  ledger_ = Open();
  ASSERT_NE(ledger_, nullptr);
  auto found = ledger_->cards().FindCard(card.serial);
  EXPECT_TRUE(found.has_value()) << found.error().message;
  ExpectVerified("after recovery");
}

// The file system turns read-only under an open ledger, as the kernel does after a disk error
// (ext4, errors=remount-ro): writes fail naming it, reads go on from the open ledger. After the
// operator's repair (unmount, e2fsck, mount) a ledger opened anew holds every acknowledged card
// and writes again.
TEST(SqliteFileSystemFaultTest, FileSystemTurnedReadOnlyUnderTheLedgerFailsWritesAndKeepsReads) {
  lk::testing::TempDir dir;
  lk::testing::ScratchDisk disk(dir / "ext4", "32m", lk::testing::ScratchDisk::Kind::kExt4);
  if (!disk.mounted()) GTEST_SKIP() << disk.error();
  FakeClock clock(sys_days(2026y / February / 1) + 12h);
  LedgerOptions options;
  options.url = (disk.path() / "ledger.sqlite").string();
  options.data_dir = dir.path();
  auto ledger = OpenLedger(options, clock);
  ASSERT_TRUE(ledger.has_value()) << ledger.error().message;
  lk::testing::WriteText(dir / "roster.csv", Roster(3));
  ASSERT_TRUE((*ledger)->imports().ImportRoster(dir / "roster.csv", 2026).has_value());
  auto first = (*ledger)->cards().IssueDigital("S1", 2026);
  ASSERT_TRUE(first.has_value()) << first.error().message;

  if (auto why = disk.FailReadOnly(); !why.empty()) GTEST_SKIP() << why;
  auto refused = (*ledger)->cards().IssueDigital("S2", 2026);
  ASSERT_FALSE(refused.has_value()) << "a card was issued on a file system the kernel made read-only";
  EXPECT_EQ(refused.error().code, Code::kUnavailable) << refused.error().message;
  EXPECT_THAT(refused.error().message,
              HasSubstr("the file system holding the ledger " + options.url + " is read-only"));
  auto found = (*ledger)->cards().FindCard(first->serial);
  EXPECT_TRUE(found.has_value()) << found.error().message;
  auto v = (*ledger)->audit().Verify();
  ASSERT_TRUE(v.has_value()) << v.error().message;
  EXPECT_TRUE(v->ok) << v->problem;

  ledger->reset();
  ASSERT_EQ(disk.Repair(), "");
  auto reopened = OpenLedger(options, clock);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().message;
  EXPECT_TRUE((*reopened)->cards().FindCard(first->serial).has_value());
  auto second = (*reopened)->cards().IssueDigital("S2", 2026);
  ASSERT_TRUE(second.has_value()) << second.error().message;
  v = (*reopened)->audit().Verify();
  ASSERT_TRUE(v.has_value()) << v.error().message;
  EXPECT_TRUE(v->ok) << v->problem;
}

}  // namespace
}  // namespace lk::ledger
