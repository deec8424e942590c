// Building and rendering the adoption report for ten card years x 11 provinces (inputs
// synthesised, as the ledger's Counts() would return them), plus the 2017-2019 published rows.
// Baseline in the same run: copying the inputs (what the app/ glue does before calling us).
// The ledger query itself is measured by the ledger benchmark.
#include <benchmark/benchmark.h>

#include "reports/reports.h"

namespace lk::reports {
namespace {

constexpr const char* kProvinces[] = {
    "Brussel", "Waals-Brabant", "Vlaams-Brabant", "Antwerpen",       "Limburg",        "Luik",
    "Namen",   "Henegouwen",    "Luxemburg",      "West-Vlaanderen", "Oost-Vlaanderen"};

std::vector<CountsRow> Counts(bool by_province) {
  std::vector<CountsRow> rows;
  for (int y = 2017; y <= 2026; ++y) {
    int groups = by_province ? 11 : 1;
    for (int g = 0; g < groups; ++g) {
      CountsRow c;
      c.period = std::to_string(y);
      if (by_province) c.group = kProvinces[g];
      int64_t scale = by_province ? 1 : 11;
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
  auto counts = Counts(true);
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
  auto counts = Counts(by_province);
  auto pub = Published();
  ReportOptions o{.by = by_province ? Dimension::kProvince : Dimension::kNone, .first_year = 2017, .last_year = 2026};
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
  auto counts = Counts(true);
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

}  // namespace
}  // namespace lk::reports

BENCHMARK_MAIN();
