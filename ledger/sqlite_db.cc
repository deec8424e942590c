// SQLite implementation of the Db seam: WAL, foreign keys on, a generous busy timeout so that
// several processes take turns instead of failing. A full disk or a read-only file system fails
// the write with a sentence naming the file; a ledger opened on a read-only file system is read
// as it stands and reopened for writing once the file system is writable again.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_map>
#include <utility>

#include "ledger/internal/db.h"

namespace lk::ledger::internal {
namespace {

// "$12" -> "?12": SQLite numbers parameters the same way with '?'.
std::string ToSqlite(const std::string& sql) {
  std::string out = sql;
  for (size_t i = 0; i + 1 < out.size(); ++i)
    if (out[i] == '$' && out[i + 1] >= '0' && out[i + 1] <= '9') out[i] = '?';
  return out;
}

// Whether the file system holding `path` (or, before the file exists, its folder) is mounted read-only.
bool ReadOnlyFileSystem(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) {
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (::statvfs(dir.empty() ? "." : dir.c_str(), &st) != 0) return false;
  }
  return (st.f_flag & ST_RDONLY) != 0;
}

// Opens the ledger file and applies the connection's settings. On a read-only file system SQLite
// cannot create a WAL database's -shm file and would refuse even to read, so the file is opened
// immutable (no locks, no -wal) instead; that is exact only while no -wal file holds changes.
Result<sqlite3*> OpenConnection(const std::string& path, bool read_only_fs) {
  std::string name = path;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (read_only_fs) {
    std::error_code ec;
    if (auto wal = std::filesystem::file_size(path + "-wal", ec); !ec && wal > 0)
      return Fail(Code::kUnavailable, "ledger " + path + ": the file system holding it is read-only and " +
                                          path +
                                          "-wal holds changes not yet in the ledger file: make it writable "
                                          "(mount -o remount,rw), then retry");
    name = "file:";
    for (char c : path) {  // the URI's reserved characters, percent-encoded
      if (c == '%' || c == '?' || c == '#')
        name += c == '%' ? "%25" : c == '?' ? "%3f" : "%23";
      else
        name += c;
    }
    name += "?immutable=1";
    flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(name.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string m = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return Fail(Code::kUnavailable, "ledger " + path + ": cannot open: " + m);
  }
  sqlite3_busy_timeout(raw, 60000);
  sqlite3_extended_result_codes(raw, 1);  // SQLITE_IOERR_WRITE, not just SQLITE_IOERR, for the messages
  // synchronous=FULL: a committed import survives power loss, not just a killed process.
  // (journal_mode is stored in the file, so a read-only connection keeps WAL without asking.)
  std::string settings =
      std::string(read_only_fs ? "" : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; ") +
      "PRAGMA foreign_keys=ON; PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;";
  char* msg = nullptr;
  if (sqlite3_exec(raw, settings.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg ? msg : sqlite3_errmsg(raw);
    sqlite3_free(msg);
    sqlite3_close_v2(raw);
    return Fail(Code::kUnavailable, "ledger " + path + ": cannot open: " + m);
  }
  return raw;
}

// A prepared statement in use: finalized on scope exit, or, when it came from the connection's
// cache, reset (which ends its read of the database) and its bindings cleared for the next use.
class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3_stmt* st, bool* in_use) : st_(st), in_use_(in_use) {}
  Stmt(Stmt&& o) noexcept : st_(std::exchange(o.st_, nullptr)), in_use_(std::exchange(o.in_use_, nullptr)) {}
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt() {
    if (!in_use_) {
      sqlite3_finalize(st_);
      return;
    }
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
    *in_use_ = false;
  }
  sqlite3_stmt* get() const { return st_; }

 private:
  sqlite3_stmt* st_ = nullptr;
  bool* in_use_ = nullptr;  // the cache entry's flag, or null for a statement of its own
};

class SqliteDb final : public Db {
 public:
  SqliteDb(sqlite3* db, std::string path, bool read_only_fs)
      : db_(db), path_(std::move(path)), read_only_fs_(read_only_fs) {}
  ~SqliteDb() override { Close(); }
  Dialect dialect() const override { return Dialect::kSqlite; }

  Result<> Exec(const std::string& sql) override {
    Ready();
    char* msg = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
    if (rc != SQLITE_OK) {
      std::string m = msg ? msg : sqlite3_errstr(rc);
      sqlite3_free(msg);
      return Error(rc, m);
    }
    return {};
  }

  Result<int64_t> Execute(const std::string& sql, const std::vector<Value>& params) override {
    auto r = ForEach(sql, params, [](const Row&) {});
    if (!r) return std::unexpected(r.error());
    return static_cast<int64_t>(sqlite3_changes64(db_));
  }

  Result<> ForEach(const std::string& sql, const std::vector<Value>& params,
                   const std::function<void(const Row&)>& fn) override {
    Ready();
    auto stmt = Prepare(ToSqlite(sql), params);
    if (!stmt) return std::unexpected(stmt.error());
    sqlite3_stmt* st = stmt->get();
    Row row;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      int n = sqlite3_column_count(st);
      row.assign(static_cast<size_t>(n), std::nullopt);
      for (int c = 0; c < n; ++c) {
        if (sqlite3_column_type(st, c) == SQLITE_NULL) continue;
        auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
        row[static_cast<size_t>(c)] = std::string(t, static_cast<size_t>(sqlite3_column_bytes(st, c)));
      }
      fn(row);
    }
    if (rc != SQLITE_DONE) return Error(rc, sqlite3_errmsg(db_));
    return {};
  }

  Result<> Scan(const std::string& sql, const std::vector<Value>& params,
                const std::function<void(const Cells&)>& fn) override {
    Ready();
    auto stmt = Prepare(ToSqlite(sql), params);
    if (!stmt) return std::unexpected(stmt.error());
    sqlite3_stmt* st = stmt->get();
    struct StmtCells final : Cells {
      sqlite3_stmt* st;
      int64_t Int(int i) const override { return sqlite3_column_int64(st, i); }
      std::string_view Text(int i) const override {
        auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
        return t ? std::string_view(t, static_cast<size_t>(sqlite3_column_bytes(st, i))) : std::string_view();
      }
    } cells;
    cells.st = st;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) fn(cells);
    if (rc != SQLITE_DONE) return Error(rc, sqlite3_errmsg(db_));
    return {};
  }

  Result<> BulkLoad(const std::string& table, const std::vector<std::string>& columns,
                    const std::vector<Row>& rows) override {
    std::string sql = "INSERT INTO " + table + " (";
    for (size_t i = 0; i < columns.size(); ++i) sql += (i ? "," : "") + columns[i];
    sql += ") VALUES (";
    for (size_t i = 0; i < columns.size(); ++i) sql += (i ? ",?" : "?") + std::to_string(i + 1);
    sql += ")";
    Ready();
    auto stmt = Prepare(sql, {});
    if (!stmt) return std::unexpected(stmt.error());
    sqlite3_stmt* st = stmt->get();
    for (const Row& row : rows) {
      for (size_t i = 0; i < row.size(); ++i) {
        int idx = static_cast<int>(i + 1);
        if (row[i])
          sqlite3_bind_text(st, idx, row[i]->data(), static_cast<int>(row[i]->size()), SQLITE_STATIC);
        else
          sqlite3_bind_null(st, idx);
      }
      int rc = sqlite3_step(st);
      sqlite3_reset(st);
      if (rc != SQLITE_DONE) return Error(rc, sqlite3_errmsg(db_));
    }
    return {};
  }

  // BEGIN IMMEDIATE takes the write lock now, so two writers queue instead of deadlocking.
  Result<> BeginWrite() override { return Exec("BEGIN IMMEDIATE"); }
  Result<> Commit() override {
    auto r = Exec("COMMIT");
    if (!r && !sqlite3_get_autocommit(db_)) Rollback();  // a COMMIT that could not write stays open
    return r;
  }
  void Rollback() override { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

 private:
  // Before each operation: a connection opened while the file system was read-only is replaced
  // by a read-write one once the file system is writable again (between operations only: no
  // transaction open, no statement running). If that fails, reading goes on as before.
  void Ready() {
    if (!read_only_fs_ || !sqlite3_get_autocommit(db_) || ReadOnlyFileSystem(path_)) return;
    for (sqlite3_stmt* s = sqlite3_next_stmt(db_, nullptr); s; s = sqlite3_next_stmt(db_, s))
      if (sqlite3_stmt_busy(s)) return;
    for (const auto& [sql, cached] : cache_)
      if (cached.in_use) return;
    auto fresh = OpenConnection(path_, false);
    if (!fresh) return;
    Close();
    db_ = *fresh;
    read_only_fs_ = false;
  }

  void Close() {
    for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.st);
    cache_.clear();
    sqlite3_close_v2(db_);
  }

  // Prepares `sql` (already in SQLite's ?N form) and binds `params` to ?1..?n. The bound text
  // must outlive the statement's use (SQLITE_STATIC). Statements are kept per SQL text and
  // reused (SQLite re-prepares one by itself when the schema changed): parsing and planning
  // were most of a point lookup such as FindCard. A statement already in use (a query run from
  // inside another's row callback) is prepared afresh; a full cache drops its idle statements.
  Result<Stmt> Prepare(const std::string& sql, const std::vector<Value>& params) {
    sqlite3_stmt* raw = nullptr;
    bool* in_use = nullptr;
    auto it = cache_.find(sql);
    if (it != cache_.end() && !it->second.in_use) {
      raw = it->second.st;
      in_use = &it->second.in_use;
    } else {
      bool keep = it == cache_.end();
      if (keep && cache_.size() >= kMaxCachedStatements) Evict();
      int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, keep ? SQLITE_PREPARE_PERSISTENT : 0, &raw, nullptr);
      if (rc != SQLITE_OK) return Error(rc, sqlite3_errmsg(db_));
      if (keep) in_use = &cache_.emplace(sql, Cached{raw, false}).first->second.in_use;
    }
    if (in_use) *in_use = true;
    Stmt st(raw, in_use);
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      if (auto* n = std::get_if<int64_t>(&params[i]))
        sqlite3_bind_int64(raw, idx, *n);
      else if (auto* t = std::get_if<std::string>(&params[i]))
        sqlite3_bind_text(raw, idx, t->data(), static_cast<int>(t->size()), SQLITE_STATIC);
      else
        sqlite3_bind_null(raw, idx);
    }
    return st;
  }

  void Evict() {
    for (auto it = cache_.begin(); it != cache_.end();) {
      if (it->second.in_use) {
        ++it;
        continue;
      }
      sqlite3_finalize(it->second.st);
      it = cache_.erase(it);
    }
  }

  std::unexpected<lk::Error> Error(int rc, const std::string& msg) const {
    Code code = Code::kInternal;
    int primary = rc & 0xff;
    // What the operator must fix, in their terms. The error number is only read for storage
    // errors: it is the last failed system call's and may be stale otherwise.
    if (primary == SQLITE_FULL || primary == SQLITE_READONLY || primary == SQLITE_IOERR ||
        primary == SQLITE_CANTOPEN) {
      int sys = sqlite3_system_errno(db_);
      if (sys == 0) {  // SQLite reads errno late, after other calls may have reset it: ask the file
        int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0)
          sys = errno;
        else
          ::close(fd);
      }
      std::string what = msg + (sys ? std::string(", ") + std::strerror(sys) : "");
      if (primary == SQLITE_FULL || sys == ENOSPC)
        return Fail(Code::kUnavailable, "the disk holding the ledger " + path_ + " is full (" + what +
                                            "); nothing of this change was stored: free space, then retry");
      if (sys == EDQUOT)
        return Fail(Code::kUnavailable,
                    "the ledger " + path_ + " is over its disk quota (" + what +
                        "); nothing of this change was stored: raise the quota or free space, then retry");
      if (read_only_fs_ || sys == EROFS)
        return Fail(Code::kUnavailable,
                    "the file system holding the ledger " + path_ + " is read-only (" + what +
                        "); nothing of this change was stored: make it writable (mount -o remount,rw, "
                        "after fsck if the kernel made it read-only), then retry");
      if (primary == SQLITE_READONLY)
        return Fail(Code::kUnavailable,
                    "the ledger " + path_ + " cannot be written by this process (" + what +
                        "): check the file's owner and mode and its folder's, then retry");
      if (primary == SQLITE_IOERR)
        return Fail(Code::kUnavailable,
                    "I/O error on the disk holding the ledger " + path_ + " (" + what + ", SQLite code " +
                        std::to_string(rc) +
                        "): check the disk and the kernel log (dmesg), then `lerarenkaart ledger "
                        "verify`");
    }
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
      code = Code::kUnavailable;
    else if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
      code = Code::kDataLoss;
    else if (primary == SQLITE_CONSTRAINT)
      code = Code::kFailedPrecondition;
    else if (primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY || primary == SQLITE_FULL ||
             primary == SQLITE_IOERR)
      code = Code::kUnavailable;
    return Fail(code, "ledger " + path_ + ": " + msg);
  }

  struct Cached {
    sqlite3_stmt* st;
    bool in_use;
  };
  static constexpr size_t kMaxCachedStatements = 256;  // the ledger's SQL texts are a fixed set

  sqlite3* db_;
  std::string path_;
  bool read_only_fs_;                              // opened immutable because the file system was read-only
  std::unordered_map<std::string, Cached> cache_;  // SQL text -> prepared statement
};

}  // namespace

Result<std::unique_ptr<Db>> OpenSqlite(const std::string& path) {
  bool read_only_fs = ReadOnlyFileSystem(path);
  auto raw = OpenConnection(path, read_only_fs);
  if (!raw) return std::unexpected(raw.error());
  auto db = std::make_unique<SqliteDb>(*raw, path, read_only_fs);
  auto fk = db->Query("PRAGMA foreign_keys", {});
  if (!fk || fk->empty() || (*fk)[0][0] != "1")
    return Fail(Code::kInternal, "ledger " + path + ": SQLite refused to enforce foreign keys");
  return std::unique_ptr<Db>(std::move(db));
}

}  // namespace lk::ledger::internal
