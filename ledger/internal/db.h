#pragma once
// A thin SQL connection seam with two implementations (SQLite, libpq). Statements are written
// once with $1..$n placeholders; the SQLite side rewrites them to ?1..?n. Not thread-safe.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/base.h"

namespace lk::ledger::internal {

enum class Dialect { kSqlite, kPostgres };
using Value = std::variant<std::monostate, int64_t, std::string>;  // NULL, integer, text
using Row = std::vector<std::optional<std::string>>;               // result cells as text

class Db {
 public:
  virtual ~Db() = default;
  virtual Dialect dialect() const = 0;
  // One or more statements without parameters.
  virtual Result<> Exec(const std::string& sql) = 0;
  // One statement; returns its rows (empty for statements without results): ForEach, collected.
  Result<std::vector<Row>> Query(const std::string& sql, const std::vector<Value>& params = {}) {
    std::vector<Row> rows;
    auto r = ForEach(sql, params, [&](const Row& row) { rows.push_back(row); });
    if (!r) return std::unexpected(r.error());
    return rows;
  }
  // One statement; returns the number of rows it changed.
  virtual Result<int64_t> Execute(const std::string& sql, const std::vector<Value>& params = {}) = 0;
  // Streams rows to `fn` without holding them all.
  virtual Result<> ForEach(const std::string& sql, const std::vector<Value>& params,
                           const std::function<void(const Row&)>& fn) = 0;
  // Streams rows as cells read in place (no per-row copies where the backend allows: SQLite).
  // The Cells are valid only during the call.
  class Cells {
   public:
    virtual ~Cells() = default;
    virtual int64_t Int(int i) const = 0;
    virtual std::string_view Text(int i) const = 0;
  };
  virtual Result<> Scan(const std::string& sql, const std::vector<Value>& params,
                        const std::function<void(const Cells&)>& fn) {
    struct RowCells final : Cells {
      const Row* row = nullptr;
      int64_t Int(int i) const override {
        const auto& c = (*row)[static_cast<size_t>(i)];
        return c ? std::stoll(*c) : 0;
      }
      std::string_view Text(int i) const override {
        const auto& c = (*row)[static_cast<size_t>(i)];
        return c ? std::string_view(*c) : std::string_view();
      }
    } cells;
    return ForEach(sql, params, [&](const Row& r) {
      cells.row = &r;
      fn(cells);
    });
  }
  // Loads rows into an existing (temporary) table as fast as the backend allows (COPY on
  // PostgreSQL, one prepared INSERT on SQLite). Cells are text or NULL.
  virtual Result<> BulkLoad(const std::string& table, const std::vector<std::string>& columns,
                            const std::vector<Row>& rows) = 0;
  // Starts a write transaction that excludes other writers of the ledger until it ends.
  virtual Result<> BeginWrite() = 0;
  virtual Result<> Commit() = 0;
  virtual void Rollback() = 0;
};

Result<std::unique_ptr<Db>> OpenSqlite(const std::string& path);
Result<std::unique_ptr<Db>> OpenPostgres(const std::string& url);

// Rolls back on scope exit unless committed.
class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) {}
  ~Transaction() {
    if (open_) db_.Rollback();
  }
  Result<> Begin() {
    auto r = db_.BeginWrite();
    open_ = r.has_value();
    return r;
  }
  Result<> Commit() {
    open_ = false;
    return db_.Commit();
  }

 private:
  Db& db_;
  bool open_ = false;
};

}  // namespace lk::ledger::internal
