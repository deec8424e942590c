#include "tests/ledger/ledger_testing.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdlib>

namespace lk::ledger::testing {
namespace {

std::string PgExec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  std::string err;
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  if (PQstatus(c) != CONNECTION_OK) {
    err = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    auto st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) err = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  return err;
}

}  // namespace

Backend::Backend(const std::string& kind, const std::filesystem::path& dir) : kind_(kind), dir_(dir) {
  if (kind == "sqlite") {
    url_ = (dir / "ledger.sqlite").string();
    return;
  }
  const char* base = std::getenv("LK_TEST_POSTGRES_URL");
  if (!base || !*base) {
    reason_ = "LK_TEST_POSTGRES_URL is not set; PostgreSQL ledger tests skipped (./dev.sh test sets it)";
    return;
  }
  admin_url_ = base;
  schema_ = "t_" + HexEncode(RandomBytes(8));
  if (auto e = PgExec(admin_url_, "CREATE SCHEMA " + schema_); !e.empty()) {
    reason_ = "cannot create a test schema on " + admin_url_ + ": " + e;
    return;
  }
  url_ = admin_url_ + (admin_url_.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
         schema_;
}

Backend::~Backend() {
  if (!schema_.empty() && reason_.empty()) PgExec(admin_url_, "DROP SCHEMA " + schema_ + " CASCADE");
}

std::string Backend::Value(const std::string& sql) {
  std::string out;
  if (kind_ == "sqlite") {
    sqlite3* db = nullptr;
    sqlite3_open(url_.c_str(), &db);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }
  PGconn* c = PQconnectdb(url_.c_str());
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
      out = PQgetvalue(r, 0, 0);
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

LedgerOptions Backend::options() const {
  LedgerOptions o;
  o.url = url_;
  o.data_dir = dir_;
  return o;
}

std::string Backend::Sql(const std::string& sql) {
  if (kind_ == "sqlite") {
    sqlite3* db = nullptr;
    sqlite3_open(url_.c_str(), &db);
    char* msg = nullptr;
    std::string err;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) err = msg ? msg : "error";
    sqlite3_free(msg);
    sqlite3_close(db);
    return err;
  }
  return PgExec(url_, sql);
}

void LedgerBackendTest::SetUp() {
  backend_ = std::make_unique<Backend>(GetParam(), dir_.path());
  if (!backend_->available()) {
    // Skipped only when no server was configured; a configured server that fails is a failure.
    const char* url = std::getenv("LK_TEST_POSTGRES_URL");
    if (url && *url) FAIL() << backend_->reason();
    GTEST_SKIP() << backend_->reason();
  }
  ledger_ = Open();
  ASSERT_NE(ledger_, nullptr);
}

std::unique_ptr<Ledger> LedgerBackendTest::Open() {
  auto l = OpenLedger(backend_->options(), clock_);
  EXPECT_TRUE(l.has_value()) << l.error().message;
  return l ? std::move(*l) : nullptr;
}

std::filesystem::path LedgerBackendTest::Write(const std::string& name, const std::string& content) {
  lk::testing::WriteText(dir_ / name, content);
  return dir_ / name;
}

void LedgerBackendTest::ImportSmallRoster(int year) {
  auto f = Write("roster.csv", std::string(kRosterHeader) +
                                   "T1,An,Peeters,teaching,GO,basic,12345,2000,no\n"
                                   "T2,Bert,Janssens,support,OGO,secondary,23456,9000,yes\n"
                                   "T3,Cas,Maes,administrative,VGO,higher,34567,1000,no\n");
  auto r = ledger_->imports().ImportRoster(f, year);
  ASSERT_TRUE(r.has_value()) << r.error().message;
}

}  // namespace lk::ledger::testing
