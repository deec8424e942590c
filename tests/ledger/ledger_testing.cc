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

}  // namespace lk::ledger::testing
