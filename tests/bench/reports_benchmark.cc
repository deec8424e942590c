// Building and rendering the adoption report for ten card years x 11 provinces (inputs
// synthesised, as the ledger's Counts() would return them), plus the 2017-2019 published rows.
// Baseline in the same run: copying the inputs (what the app/ glue does before calling us).
// BM_Export renders one built report by province, network, role or level over ten years as CSV
// (the in-run baseline) and as XLSX (libxlsxwriter, through its private temporary directory).
// BM_EndToEndSqlite is the whole `report adoption --by province` (calendar view) against a real
// SQLite ledger of ten card years x ~200,000 cards: open, query, build, render.
// $LK_LEDGER_BENCH_SCALE (default 1) shrinks that ledger, for smoke runs.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "ledger/ledger.h"
#include "reports/reports.h"
#include "tests/bench/ten_year_ledger.h"

namespace lk::reports {
namespace {

constexpr const char* kProvinces[] = {
    "Brussel", "Waals-Brabant", "Vlaams-Brabant", "Antwerpen",       "Limburg",        "Luik",
    "Namen",   "Henegouwen",    "Luxemburg",      "West-Vlaanderen", "Oost-Vlaanderen"};

// The group values of each dimension, as the ledger names them.
std::vector<std::string> Groups(Dimension by) {
  switch (by) {
    case Dimension::kProvince:
      return {std::begin(kProvinces), std::end(kProvinces)};
    case Dimension::kNetwork:
      return {"GO", "OGO", "VGO"};
    case Dimension::kRole:
      return {"administrative", "support", "teaching"};
    case Dimension::kLevel:
      return {"adult", "basic", "higher", "other", "part_time_arts", "secondary"};
    case Dimension::kNone:
      break;
  }
  return {""};
}

std::vector<CountsRow> Counts(Dimension by) {
  std::vector<CountsRow> rows;
  auto names = Groups(by);
  for (int y = 2017; y <= 2026; ++y) {
    int groups = int(names.size());
    for (int g = 0; g < groups; ++g) {
      CountsRow c;
      c.period = std::to_string(y);
      if (by != Dimension::kNone) c.group = names[size_t(g)];
      int64_t scale = 11 / groups;
      c.eligible = (19000 + 137 * g + 211 * (y - 2017)) * scale;
      c.holders = *c.eligible * 2 / 3;
      c.both = c.holders * (y - 2017) / 120;  // digital uptake grows each year
      c.digital_only = c.holders * (y - 2017) / 25;
      c.physical_only = c.holders - c.both - c.digital_only;
      c.digital = c.digital_only + c.both;
      int64_t physical = c.physical_only + c.both;
      c.subscription = physical / 9;
      c.starter = physical / 11;
      c.library = physical - c.subscription - c.starter;
      rows.push_back(c);
    }
  }
  return rows;
}

std::vector<PublishedRow> Published() {
  return {{"2017", 2017, 204530, 15570, 14852, 102478, 138365, "67.50%"},
          {"2018", 2018, 208204, 18276, 16527, 103966, 139705, "67%"},
          {"2019", 2019, 213132, 19931, 17583, 100102, 138516, "65%"},
          {"Totaal", std::nullopt, 625866, 53777, 48962, 306546, 416585, "66.50%"}};
}

void BM_Baseline_CopyInputs(benchmark::State& state) {
  auto counts = Counts(Dimension::kProvince);
  auto pub = Published();
  for (auto _ : state) {
    std::vector<CountsRow> c = counts;
    std::vector<PublishedRow> p = pub;
    benchmark::DoNotOptimize(c.data());
    benchmark::DoNotOptimize(p.data());
  }
}
BENCHMARK(BM_Baseline_CopyInputs);

void BM_Build(benchmark::State& state) {
  bool by_province = state.range(0);
  auto counts = Counts(by_province ? Dimension::kProvince : Dimension::kNone);
  auto pub = Published();
  ReportOptions o{
      .by = by_province ? Dimension::kProvince : Dimension::kNone, .first_year = 2017, .last_year = 2026};
  for (auto _ : state) {
    auto r = BuildAdoptionReport(counts, pub, o);
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(r->rows.data());
  }
  state.SetLabel(by_province ? "10 years x 11 provinces" : "10 years");
}
BENCHMARK(BM_Build)->Arg(0)->Arg(1);

void BM_BuildAndRender(benchmark::State& state) {
  auto format = Format(state.range(0));
  auto counts = Counts(Dimension::kProvince);
  auto pub = Published();
  ReportOptions o{.by = Dimension::kProvince, .first_year = 2017, .last_year = 2026};
  size_t bytes = 0;
  for (auto _ : state) {
    auto r = BuildAdoptionReport(counts, pub, o);
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    std::string out = Render(*r, format);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  const char* names[] = {"table", "csv", "json", "html"};
  state.SetLabel(std::string(names[state.range(0)]) + ", " + std::to_string(bytes) + " bytes");
}
BENCHMARK(BM_BuildAndRender)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);

// Arguments: the dimension (1 province, 2 network, 3 role, 4 level) and the format (csv, xlsx).
void BM_Export(benchmark::State& state) {
  auto by = Dimension(state.range(0));
  auto format = state.range(1) ? Format::kXlsx : Format::kCsv;
  auto r = BuildAdoptionReport(Counts(by), Published(), {.by = by, .first_year = 2017, .last_year = 2026});
  if (!r) return state.SkipWithError(r.error().message.c_str());
  size_t bytes = 0;
  for (auto _ : state) {
    auto out = Export(*r, format);
    if (!out) return state.SkipWithError(out.error().message.c_str());
    bytes = out->size();
    benchmark::DoNotOptimize(out->data());
  }
  state.SetLabel(std::string(format == Format::kXlsx ? "xlsx" : "csv") + " by " +
                 std::string(DimensionName(by)) + ", " + std::to_string(r->rows.size() + r->totals.size()) +
                 " rows, " + std::to_string(bytes) + " bytes");
}
BENCHMARK(BM_Export)
    ->ArgsProduct({{int(Dimension::kProvince), int(Dimension::kNetwork), int(Dimension::kRole),
                    int(Dimension::kLevel)},
                   {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// --- End to end against a real SQLite ledger ------------------------------------------------

using bench::TenYearLedger;

// What `lerarenkaart report adoption --by province` does (app/cli_report.cc), timed whole; the
// argument is the format: 0 table, 1 csv, 4 xlsx (the "XLSX of that report in under 1 s").
void BM_EndToEndSqlite(benchmark::State& state) {
  auto format = Format(state.range(0));
  static TenYearLedger built;
  if (!built.error().empty()) return state.SkipWithError(built.error().c_str());
  size_t bytes = 0, rows = 0;
  for (auto _ : state) {
    auto l = ledger::OpenLedger(built.options(), built.clock());
    if (!l) return state.SkipWithError(l.error().message.c_str());
    auto counts = (*l)->counts().Query({ledger::Period::kCalendar, ledger::Dimension::kProvince, 2017, 2026});
    if (!counts) return state.SkipWithError(counts.error().message.c_str());
    auto published = (*l)->counts().Published();
    if (!published) return state.SkipWithError(published.error().message.c_str());
    std::vector<CountsRow> c;
    for (const auto& r : *counts)
      c.push_back({r.period, r.group, r.eligible, r.subscription, r.starter, r.library, r.digital, r.holders,
                   r.digital_only, r.physical_only, r.both, r.eligible_year});
    std::vector<PublishedRow> p;
    for (const auto& r : *published)
      p.push_back(
          {r.label, r.year, r.eligible, r.subscribers, r.starters, r.library, r.holders, r.printed_share});
    auto rep = BuildAdoptionReport(c, p, {Period::kCalendar, Dimension::kProvince, 2017, 2026});
    if (!rep) return state.SkipWithError(rep.error().message.c_str());
    auto out = Export(*rep, format);
    if (!out) return state.SkipWithError(out.error().message.c_str());
    bytes = out->size();
    rows = c.size();
    benchmark::DoNotOptimize(out->data());
  }
  const char* names[] = {"table", "csv", "json", "html", "xlsx"};
  state.SetLabel(std::string("10 card years x ~200k cards, by province, ") + names[state.range(0)] + ": " +
                 std::to_string(rows) + " cells, " + std::to_string(bytes) + " bytes");
}
BENCHMARK(BM_EndToEndSqlite)
    ->Arg(0)
    ->Arg(1)
    ->Arg(4)
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace lk::reports

BENCHMARK_MAIN();
