#pragma once
// One CSV import, as every import and the claim codes read it: parsed, its required columns
// found, every bad row collected, so that one error lists them all ("NAME:LINE:COLUMN (name):
// what") and nothing is imported. Not thread-safe (one per import).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/base.h"
#include "base/csv.h"
#include "ledger/imports.h"
#include "ledger/internal/db.h"

namespace lk::ledger::internal {

// Collects bad rows and renders them all in one kInvalidArgument error.
class Problems {
 public:
  Problems(std::string file, const CsvTable* t) : file_(std::move(file)), t_(t) {}
  void Add(int line, int column, std::string what) { list_.push_back({line, column, std::move(what)}); }
  void AddAll(const std::vector<CsvProblem>& ps) { list_.insert(list_.end(), ps.begin(), ps.end()); }
  bool empty() const { return list_.empty(); }
  std::unexpected<Error> ToError();

 private:
  std::string file_;
  const CsvTable* t_;
  std::vector<CsvProblem> list_;
};

// One CSV import: parsed, its required columns found; bad rows collected.
struct CsvImport {
  std::string file;  // the source's name
  CsvTable table;
  std::vector<int> cols;  // 0-based field index of each required column
  std::optional<Problems> problems;
  std::unordered_map<std::string, int> first_line;  // FirstMention: key -> line

  // Required column i of `rec`, trimmed; its 1-based column number.
  std::string Field(const CsvRecord& rec, size_t i) const {
    return std::string(Trim(rec.fields[static_cast<size_t>(cols[i])]));
  }
  int Col(size_t i) const { return cols[i] + 1; }
  void Bad(const CsvRecord& rec, size_t i, std::string what) {
    problems->Add(rec.line, Col(i), std::move(what));
  }
  // True the first time `key` is seen; later lines are bad rows "<what> is already on line N".
  bool FirstMention(const CsvRecord& rec, size_t i, const std::string& key,
                    const std::string& what = "the same staff member") {
    auto [it, fresh] = first_line.emplace(key, rec.line);
    if (!fresh) Bad(rec, i, what + " is already on line " + std::to_string(it->second));
    return fresh;
  }
};

// Parses `csv`, requires `columns` in its header, and calls `row` for every record with as many
// fields as the header (the others are bad rows). Progress runs to half of the rows.
Result<std::unique_ptr<CsvImport>> ReadCsvImport(
    const CsvSource& csv, const std::vector<std::string>& columns, const Progress& progress,
    const std::function<void(CsvImport&, const CsvRecord&)>& row);

// Adds `what` at (line, column) for every staged row (columns line, staff_key) whose staff
// member is not on the roster of `year`.
Result<> ReportNotOnRoster(Db& db, const std::string& stage_table, int year, int column,
                           const std::string& what, Problems& problems);

// The audit entry detail of an import: the source's file name and SHA-256, what it added, and
// with `cards` the new cards (see CardList).
std::string ImportDetail(const CsvSource& csv, int year, const std::string& table, const ImportSummary& s,
                         std::string cards = {});

}  // namespace lk::ledger::internal
