// PostgreSQL implementation of the Db seam through libpq: text parameters, single-row mode for
// streaming, COPY for bulk loads, and a per-schema advisory lock that serialises writers. A
// connection the server dropped (a restart, a crash, a network cut) is replaced before the next
// statement outside a transaction; inside one, the transaction fails and the caller retries.
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <charconv>
#include <chrono>

#include "ledger/internal/db.h"

namespace lk::ledger::internal {
namespace {

void IgnoreNotice(void*, const char*) {}

// Removes the password from a URL (user:password@, or ?password=) before it appears in a message.
std::string Redact(std::string url) {
  auto scheme = url.find("://");
  auto at = url.find('@');
  if (scheme != std::string::npos && at != std::string::npos) {
    auto colon = url.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) url = url.substr(0, colon) + ":***" + url.substr(at);
  }
  for (auto p = url.find('?'); p != std::string::npos; p = url.find('&', p + 1)) {  // each parameter
    if (url.compare(p + 1, 9, "password=") != 0) continue;
    auto end = url.find('&', p + 1);
    url.replace(p + 10, end == std::string::npos ? std::string::npos : end - (p + 10), "***");
  }
  return url;
}

// libpq's messages span lines ("...failed: Connection refused\n\tIs the server running...").
std::string OneLine(std::string m) {
  for (char& c : m)
    if (c == '\n' || c == '\t') c = ' ';
  std::string out;
  for (char c : m)
    if (c != ' ' || (!out.empty() && out.back() != ' ')) out += c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// What every session relies on; a replacement connection gets the same.
constexpr const char* kSessionSetup =
    "SET client_min_messages = warning; SET TIME ZONE 'UTC'; SET DateStyle = 'ISO'; "
    "SET temp_buffers = '128MB'; SET work_mem = '64MB'; "
    // A transaction of ours left waiting for a client that vanished (a network cut) would hold
    // the writers' lock until the server's own keepalives noticed, by default after two hours.
    "SET idle_in_transaction_session_timeout = '60s'";

// Connects with bounded waits: connect_timeout for a host that does not answer, TCP keepalives
// and tcp_user_timeout (ms) for one that vanishes while a statement runs (a long statement on a
// live server is not cut: the server's kernel answers the probes). They come before the URL, so
// a URL's own settings win. No statement_timeout: a large import rightly takes a while, and a
// writer rightly waits for another's import (the advisory lock).
Result<PGconn*> Connect(const std::string& url, const std::string& where) {
  const char* keys[] = {"connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout", "dbname",          nullptr};
  const char* values[] = {"3", "1", "5", "2", "3", "10000", url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string m = OneLine(PQerrorMessage(conn));
    PQfinish(conn);
    return Fail(Code::kUnavailable,
                "the ledger at " + where + " is unreachable (" + m + "); retry in a moment");
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  PGresult* r = PQexec(conn, kSessionSetup);
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string m = ok ? "" : OneLine(PQresultErrorMessage(r));
  PQclear(r);
  if (!ok) {
    PQfinish(conn);
    return Fail(Code::kUnavailable, "the ledger at " + where + " refused the session settings (" + m + ")");
  }
  return conn;
}

class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  ~PgResult() { PQclear(r_); }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  PGresult* get() const { return r_; }

 private:
  PGresult* r_;
};

class PostgresDb final : public Db {
 public:
  PostgresDb(PGconn* conn, std::string url, std::string where)
      : conn_(conn), url_(std::move(url)), where_(std::move(where)) {}
  ~PostgresDb() override { PQfinish(conn_); }
  Dialect dialect() const override { return Dialect::kPostgres; }

  Result<> Exec(const std::string& sql) override {
    if (auto ready = Ready(); !ready) return ready;
    PgResult r(PQexec(conn_, sql.c_str()));
    return Check(r.get());
  }

  Result<int64_t> Execute(const std::string& sql, const std::vector<Value>& params) override {
    if (auto ready = Ready(); !ready) return std::unexpected(ready.error());
    std::vector<std::string> text;
    std::vector<const char*> ptrs;
    Params(params, text, ptrs);
    PgResult r(PQexecParams(conn_, sql.c_str(), static_cast<int>(ptrs.size()), nullptr, ptrs.data(), nullptr,
                            nullptr, 0));
    if (auto c = Check(r.get()); !c) return std::unexpected(c.error());
    const char* n = PQcmdTuples(r.get());
    return n && *n ? std::stoll(n) : 0;
  }

  Result<> ForEach(const std::string& sql, const std::vector<Value>& params,
                   const std::function<void(const Row&)>& fn) override {
    if (auto ready = Ready(); !ready) return ready;
    std::vector<std::string> text;
    std::vector<const char*> ptrs;
    Params(params, text, ptrs);
    if (!PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(ptrs.size()), nullptr, ptrs.data(), nullptr,
                           nullptr, 0))
      return Failure(nullptr);
    PQsetSingleRowMode(conn_);
    Result<> result;
    Row row;
    while (PGresult* raw = PQgetResult(conn_)) {
      PgResult r(raw);
      auto st = PQresultStatus(raw);
      if (st == PGRES_SINGLE_TUPLE) {
        if (!result) continue;
        int n = PQnfields(raw);
        row.assign(static_cast<size_t>(n), std::nullopt);
        for (int c = 0; c < n; ++c)
          if (!PQgetisnull(raw, 0, c))
            row[static_cast<size_t>(c)] =
                std::string(PQgetvalue(raw, 0, c), static_cast<size_t>(PQgetlength(raw, 0, c)));
        fn(row);
      } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && result) {
        result = Failure(raw);
      }
    }
    return result;
  }

  // One result fetched whole (one round trip, no per-row PGresult as in single-row mode), its
  // cells read in place. For the big read-backs of a batch; not for unbounded scans.
  Result<> Scan(const std::string& sql, const std::vector<Value>& params,
                const std::function<void(const Cells&)>& fn) override {
    if (auto ready = Ready(); !ready) return ready;
    std::vector<std::string> text;
    std::vector<const char*> ptrs;
    Params(params, text, ptrs);
    PgResult r(PQexecParams(conn_, sql.c_str(), static_cast<int>(ptrs.size()), nullptr, ptrs.data(), nullptr,
                            nullptr, 0));
    if (auto c = Check(r.get()); !c) return c;
    struct ResultCells final : Cells {
      PGresult* res = nullptr;
      int row = 0;
      int64_t Int(int i) const override {
        if (PQgetisnull(res, row, i)) return 0;
        const char* v = PQgetvalue(res, row, i);
        int64_t out = 0;
        std::from_chars(v, v + PQgetlength(res, row, i), out);
        return out;
      }
      std::string_view Text(int i) const override {
        return {PQgetvalue(res, row, i), static_cast<size_t>(PQgetlength(res, row, i))};
      }
    } cells;
    cells.res = r.get();
    for (int n = PQntuples(r.get()); cells.row < n; ++cells.row) fn(cells);
    return {};
  }

  Result<> BulkLoad(const std::string& table, const std::vector<std::string>& columns,
                    const std::vector<Row>& rows) override {
    if (auto ready = Ready(); !ready) return ready;
    std::string sql = "COPY " + table + " (";
    for (size_t i = 0; i < columns.size(); ++i) sql += (i ? "," : "") + columns[i];
    sql += ") FROM STDIN";
    {
      PgResult r(PQexec(conn_, sql.c_str()));
      if (PQresultStatus(r.get()) != PGRES_COPY_IN) return Failure(r.get());
    }
    std::string buf;
    auto flush = [&]() -> bool {
      bool ok = PQputCopyData(conn_, buf.data(), static_cast<int>(buf.size())) == 1;
      buf.clear();
      return ok;
    };
    bool ok = true;
    for (const Row& row : rows) {
      for (size_t i = 0; i < row.size(); ++i) {
        if (i) buf += '\t';
        if (!row[i]) {
          buf += "\\N";
          continue;
        }
        const std::string& cell = *row[i];
        // The usual case: nothing to escape. (find_first_of would call memchr once per character.)
        if (std::none_of(cell.begin(), cell.end(),
                         [](char ch) { return ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r'; })) {
          buf += cell;
          continue;
        }
        for (char ch : cell) {
          switch (ch) {
            case '\\':
              buf += "\\\\";
              break;
            case '\t':
              buf += "\\t";
              break;
            case '\n':
              buf += "\\n";
              break;
            case '\r':
              buf += "\\r";
              break;
            default:
              buf += ch;
          }
        }
      }
      buf += '\n';
      if (buf.size() > (1 << 20) && !(ok = flush())) break;
    }
    if (ok && !buf.empty()) ok = flush();
    PQputCopyEnd(conn_, ok ? nullptr : "aborted");
    Result<> result;
    while (PGresult* raw = PQgetResult(conn_)) {
      PgResult r(raw);
      auto st = PQresultStatus(raw);
      if (st == PGRES_COPY_IN) {  // the end of the copy was never sent: libpq would answer this forever
        if (result) result = Lost(PQerrorMessage(conn_));
        Discard();
        break;
      }
      if (st != PGRES_COMMAND_OK && result) result = Failure(raw);
    }
    if (!ok && result) result = Lost(PQerrorMessage(conn_));  // the rows could not be sent
    return result;
  }

  // The advisory lock is keyed by schema, so ledgers in different schemas do not wait for each other.
  Result<> BeginWrite() override {
    auto r =
        Exec("BEGIN; SELECT pg_advisory_xact_lock(hashtext('lerarenkaart ledger ' || current_schema()))");
    if (!r) {  // BEGIN may have run before the lock failed: end that transaction here
      if (PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE)
        PQclear(PQexec(conn_, "ROLLBACK"));
      return r;
    }
    in_transaction_ = true;
    return {};
  }
  Result<> Commit() override {
    committing_ = true;
    auto r = Exec("COMMIT");
    committing_ = in_transaction_ = false;
    return r;
  }
  void Rollback() override {
    if (PQstatus(conn_) == CONNECTION_OK) PQclear(PQexec(conn_, "ROLLBACK"));
    in_transaction_ = false;
  }

 private:
  // Before each statement. A broken connection is replaced, but never inside a transaction:
  // that transaction died with the connection, so it fails (without sending anything), and the
  // caller's Rollback ends it. After a failed attempt, operations fail at once with its message
  // for kRetryPause, so callers queued behind one another do not each wait out connect_timeout.
  Result<> Ready() {
    if (PQstatus(conn_) == CONNECTION_OK && !ClosedByServer()) return {};
    if (in_transaction_) return Lost("", /*before_commit=*/true);
    auto now = std::chrono::steady_clock::now();
    if (now < retry_at_) return Fail(Code::kUnavailable, unreachable_);
    auto fresh = Connect(url_, where_);
    if (!fresh) {
      unreachable_ = fresh.error().message;
      retry_at_ = now + kRetryPause;
      return std::unexpected(fresh.error());
    }
    PQfinish(conn_);
    conn_ = *fresh;
    return {};
  }

  // Whether the server ended the session while no statement ran (a restart, a crash,
  // pg_terminate_backend): its last message and the end of the stream wait on the socket. What
  // else may arrive unasked (a changed setting reported) is taken in, and libpq handles it with
  // the next result. One poll when nothing arrived, the usual case.
  bool ClosedByServer() {
    for (int i = 0; i < 4; ++i) {
      pollfd p{PQsocket(conn_), POLLIN, 0};
      if (p.fd < 0) return true;
      if (::poll(&p, 1, 0) <= 0) return false;
      if (!PQconsumeInput(conn_) || PQstatus(conn_) != CONNECTION_OK) return true;  // end of stream
    }
    return false;
  }

  // kUnavailable for a session that ended under an operation, saying what became of it: a
  // transaction is rolled back unless its COMMIT was sent (`before_commit`: it was not).
  std::unexpected<lk::Error> Lost(const std::string& detail, bool before_commit = false) const {
    std::string why = OneLine(detail);
    return Fail(Code::kUnavailable,
                "lost the connection to the ledger at " + where_ + (why.empty() ? "" : " (" + why + ")") +
                    (committing_ && !before_commit
                         ? "; whether the change was stored is unknown (look, or retry an idempotent request)"
                     : in_transaction_ ? "; the open transaction was rolled back, nothing of it was stored"
                                       : "") +
                    ": retry");
  }

  // Gives up a connection left in a state no statement can follow (an unfinished COPY). libpq
  // takes a null connection as a bad one, so the next operation outside a transaction connects.
  void Discard() {
    PQfinish(conn_);
    conn_ = nullptr;
  }

  static void Params(const std::vector<Value>& params, std::vector<std::string>& text,
                     std::vector<const char*>& ptrs) {
    text.resize(params.size());
    ptrs.resize(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      if (auto* n = std::get_if<int64_t>(&params[i]))
        text[i] = std::to_string(*n), ptrs[i] = text[i].c_str();
      else if (auto* s = std::get_if<std::string>(&params[i]))
        ptrs[i] = s->c_str();
      else
        ptrs[i] = nullptr;
    }
  }

  Result<> Check(PGresult* r) {
    auto st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return {};
    return Failure(r);
  }

  std::unexpected<lk::Error> Failure(PGresult* r) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    std::string msg = r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
    msg = OneLine(msg);
    Code code = Code::kInternal;
    std::string s = state ? state : "";
    // The session is gone (08: connection exceptions; 57P01-57P03: shut down, crashed, starting).
    if (PQstatus(conn_) != CONNECTION_OK || s.starts_with("08") || s.starts_with("57P")) return Lost(msg);
    if (s.starts_with("23"))
      code = Code::kFailedPrecondition;
    else if (s == "40001" || s == "40P01" || s.starts_with("53") || s.starts_with("57"))
      code = Code::kUnavailable;
    else if (s.starts_with("XX"))
      code = Code::kDataLoss;
    return Fail(code, "ledger " + where_ + ": " + msg);
  }

  static constexpr std::chrono::seconds kRetryPause{1};

  PGconn* conn_;  // null after Discard
  std::string url_, where_;
  bool in_transaction_ = false;  // BeginWrite succeeded, Commit or Rollback not yet called
  bool committing_ = false;
  std::chrono::steady_clock::time_point retry_at_;  // no new connection attempt before this
  std::string unreachable_;                         // why the last attempt failed
};

}  // namespace

Result<std::unique_ptr<Db>> OpenPostgres(const std::string& url) {
  std::string where = Redact(url);
  auto conn = Connect(url, where);
  if (!conn) return std::unexpected(conn.error());
  return std::unique_ptr<Db>(std::make_unique<PostgresDb>(*conn, url, std::move(where)));
}

}  // namespace lk::ledger::internal
