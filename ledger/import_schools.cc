// The school-list import (imports.h): the official list of schools by number, so that passes,
// the teacher's site and the console can name a school. One write transaction, one audit entry.
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "ledger/imports.h"
#include "ledger/internal/core.h"
#include "ledger/internal/csv_import.h"

namespace lk::ledger {
using namespace internal;

namespace {

struct School {
  std::string number, name, postcode, municipality;
  int line = 0;
  bool operator==(const School& o) const {
    return name == o.name && postcode == o.postcode && municipality == o.municipality;
  }
};

}  // namespace

Result<ImportSummary> Imports::ImportSchools(const CsvSource& csv) {
  std::lock_guard lock(core_.mu);
  std::vector<School> rows;
  auto in = ReadCsvImport(
      csv, {"school_number", "name", "postcode", "municipality"}, {},
      [&](CsvImport& f, const CsvRecord& rec) {
        School s{f.Field(rec, 0), f.Field(rec, 1), f.Field(rec, 2), f.Field(rec, 3), rec.line};
        bool bad = false;
        auto check = [&](bool ok, size_t col, std::string_view key, std::vector<ImportValue> values = {}) {
          if (!ok) f.Bad(rec, col, key, std::move(values)), bad = true;
        };
        check(!s.number.empty() && s.number.size() <= 12 &&
                  s.number.find_first_not_of("0123456789") == std::string::npos,
              0, "school_number", {{"value", s.number}});
        check(!s.name.empty() && s.name.size() <= 200 && IsValidUtf8(s.name), 1, "school_name");
        auto pc = ParseCount(s.postcode);
        check(pc && s.postcode.size() == 4 && ProvinceOfPostcode(static_cast<int>(*pc)).has_value(), 2,
              "postcode", {{"value", s.postcode}});
        check(!s.municipality.empty() && s.municipality.size() <= 100 && IsValidUtf8(s.municipality), 3,
              "municipality");
        if (bad || !f.FirstMention(rec, 0, s.number, "duplicate_school", {{"school", s.number}})) return;
        rows.push_back(std::move(s));
      });
  if (!in) return std::unexpected(in.error());
  Problems& problems = *(*in)->problems;
  if (!problems.empty()) return problems.ToError();
  if (rows.empty()) return RefuseFile((*in)->file, 0, "no_data_rows");

  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  std::unordered_map<std::string, School> known;
  if (auto r = core_.db->ForEach(
          "SELECT school_number, name, postcode, municipality FROM schools", {},
          [&](const Row& row) {
            School s{row[0].value_or(""), row[1].value_or(""), row[2].value_or(""), row[3].value_or("")};
            known.emplace(s.number, std::move(s));
          });
      !r)
    return std::unexpected(r.error());
  ImportSummary sum{(*in)->table.records.size(), 0, 0};
  for (const School& s : rows) {
    auto it = known.find(s.number);
    if (it != known.end() && it->second == s) {
      ++sum.present;
      continue;
    }
    auto r = core_.db->Execute(
        "INSERT INTO schools (school_number, name, postcode, municipality, audit_seq) VALUES ($1, $2, $3, "
        "$4, "
        "$5) ON CONFLICT (school_number) DO UPDATE SET name = excluded.name, postcode = excluded.postcode, "
        "municipality = excluded.municipality, audit_seq = excluded.audit_seq",
        {s.number, s.name, s.postcode, s.municipality, *seq});
    if (!r) return std::unexpected(r.error());
    ++sum.added;
  }
  // Not ImportDetail: its "table"/"added" keys make `ledger verify` count rows per entry, and a
  // renamed school moves to the newer entry.
  nlohmann::json detail = {{"file", std::filesystem::path(csv.name).filename().string()},
                           {"sha256", HexEncode(Sha256(csv.bytes))},
                           {"schools", sum.rows},
                           {"added_or_changed", sum.added},
                           {"present", sum.present}};
  if (auto r = core_.Finish(tx, *seq, "import schools", detail.dump(), sum.added); !r)
    return std::unexpected(r.error());
  return sum;
}

Result<ImportSummary> Imports::ImportSchools(const std::filesystem::path& csv) {
  auto source = ReadCsvSource(csv);
  if (!source) return std::unexpected(source.error());
  return ImportSchools(*source);
}

}  // namespace lk::ledger
