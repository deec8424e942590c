// The XLSX workbook, read back with an independent reader: Debian's python3-openpyxl through
// tests/reports/xlsx_dump.py, which prints sheets, panes, filters and typed cells as JSON.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "reports/reports.h"
#include "tests/reports/report_inputs.h"
#include "tests/testing/testing.h"

namespace lk::reports {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

// The workbook as openpyxl sees it.
json Dump(const std::filesystem::path& file) {
  auto r = lk::testing::RunProgram({"/usr/bin/python3", LK_REPORTS_TEST_DIR "/xlsx_dump.py", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? json::parse(r.out) : json::object();
}

json Dump(const Report& report, const lk::testing::TempDir& dir) {
  auto bytes = RenderXlsx(report);
  EXPECT_TRUE(bytes.has_value()) << bytes.error().message;
  if (!bytes) return json::object();
  EXPECT_EQ(bytes->substr(0, 2), "PK");  // a ZIP container
  auto w = WriteFileAtomic(dir / "report.xlsx", *bytes);
  EXPECT_TRUE(w.has_value());
  return Dump(dir / "report.xlsx");
}

// Column index of header `name` in a sheet's first row.
size_t Col(const json& sheet, const std::string& name) {
  const json& header = sheet["cells"][0];
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i][0] == name) return i;
  ADD_FAILURE() << "no column " << name << " in " << header.dump();
  return 0;
}

Report PublishedReport() {
  auto r = BuildAdoptionReport({}, testing::LoadPublishedCsv(), {.first_year = 2017, .last_year = 2019});
  EXPECT_TRUE(r.has_value());
  return r.value_or(Report{});
}

TEST(Xlsx, SheetsHeadersPanesAndFiltersAsOpenpyxlReadsThem) {
  lk::testing::TempDir dir;
  Report r = PublishedReport();
  json wb = Dump(r, dir);
  ASSERT_EQ(wb["sheets"].size(), 3u) << wb.dump();
  EXPECT_EQ(wb["sheets"][0]["name"], "Rijen");
  EXPECT_EQ(wb["sheets"][1]["name"], "Afstemming");
  EXPECT_EQ(wb["sheets"][2]["name"], "Noten");
  const json& rows = wb["sheets"][0];
  std::vector<std::string> header;
  for (const auto& c : rows["cells"][0]) header.push_back(c[0].is_null() ? "" : c[0].get<std::string>());
  EXPECT_EQ(header,
            (std::vector<std::string>{"Soort rij", "Bron", "Kaartjaar", "Groep", "Gerechtigd", "Abonnement",
                                      "Starters", "Bibliotheek", "Digitaal", "Niet uitgesplitst", "Houders",
                                      "Aandeel", "Aandeel zoals gepubliceerd", "Enkel digitaal",
                                      "Enkel fysiek", "Beide", "Digitaal aandeel", "Noten"}));
  // One header row frozen; the autofilter covers the header and every row (3 years, sum, Totaal).
  EXPECT_EQ(rows["max_row"], 6);
  for (const auto& sheet : wb["sheets"]) {
    SCOPED_TRACE(sheet["name"].get<std::string>());
    EXPECT_EQ(sheet["freeze_panes"], "A2");
    EXPECT_FALSE(sheet["auto_filter"].is_null());
  }
  EXPECT_EQ(rows["auto_filter"], "A1:R6");
  EXPECT_EQ(wb["sheets"][1]["auto_filter"], "A1:I" + std::to_string(r.reconciliation.size() + 1));
  EXPECT_EQ(wb["sheets"][2]["auto_filter"], "A1:B" + std::to_string(r.notes.size() + 1));
  EXPECT_EQ(wb["sheets"][2]["max_row"], int(r.notes.size() + 1));
  // Every column has a width set from its contents.
  EXPECT_EQ(rows["widths"].size(), header.size());
}

TEST(Xlsx, NumbersAreNumbersWithFormatsAndThePublishedFiguresReconcile) {
  lk::testing::TempDir dir;
  Report r = PublishedReport();
  json wb = Dump(r, dir);
  ASSERT_EQ(wb["sheets"].size(), 3u);
  const json& rows = wb["sheets"][0];
  const json& y2019 = rows["cells"][3];
  EXPECT_EQ(y2019[Col(rows, "Kaartjaar")][0], "2019");
  EXPECT_EQ(y2019[Col(rows, "Soort rij")][0], "gegevens");
  EXPECT_EQ(y2019[Col(rows, "Bron")][0], "gepubliceerd");
  for (const char* c :
       {"Gerechtigd", "Houders", "Abonnement", "Starters", "Bibliotheek", "Niet uitgesplitst"}) {
    const json& cell = y2019[Col(rows, c)];
    EXPECT_EQ(cell[1], "n") << c;  // numeric, not text
    EXPECT_EQ(cell[2], "#,##0") << c;
  }
  EXPECT_EQ(y2019[Col(rows, "Houders")][0], 138516);
  EXPECT_EQ(y2019[Col(rows, "Gerechtigd")][0], 213132);
  EXPECT_EQ(y2019[Col(rows, "Niet uitgesplitst")][0], 900);
  const json& share = y2019[Col(rows, "Aandeel")];
  EXPECT_EQ(share[1], "n");
  EXPECT_EQ(share[2], "0.00%");
  EXPECT_DOUBLE_EQ(share[0].get<double>(), 138516.0 / 213132.0);
  EXPECT_TRUE(y2019[Col(rows, "Digitaal")][0].is_null());  // n/a is an empty cell, never 0
  // The sum and the printed total, marked as totals.
  const json& sum = rows["cells"][4];
  EXPECT_EQ(sum[Col(rows, "Soort rij")][0], "totaal");
  EXPECT_EQ(sum[Col(rows, "Bron")][0], "som");
  EXPECT_EQ(sum[Col(rows, "Houders")][0], 416586);
  const json& printed = rows["cells"][5];
  EXPECT_EQ(printed[Col(rows, "Kaartjaar")][0], "Totaal");
  EXPECT_EQ(printed[Col(rows, "Houders")][0], 416585);
  EXPECT_EQ(printed[Col(rows, "Bron")][0], "gepubliceerd");
  // The reconciliation: the one-card difference of the printed total, as numbers.
  const json& checks = wb["sheets"][1];
  bool found = false;
  for (size_t i = 1; i < checks["cells"].size(); ++i) {
    const json& l = checks["cells"][i];
    if (l[0][0] == "total" && l[2][0] == "holders") {
      found = true;
      EXPECT_EQ(l[Col(checks, "Gepubliceerd")][0], 416585);
      EXPECT_EQ(l[Col(checks, "Berekend")][0], 416586);
      EXPECT_EQ(l[Col(checks, "Verschil")][0], -1);
      EXPECT_EQ(l[Col(checks, "Verschil")][1], "n");
      EXPECT_EQ(l[Col(checks, "Eenheid")][0], "aantal");
    }
    if (l[0][0] == "pooled_share") {
      EXPECT_EQ(l[Col(checks, "Berekend")][2], "0.00%");
      EXPECT_DOUBLE_EQ(l[Col(checks, "Berekend")][0].get<double>(), 416586.0 / 625866.0);
    }
  }
  EXPECT_TRUE(found);
  const json& notes = wb["sheets"][2];
  EXPECT_EQ(notes["cells"][1][0][0], 1);
  EXPECT_EQ(notes["cells"][1][1][0], NoteText(r.notes[0]));
}

// The notes and the reconciliation's explanations in another language (the console's downloads);
// the numbers of the reconciliation stay numbers, whatever the language.
TEST(Xlsx, NotesAndExplanationsAreInTheLanguageAsked) {
  lk::testing::TempDir dir;
  Report r = PublishedReport();
  NoteLanguage dutch{[](std::string_view key) -> std::string_view {
                       if (key == "total_less")
                         return "{label}: {field} {stated}, som {years} = {sum} ({difference} minder).";
                       if (key == "field.holders") return "kaarthouders";
                       if (key == "total") return "Totaal";
                       return "";
                     },
                     [](int64_t n) { return std::to_string(n); }, nullptr};
  auto bytes = RenderXlsx(r, dutch);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message;
  ASSERT_TRUE(WriteFileAtomic(dir / "nl.xlsx", *bytes).has_value());
  json wb = Dump(dir / "nl.xlsx");
  const std::string sentence = "Totaal: kaarthouders 416585, som 2017-2019 = 416586 (1 minder).";
  bool in_notes = false, in_checks = false;
  for (const auto& l : wb["sheets"][2]["cells"]) in_notes |= l[1][0] == sentence;
  const json& checks = wb["sheets"][1];
  for (const auto& l : checks["cells"])
    if (l[Col(checks, "Toelichting")][0] == sentence) {
      in_checks = true;
      EXPECT_EQ(l[Col(checks, "Verschil")][0], -1);
    }
  EXPECT_TRUE(in_notes) << wb["sheets"][2].dump();
  EXPECT_TRUE(in_checks);
  EXPECT_EQ(wb["sheets"][2]["max_row"], int(r.notes.size() + 1));  // numbered as in English
}

TEST(Xlsx, GroupedReportHasTheDimensionHeaderAndSafeText) {
  std::vector<CountsRow> cards{testing::SyntheticCell("2026", "=HYPERLINK(\"x\")", 1, 0),
                               testing::SyntheticCell("2026", std::string("Li\xE8ge"), 1, 1)};  // Latin-1
  auto r = BuildAdoptionReport(cards, {}, {.by = Dimension::kNetwork});
  ASSERT_TRUE(r.has_value());
  lk::testing::TempDir dir;
  json wb = Dump(*r, dir);
  ASSERT_EQ(wb["sheets"].size(), 3u);
  const json& rows = wb["sheets"][0];
  EXPECT_EQ(rows["cells"][0][3][0], "Onderwijsnet");
  // Text is text (never a formula) and invalid UTF-8 is replaced, not a broken file.
  EXPECT_EQ(rows["cells"][1][3][0], "=HYPERLINK(\"x\")");
  EXPECT_EQ(rows["cells"][1][3][1], "s");
  EXPECT_EQ(rows["cells"][2][3][0], "Li\uFFFDge");
}

TEST(Xlsx, AnUnwritablePathIsAnErrorNamingIt) {
  Report r = PublishedReport();
  auto w = WriteXlsx(r, "/nonexistent-dir/sub/report.xlsx");
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error().code, Code::kInvalidArgument);
  EXPECT_THAT(w.error().message, HasSubstr("/nonexistent-dir/sub/report.xlsx"));
  auto e = Export(r, Format::kXlsx);
  ASSERT_TRUE(e.has_value()) << e.error().message;
  EXPECT_EQ(e->substr(0, 2), "PK");
}

}  // namespace
}  // namespace lk::reports
