// Reading one CSV import (internal/csv_import.h).
#include "ledger/internal/csv_import.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "ledger/internal/core.h"

namespace lk::ledger::internal {

std::unexpected<Error> Problems::ToError() {
  std::stable_sort(list_.begin(), list_.end(), [](auto& a, auto& b) { return a.line < b.line; });
  std::string msg = file_ + ": " + std::to_string(list_.size()) + " bad row" +
                    (list_.size() == 1 ? "" : "s") + "; nothing was imported";
  for (auto& p : list_) {
    msg += "\n  " + file_ + ":" + std::to_string(p.line);
    if (p.column > 0) {
      msg += ":" + std::to_string(p.column);
      if (t_ && p.column <= static_cast<int>(t_->header.size()))
        msg += " (" + t_->header[static_cast<size_t>(p.column - 1)] + ")";
    }
    msg += ": " + p.what;
  }
  return Fail(Code::kInvalidArgument, msg);
}

namespace {

// Looks up the named columns; a missing one is an error naming the header line.
Result<std::vector<int>> RequireColumns(const std::string& file, const CsvTable& t,
                                        const std::vector<std::string>& names) {
  if (t.header.empty())
    return Fail(Code::kInvalidArgument, file + ":1: empty file: a header row is required");
  std::vector<int> idx;
  std::string missing;
  for (auto& n : names) {
    idx.push_back(ColumnIndex(t, n));
    if (idx.back() < 0) missing += (missing.empty() ? "'" : ", '") + n + "'";
  }
  if (!missing.empty())
    return Fail(
        Code::kInvalidArgument, file + ":1: the header lacks column " + missing + " (expected " + [&] {
          std::string all;
          for (auto& n : names) all += (all.empty() ? "" : ",") + n;
          return all;
        }() + ")");
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
      in->problems->Add(rec.line, 0,
                        "has " + std::to_string(rec.fields.size()) + " fields, the header has " +
                            std::to_string(in->table.header.size()));
      continue;
    }
    row(*in, rec);
  }
  return in;
}

Result<> ReportNotOnRoster(Db& db, const std::string& stage_table, int year, int column,
                           const std::string& what, Problems& problems) {
  auto rows = db.Query("SELECT s.line FROM " + stage_table +
                           " s LEFT JOIN roster r ON r.card_year = $1 AND r.staff_key = s.staff_key "
                           "WHERE r.id IS NULL ORDER BY s.line",
                       {int64_t{year}});
  if (!rows) return std::unexpected(rows.error());
  for (auto& row : *rows) problems.Add(static_cast<int>(ToInt(row[0])), column, what);
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
