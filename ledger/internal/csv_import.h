#pragma once
// One CSV import, as every import and the claim codes read it: parsed, its required columns
// found, every bad row collected, so that one error lists them all ("NAME:LINE:COLUMN (name):
// what", and as data: import_problem.h) and nothing is imported. Not thread-safe (one per import).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/base.h"
#include "base/csv.h"
#include "ledger/import_problem.h"
#include "ledger/imports.h"
#include "ledger/internal/db.h"

namespace lk::ledger::internal {

// Collects bad rows and renders them all in one kInvalidArgument error whose detail is an
// ImportRefused listing them as data.
class Problems {
 public:
  Problems(std::string file, const CsvTable* t) : file_(std::move(file)), t_(t) {}
  // A problem at (line, column) of kind `key` (import_problem.h) about `values`.
  void Add(int line, int column, std::string_view key, std::vector<ImportValue> values = {});
  void AddAll(const std::vector<CsvProblem>& ps);
  bool empty() const { return list_.empty(); }
  // The error; hands the problems over (empty afterwards).
  std::unexpected<Error> ToError();

 private:
  std::string file_;
  const CsvTable* t_;
  std::vector<ImportProblem> list_;
};

// The import of `file` refused as a whole: kInvalidArgument "FILE:LINE: text" (line 0: "FILE:
// text") with an ImportRefused detail of one problem.
std::unexpected<Error> RefuseFile(const std::string& file, int line, std::string_view key,
                                  std::vector<ImportValue> values = {});
// `e`, as it is, with an ImportRefused detail of one whole-file problem (line 0).
std::unexpected<Error> RefuseFile(Error e, const std::string& file, std::string_view key,
                                  std::vector<ImportValue> values = {});

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
  void Bad(const CsvRecord& rec, size_t i, std::string_view problem, std::vector<ImportValue> values = {}) {
    problems->Add(rec.line, Col(i), problem, std::move(values));
  }
  // True the first time `key` is seen; later lines are bad rows `problem` (a "duplicate_..." key)
  // with `values` and {line}, the first line.
  bool FirstMention(const CsvRecord& rec, size_t i, const std::string& key,
                    std::string_view problem = "duplicate_staff", std::vector<ImportValue> values = {}) {
    auto [it, fresh] = first_line.emplace(key, rec.line);
    if (!fresh) {
      values.emplace_back("line", std::to_string(it->second));
      Bad(rec, i, problem, std::move(values));
    }
    return fresh;
  }
};

// Parses `csv`, requires `columns` in its header, and calls `row` for every record with as many
// fields as the header (the others are bad rows). Progress runs to half of the rows.
Result<std::unique_ptr<CsvImport>> ReadCsvImport(
    const CsvSource& csv, const std::vector<std::string>& columns, const Progress& progress,
    const std::function<void(CsvImport&, const CsvRecord&)>& row);

// Adds problem `key` with {year} at (line, column) for every staged row (columns line, staff_key)
// whose staff member is not on the roster of `year`.
Result<> ReportNotOnRoster(Db& db, const std::string& stage_table, int year, int column, std::string_view key,
                           Problems& problems);

// The audit entry detail of an import: the source's file name and SHA-256, what it added, and
// with `cards` the new cards (see CardList).
std::string ImportDetail(const CsvSource& csv, int year, const std::string& table, const ImportSummary& s,
                         std::string cards = {});

}  // namespace lk::ledger::internal
