// The staff journey from the README: import files into the ledger, then read the adoption report.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/base.h"
#include "tests/testing/testing.h"

namespace lk {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::RunProgram;

class ReportCliTest : public ::testing::Test {
 protected:
  testing::RunResult Lk(std::vector<std::string> args) {
    args.insert(args.begin(), {testing::Binary(), "--data-dir", dir_.path().string()});
    return RunProgram(args);
  }
  json Report(std::vector<std::string> args) {
    args.insert(args.begin(), {"report", "adoption", "--format", "json"});
    auto r = Lk(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }
  testing::TempDir dir_;
};

const json* Row(const json& report, const std::string& period, const json& group = nullptr) {
  for (const auto& r : report["rows"])
    if (r["period"] == period && r["group"] == group) return &r;
  return nullptr;
}

TEST_F(ReportCliTest, ReproducesThePublishedFigures) {
  auto imp = Lk({"import", "published",
                 (testing::SourceDir() / "tests/reports/testdata/published-uptake-2017-2019.csv").string()});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  json rep = Report({"--years", "2017-2019"});
  const int64_t holders[] = {138365, 139705, 138516}, eligible[] = {204530, 208204, 213132};
  const int64_t not_itemised[] = {5465, 936, 900};
  for (int i = 0; i < 3; ++i) {
    const json* row = Row(rep, std::to_string(2017 + i));
    ASSERT_NE(row, nullptr) << 2017 + i;
    EXPECT_EQ((*row)["holders"], holders[i]);
    EXPECT_EQ((*row)["eligible"], eligible[i]);
    EXPECT_EQ((*row)["cards"]["not_itemised"], not_itemised[i]);
    EXPECT_TRUE((*row)["cards"]["digital"].is_null());
    EXPECT_NEAR((*row)["share"].get<double>(), double(holders[i]) / double(eligible[i]), 1e-12);
  }
  // The published total and the one-card difference.
  std::string text = rep.dump();
  EXPECT_NE(text.find("416585"), std::string::npos);
  EXPECT_NE(text.find("416586"), std::string::npos);
  // The school view cannot split published years: n/a with a note, never a zero.
  json school = Report({"--years", "2017-2019", "--period", "school"});
  for (const auto& r : school["rows"]) EXPECT_TRUE(r["holders"].is_null()) << r.dump();
  EXPECT_FALSE(school["notes"].empty());
}

TEST_F(ReportCliTest, PerCardRecordsByProvinceAndSchoolYear) {
  testing::WriteText(
      dir_ / "roster.csv",
      "\xEF\xBB\xBFstaff_id;first_name;last_name;role;network;level;school_number;school_postcode;starter\n"
      "S1;An;Peeters;teaching;GO;basic;1001;2000;no\n"         // Antwerpen
      "S2;Bart;Claes;teaching;VGO;secondary;1002;9000;yes\n"   // Oost-Vlaanderen
      "S3;Chloé;Dubois;support;OGO;basic;1003;1000;no\n"       // Brussel
      "S4;Dirk;Maes;administrative;GO;adult;1004;3500;no\n");  // Limburg
  ASSERT_EQ(Lk({"import", "roster", (dir_ / "roster.csv").string(), "--year", "2026"}).exit_code, 0);
  testing::WriteText(dir_ / "library.csv", "staff_id,date\nS1,2025-12-20\nS3,2026-01-10\n");
  ASSERT_EQ(Lk({"import", "library", (dir_ / "library.csv").string(), "--year", "2026"}).exit_code, 0);
  testing::WriteText(dir_ / "starters.csv", "staff_id,date\nS2,2026-09-15\n");
  ASSERT_EQ(Lk({"import", "starters", (dir_ / "starters.csv").string(), "--year", "2026"}).exit_code, 0);
  auto issued = Lk({"ledger", "issue", "--staff-id", "S1", "--year", "2026"});
  ASSERT_EQ(issued.exit_code, 0) << issued.err;

  json cal = Report({"--years", "2026"});
  const json* all = Row(cal, "2026");
  ASSERT_NE(all, nullptr) << cal.dump();
  EXPECT_EQ((*all)["eligible"], 4);
  EXPECT_EQ((*all)["cards"]["library"], 2);
  EXPECT_EQ((*all)["cards"]["starter"], 1);
  EXPECT_EQ((*all)["cards"]["digital"], 1);
  EXPECT_EQ((*all)["holders"], 3);  // S1 holds two cards: counted once
  EXPECT_NEAR((*all)["share"].get<double>(), 0.75, 1e-12);

  json prov = Report({"--years", "2026", "--by", "province"});
  const json* antwerpen = Row(prov, "2026", "Antwerpen");
  ASSERT_NE(antwerpen, nullptr) << prov.dump();
  EXPECT_EQ((*antwerpen)["holders"], 1);
  EXPECT_EQ((*antwerpen)["cards"]["digital"], 1);
  const json* limburg = Row(prov, "2026", "Limburg");
  if (limburg) {
    EXPECT_EQ((*limburg)["holders"], 0);  // eligible but no card
  }

  // School years by the date of issue: the December 2025 pickup belongs to 2025-2026, the
  // September 2026 mailing to 2026-2027.
  json school = Report({"--years", "2025-2026", "--period", "school"});
  const json* y1 = Row(school, "2025-2026");
  const json* y2 = Row(school, "2026-2027");
  ASSERT_NE(y1, nullptr) << school.dump();
  ASSERT_NE(y2, nullptr) << school.dump();
  EXPECT_EQ((*y1)["cards"]["library"], 2);
  EXPECT_EQ((*y2)["cards"]["starter"], 1);
  EXPECT_EQ((*y1)["eligible"], 4);  // the 2026 roster: the card year of January to August 2026
  EXPECT_FALSE((*y1)["share"].is_null());
}

// A mistyped data directory is named, not turned into a new ledger; an empty ledger is said to be
// empty; both exit non-zero.
TEST_F(ReportCliTest, RefusesADataDirectoryWithoutALedgerAndAnEmptyLedger) {
  const fs::path elsewhere = dir_ / "typo";
  for (std::vector<std::string> cmd : {std::vector<std::string>{"report", "adoption"},
                                       {"ledger", "verify"},
                                       {"ledger", "revoke", "--serial", "X", "--reason", "r"},
                                       {"partners", "remove", "Museum"}}) {
    cmd.insert(cmd.begin(), {testing::Binary(), "--data-dir", elsewhere.string()});
    auto r = RunProgram(cmd);
    EXPECT_EQ(r.exit_code, 2) << cmd[3];
    EXPECT_NE(r.err.find("no ledger at " + (elsewhere / "ledger.sqlite").string()), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("--data-dir"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(elsewhere / "ledger.sqlite"));
  EXPECT_FALSE(fs::exists(elsewhere / "keys"));

  // A command that writes makes the ledger; with nothing counted in it, the report says so.
  ASSERT_EQ(Lk({"partners", "add", "Museum"}).exit_code, 0);
  auto empty = Lk({"report", "adoption"});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.err.find("nothing to report"), std::string::npos) << empty.err;
  EXPECT_TRUE(empty.out.empty()) << empty.out;
}

TEST_F(ReportCliTest, FormatsAndBadOptions) {
  ASSERT_EQ(Lk({"import", "published",
                (testing::SourceDir() / "tests/reports/testdata/published-uptake-2017-2019.csv").string()})
                .exit_code,
            0);
  auto csv = Lk({"report", "adoption", "--format", "csv"});
  EXPECT_EQ(csv.exit_code, 0);
  EXPECT_EQ(csv.out.substr(0, 3), "\xEF\xBB\xBF");
  EXPECT_NE(csv.out.find(';'), std::string::npos);
  // -o with csv and no --part: the table, the reconciliation and the notes side by side.
  auto three = Lk({"report", "adoption", "--format", "csv", "-o", (dir_ / "adoptie.csv").string()});
  EXPECT_EQ(three.exit_code, 0) << three.err;
  EXPECT_EQ(ReadFile(dir_ / "adoptie.csv")->rfind("\xEF\xBB\xBFrow_kind;source;period;", 0), 0u);
  EXPECT_NE(
      ReadFile(dir_ / "adoptie-reconciliation.csv")->find("total;Totaal;holders;count;416585;416586;-1"),
      std::string::npos);
  EXPECT_EQ(ReadFile(dir_ / "adoptie-notes.txt")->rfind("[1] ", 0), 0u);
  auto notes = Lk({"report", "adoption", "--format", "csv", "--part", "notes"});
  EXPECT_EQ(notes.exit_code, 0) << notes.err;
  EXPECT_EQ(notes.out.rfind("[1] ", 0), 0u);
  auto comma = Lk({"report", "adoption", "--format", "csv", "--delimiter", ","});
  EXPECT_NE(comma.out.find(",138516,64.9907,65%,"), std::string::npos) << comma.out;
  EXPECT_EQ(Lk({"report", "adoption", "--format", "csv", "--part", "everything"}).exit_code, 2);
  auto part_of_json = Lk({"report", "adoption", "--format", "json", "--part", "notes"});
  EXPECT_EQ(part_of_json.exit_code, 2);
  EXPECT_NE(part_of_json.err.find("--part applies to --format csv only"), std::string::npos)
      << part_of_json.err;
  auto xlsx = Lk({"report", "adoption", "--format", "xlsx", "-o", (dir_ / "adoptie.xlsx").string()});
  EXPECT_EQ(xlsx.exit_code, 0) << xlsx.err;
  EXPECT_EQ(ReadFile(dir_ / "adoptie.xlsx")->substr(0, 2), "PK");
  auto html = Lk({"report", "adoption", "--format", "html", "-o", (dir_ / "r.html").string()});
  EXPECT_EQ(html.exit_code, 0) << html.err;
  EXPECT_NE(ReadFile(dir_ / "r.html")->find("<svg"), std::string::npos);
  auto bad = Lk({"report", "adoption", "--by", "planet"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--by"), std::string::npos) << bad.err;
  EXPECT_EQ(Lk({"report", "adoption", "--years", "2019-2017"}).exit_code, 2);
}

}  // namespace
}  // namespace lk
