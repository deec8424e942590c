// Server time of the teacher's pages: rendering the card page (its QR code as SVG from a token of
// the real length, 258 characters, plus the templates) and the welcome page; BM_CardPage also
// reports the 99th percentile of its iterations' wall times (p99_us). Not timed by any test.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "web/web.h"

namespace {

const std::string kToken = std::string(42, 'e') + "." + std::string(172, 'P') + "." + std::string(43, 's');

const lk::web::Site& TheSite() {
  static auto site = lk::web::Site::Load();
  if (!site) throw std::runtime_error(site.error().message);
  return **site;
}

void BM_CardPage(benchmark::State& state) {
  const lk::web::Site& site = TheSite();
  size_t bytes = 0;
  std::vector<double> us;  // each iteration's wall time, for the p99 counter
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    lk::web::Values v;
    v.text["name"] = "Sofie Van den Broeck";
    v.text["school"] = "012345";
    v.text["year"] = "2026";
    v.text["csrf"] = "L8hPqJ9SBrPGWSmU_cow8il2zEOGjVSQ";
    v.markup["qr"] = *lk::web::QrSvg(kToken, site.Text(lk::web::Lang::kNl, "card.qr_label"));
    v.flags.insert("google");
    auto html = site.Render("card", lk::web::Lang::kNl, v);
    bytes = html->size();
    benchmark::DoNotOptimize(html);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  state.counters["page_bytes"] = static_cast<double>(bytes);
  std::sort(us.begin(), us.end());
  if (!us.empty()) state.counters["p99_us"] = us[us.size() * 99 / 100];
}
BENCHMARK(BM_CardPage)->Unit(benchmark::kMicrosecond);

void BM_QrSvgOnly(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(lk::web::QrSvg(kToken, "QR"));
}
BENCHMARK(BM_QrSvgOnly)->Unit(benchmark::kMicrosecond);

void BM_HomePage(benchmark::State& state) {
  const lk::web::Site& site = TheSite();
  for (auto _ : state) benchmark::DoNotOptimize(site.Render("home", lk::web::Lang::kFr, {}));
}
BENCHMARK(BM_HomePage)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
