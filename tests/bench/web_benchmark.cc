// Server time of the teacher's pages: rendering the card page (its QR code as SVG from a token of
// the real length, 258 characters, plus the templates), the welcome page, the move confirmation
// and the card page after a move; and the ledger write behind POST /card/move (revoke and
// replace, one SQLite transaction with its audit entry, synchronous=FULL). The page benchmarks
// and the move also report the 99th percentiles of their iterations' wall and CPU times
// (p99_us, p99_cpu_us). Same-run baselines: the welcome page (a template without values) for the
// page renders, and BM_BaselineDurableWrite (a 200-byte write and fdatasync in the same /tmp) for
// the move's durable commit. Not timed by any test.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "web/web.h"

namespace {

const std::string kToken = std::string(42, 'e') + "." + std::string(172, 'P') + "." + std::string(43, 's');

const lk::web::Site& TheSite() {
  static auto site = lk::web::Site::Load();
  if (!site) throw std::runtime_error(site.error().message);
  return **site;
}

// Each iteration's wall time and this thread's CPU time; the 99th percentiles of them as the
// counters p99_us and p99_cpu_us. On a shared machine the wall time includes waiting for a core;
// the CPU time is the server's own work.
class Percentile {
 public:
  void Start() {
    start_ = std::chrono::steady_clock::now();
    cpu_start_ = CpuMicros();
  }
  void Stop() {
    us_.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start_).count());
    cpu_us_.push_back(CpuMicros() - cpu_start_);
  }
  void Report(benchmark::State& state) {
    std::sort(us_.begin(), us_.end());
    std::sort(cpu_us_.begin(), cpu_us_.end());
    if (!us_.empty()) state.counters["p99_us"] = us_[us_.size() * 99 / 100];
    if (!cpu_us_.empty()) state.counters["p99_cpu_us"] = cpu_us_[cpu_us_.size() * 99 / 100];
  }

 private:
  static double CpuMicros() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
  }
  std::chrono::steady_clock::time_point start_;
  double cpu_start_ = 0;
  std::vector<double> us_, cpu_us_;
};

// Renders `page` in Dutch from the values `make(site)` builds, inside each timed iteration (as a
// handler builds them per request), and reports the page's size (page_bytes) and p99s.
template <class MakeValues>
void RenderPage(benchmark::State& state, const char* page, MakeValues make) {
  const lk::web::Site& site = TheSite();
  Percentile p99;
  size_t bytes = 0;
  for (auto _ : state) {
    p99.Start();
    auto html = site.Render(page, lk::web::Lang::kNl, make(site));
    bytes = html->size();
    benchmark::DoNotOptimize(html);
    p99.Stop();
  }
  state.counters["page_bytes"] = static_cast<double>(bytes);
  p99.Report(state);
}

// The card page's values for Sofie's card, its QR code of a full-length token, and `flag`
// ("google": the Google Wallet button; "moved": the notice after a move).
lk::web::Values CardValues(const lk::web::Site& site, const char* flag) {
  lk::web::Values v;
  v.text["name"] = "Sofie Van den Broeck";
  v.text["school"] = "012345";
  v.text["year"] = "2026";
  v.text["csrf"] = "L8hPqJ9SBrPGWSmU_cow8il2zEOGjVSQ";
  v.markup["qr"] = *lk::web::QrSvg(kToken, site.Text(lk::web::Lang::kNl, "card.qr_label"));
  v.flags.insert(flag);
  return v;
}

void BM_CardPage(benchmark::State& state) {
  RenderPage(state, "card", [](const lk::web::Site& site) { return CardValues(site, "google"); });
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

// GET /card/move: the confirmation before moving the card.
void BM_MovePage(benchmark::State& state) {
  RenderPage(state, "move", [](const lk::web::Site&) {
    lk::web::Values v;
    v.text["csrf"] = "L8hPqJ9SBrPGWSmU_cow8il2zEOGjVSQ";
    v.text["serial"] = "5HXHZSJF3WNF";
    v.text["year"] = "2026";
    return v;
  });
}
BENCHMARK(BM_MovePage)->Unit(benchmark::kMicrosecond);

// GET /card?moved=1: the replacement card, its new QR code and the "moved" notice.
void BM_MovedCardPage(benchmark::State& state) {
  RenderPage(state, "card", [](const lk::web::Site& site) { return CardValues(site, "moved"); });
}
BENCHMARK(BM_MovedCardPage)->Unit(benchmark::kMicrosecond);

// POST /card/move's ledger write: Cards::ReplaceDigital on a SQLite ledger (a temporary folder) of
// 10,000 holders with a digital card each; every iteration moves another holder's current card.
void BM_MoveCardSqlite(benchmark::State& state) {
  constexpr int kHolders = 10'000;
  char dir_template[] = "/tmp/lk-web-bench-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (!dir) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  lk::SystemClock clock;
  int year = 2026;
  {
    auto ledger = lk::ledger::OpenLedger({.url = "", .data_dir = dir}, clock);
    if (!ledger) {
      state.SkipWithError(ledger.error().message.c_str());
      return;
    }
    std::string roster =
        "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n";
    std::vector<std::string> ids;
    for (int i = 0; i < kHolders; ++i) {
      ids.push_back("S" + std::to_string(i));
      roster += ids.back() + ",F,L,teaching,GO,basic,12345," + (i % 2 ? "2000" : "9000") + ",no\n";
    }
    auto imported = (*ledger)->imports().ImportRoster({"roster.csv", roster}, year);
    auto cards = (*ledger)->cards().IssueDigitalBatch(ids, year);
    if (!imported || !cards) {
      state.SkipWithError("setting up the ledger failed");
      return;
    }
    std::vector<std::string> serials;
    for (const auto& c : *cards) serials.push_back(c.serial);
    Percentile p99;
    size_t next = 0;
    for (auto _ : state) {
      std::string& serial = serials[next++ % serials.size()];
      p99.Start();
      auto moved = (*ledger)->cards().ReplaceDigital(serial, "moved to a new device");
      p99.Stop();
      if (!moved) {
        state.SkipWithError(moved.error().message.c_str());
        break;
      }
      serial = moved->serial;
    }
    p99.Report(state);
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_MoveCardSqlite)->Unit(benchmark::kMicrosecond);

// The floor under any durable ledger write on this disk: 200 bytes written at the start of a file
// in /tmp and fdatasync'ed, per iteration, with the same p99 counters.
void BM_BaselineDurableWrite(benchmark::State& state) {
  char path_template[] = "/tmp/lk-web-bench-fsync-XXXXXX";
  const int fd = mkstemp(path_template);
  if (fd < 0) return state.SkipWithError("mkstemp failed");
  const std::string row(200, 'r');
  Percentile p99;
  for (auto _ : state) {
    p99.Start();
    if (pwrite(fd, row.data(), row.size(), 0) != static_cast<ssize_t>(row.size()) || fdatasync(fd) != 0) {
      state.SkipWithError("write or fdatasync failed");
      break;
    }
    p99.Stop();
  }
  p99.Report(state);
  close(fd);
  unlink(path_template);
}
BENCHMARK(BM_BaselineDurableWrite)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
