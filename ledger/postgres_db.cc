// PostgreSQL implementation of the Db seam through libpq: text parameters, single-row mode for
// streaming, COPY for bulk loads, and a per-schema advisory lock that serialises writers.
#include <libpq-fe.h>

#include <algorithm>
#include <charconv>

#include "ledger/internal/db.h"

namespace lk::ledger::internal {
namespace {

void IgnoreNotice(void*, const char*) {}

// Removes the password from a URL before it appears in a message.
std::string Redact(const std::string& url) {
  auto scheme = url.find("://");
  auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon) + ":***" + url.substr(at);
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
  PostgresDb(PGconn* conn, std::string where) : conn_(conn), where_(std::move(where)) {}
  ~PostgresDb() override { PQfinish(conn_); }
  Dialect dialect() const override { return Dialect::kPostgres; }

  Result<> Exec(const std::string& sql) override {
    PgResult r(PQexec(conn_, sql.c_str()));
    return Check(r.get());
  }

  Result<std::vector<Row>> Query(const std::string& sql, const std::vector<Value>& params) override {
    std::vector<Row> rows;
    auto r = ForEach(sql, params, [&](const Row& row) { rows.push_back(row); });
    if (!r) return std::unexpected(r.error());
    return rows;
  }

  Result<int64_t> Execute(const std::string& sql, const std::vector<Value>& params) override {
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
            row[static_cast<size_t>(c)] = std::string(PQgetvalue(raw, 0, c), static_cast<size_t>(PQgetlength(raw, 0, c)));
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
        if (std::none_of(cell.begin(), cell.end(), [](char ch) { return ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r'; })) {
          buf += cell;
          continue;
        }
        for (char ch : cell) {
          switch (ch) {
            case '\\': buf += "\\\\"; break;
            case '\t': buf += "\\t"; break;
            case '\n': buf += "\\n"; break;
            case '\r': buf += "\\r"; break;
            default: buf += ch;
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
      if (PQresultStatus(raw) != PGRES_COMMAND_OK && result) result = Failure(raw);
    }
    if (!ok && result) result = Failure(nullptr);
    return result;
  }

  // The advisory lock is keyed by schema, so ledgers in different schemas do not wait for each other.
  Result<> BeginWrite() override {
    return Exec("BEGIN; SELECT pg_advisory_xact_lock(hashtext('lerarenkaart ledger ' || current_schema()))");
  }
  Result<> Commit() override { return Exec("COMMIT"); }
  void Rollback() override { PQclear(PQexec(conn_, "ROLLBACK")); }

 private:
  static void Params(const std::vector<Value>& params, std::vector<std::string>& text,
                     std::vector<const char*>& ptrs) {
    text.resize(params.size());
    ptrs.resize(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      if (auto* n = std::get_if<int64_t>(&params[i])) text[i] = std::to_string(*n), ptrs[i] = text[i].c_str();
      else if (auto* s = std::get_if<std::string>(&params[i])) ptrs[i] = s->c_str();
      else ptrs[i] = nullptr;
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
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    Code code = Code::kInternal;
    std::string s = state ? state : "";
    if (s.starts_with("23")) code = Code::kFailedPrecondition;
    else if (s.starts_with("08") || s == "40001" || s == "40P01" || s.starts_with("53") || s.starts_with("57") ||
             PQstatus(conn_) != CONNECTION_OK)
      code = Code::kUnavailable;
    else if (s.starts_with("XX")) code = Code::kDataLoss;
    return Fail(code, "ledger " + where_ + ": " + msg);
  }

  PGconn* conn_;
  std::string where_;
};

}  // namespace

Result<std::unique_ptr<Db>> OpenPostgres(const std::string& url) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string m = PQerrorMessage(conn);
    while (!m.empty() && m.back() == '\n') m.pop_back();
    PQfinish(conn);
    return Fail(Code::kUnavailable, "ledger " + Redact(url) + ": cannot connect: " + m);
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  auto db = std::make_unique<PostgresDb>(conn, Redact(url));
  if (auto r = db->Exec("SET client_min_messages = warning; SET TIME ZONE 'UTC'; SET DateStyle = 'ISO'; "
                        "SET temp_buffers = '128MB'; SET work_mem = '64MB'"); !r)
    return std::unexpected(r.error());
  return std::unique_ptr<Db>(std::move(db));
}

}  // namespace lk::ledger::internal
