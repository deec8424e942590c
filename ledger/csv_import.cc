// Reading one CSV import (internal/csv_import.h).
#include "ledger/internal/csv_import.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "ledger/internal/core.h"

namespace lk::ledger::internal {

namespace {

ImportProblem MakeProblem(int line, int column, std::string_view key, std::vector<ImportValue> values) {
  ImportProblem p{line, column, "", std::string(key), std::move(values), ""};
  p.text = FillImportTemplate(ImportProblemEnglish(key), p.values);
  return p;
}

}  // namespace

void Problems::Add(int line, int column, std::string_view key, std::vector<ImportValue> values) {
  list_.push_back(MakeProblem(line, column, key, std::move(values)));
  ImportProblem& p = list_.back();
  if (t_ && column > 0 && column <= static_cast<int>(t_->header.size()))
    p.column_name = t_->header[static_cast<size_t>(column - 1)];
}

void Problems::AddAll(const std::vector<CsvProblem>& ps) {
  for (const CsvProblem& p : ps) {
    Add(p.line, p.column, p.key);
    list_.back().text = p.what;  // the reader's own English, whatever the key
  }
}

std::unexpected<Error> Problems::ToError() {
  std::stable_sort(list_.begin(), list_.end(), [](auto& a, auto& b) { return a.line < b.line; });
  std::string msg = file_ + ": " + std::to_string(list_.size()) + " bad row" +
                    (list_.size() == 1 ? "" : "s") + "; nothing was imported";
  for (auto& p : list_) {
    msg += "\n  " + file_ + ":" + std::to_string(p.line);
    if (p.column > 0) {
      msg += ":" + std::to_string(p.column);
      if (t_ && p.column <= static_cast<int>(t_->header.size())) msg += " (" + p.column_name + ")";
    }
    msg += ": " + p.text;
  }
  auto refused = std::make_shared<ImportRefused>();
  refused->file = file_;
  refused->problems = std::move(list_);  // the import ends here
  list_.clear();
  return std::unexpected(Error{Code::kInvalidArgument, std::move(msg), std::move(refused)});
}

namespace {

std::unexpected<Error> Refuse(Error e, const std::string& file, ImportProblem p) {
  auto refused = std::make_shared<ImportRefused>();
  refused->file = file;
  refused->whole_file = true;
  refused->problems.push_back(std::move(p));
  e.detail = std::move(refused);
  return std::unexpected(std::move(e));
}

}  // namespace

std::unexpected<Error> RefuseFile(const std::string& file, int line, std::string_view key,
                                  std::vector<ImportValue> values) {
  ImportProblem p = MakeProblem(line, 0, key, std::move(values));
  std::string msg = file + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + p.text;
  return Refuse(Error{Code::kInvalidArgument, std::move(msg)}, file, std::move(p));
}

std::unexpected<Error> RefuseFile(Error e, const std::string& file, std::string_view key,
                                  std::vector<ImportValue> values) {
  return Refuse(std::move(e), file, MakeProblem(0, 0, key, std::move(values)));
}

namespace {

// Looks up the named columns; a missing one is an error naming the header line.
Result<std::vector<int>> RequireColumns(const std::string& file, const CsvTable& t,
                                        const std::vector<std::string>& names) {
  if (t.header.empty()) return RefuseFile(file, 1, "empty_file");
  std::vector<int> idx;
  std::string missing, expected;
  for (auto& n : names) {
    idx.push_back(ColumnIndex(t, n));
    if (idx.back() < 0) missing += (missing.empty() ? "'" : ", '") + n + "'";
    expected += (expected.empty() ? "" : ",") + n;
  }
  if (!missing.empty())
    return RefuseFile(file, 1, "missing_columns", {{"missing", missing}, {"expected", expected}});
  return idx;
}

}  // namespace

Result<std::unique_ptr<CsvImport>> ReadCsvImport(
    const CsvSource& csv, const std::vector<std::string>& columns, const Progress& progress,
    const std::function<void(CsvImport&, const CsvRecord&)>& row) {
  auto in = std::make_unique<CsvImport>();
  in->file = csv.name;
  std::vector<CsvProblem> csv_problems;
  in->table = ParseCsv(csv.bytes, csv_problems);
  auto cols = RequireColumns(in->file, in->table, columns);
  if (!cols) return std::unexpected(cols.error());
  in->cols = std::move(*cols);
  in->problems.emplace(in->file, &in->table);
  in->problems->AddAll(csv_problems);
  in->first_line.reserve(in->table.records.size());
  const uint64_t total = in->table.records.size();
  uint64_t done = 0;
  for (const auto& rec : in->table.records) {
    if (progress && ++done % 8192 == 0) progress(done / 2, total);
    if (rec.fields.size() != in->table.header.size()) {
      in->problems->Add(rec.line, 0, "field_count",
                        {{"fields", std::to_string(rec.fields.size())},
                         {"header_fields", std::to_string(in->table.header.size())}});
      continue;
    }
    row(*in, rec);
  }
  return in;
}

Result<> ReportNotOnRoster(Db& db, const std::string& stage_table, int year, int column, std::string_view key,
                           Problems& problems) {
  auto rows = db.Query("SELECT s.line FROM " + stage_table +
                           " s LEFT JOIN roster r ON r.card_year = $1 AND r.staff_key = s.staff_key "
                           "WHERE r.id IS NULL ORDER BY s.line",
                       {int64_t{year}});
  if (!rows) return std::unexpected(rows.error());
  for (auto& row : *rows)
    problems.Add(static_cast<int>(ToInt(row[0])), column, key, {{"year", std::to_string(year)}});
  return {};
}

std::string ImportDetail(const CsvSource& csv, int year, const std::string& table, const ImportSummary& s,
                         std::string cards) {
  nlohmann::json j = {{"file", std::filesystem::path(csv.name).filename().string()},
                      {"sha256", HexEncode(Sha256(csv.bytes))},
                      {"table", table},
                      {"rows", s.rows},
                      {"added", s.added},
                      {"present", s.present}};
  if (year) j["year"] = year;
  if (!cards.empty()) j["cards"] = std::move(cards);
  return j.dump();
}

}  // namespace lk::ledger::internal
