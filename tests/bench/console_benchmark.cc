// The staff console's adoption view over real HTTP on 127.0.0.1, against the SQLite ledger of
// ten card years x ~200,000 cards (ten_year_ledger.h): the service runs in this process, a
// browser's session is signed in once through the form, and each iteration is one GET of the view
// (read counts and published figures, build the report, render table, chart and page). The
// loopback HTTP round trip is inside the figure: the server's own time is at most this.
// BM_ConsoleAdoption/{0..5}: by none / province / network / role / level (calendar), and school
// years by province. BM_ConsoleExport/{0,1}: the CSV and XLSX downloads of the province view.
// BM_BaselineCardsForm: the same-run baseline, one GET of the signed-in card look-up form (the
// loopback round trip, the session check in the ledger and a page render, without cards or counts).
// $LK_LEDGER_BENCH_SCALE (default 1) shrinks the ledger, for smoke runs.
#include <benchmark/benchmark.h>

#include <regex>

#include "api/api.h"
#include "signing/signing.h"
#include "tests/api/service_harness.h"
#include "tests/bench/ten_year_ledger.h"

namespace lk::api {
namespace {
using testing::Http;

class SignedInConsole {
 public:
  SignedInConsole() {
    if (!built_.error().empty()) {
      error_ = built_.error();
      return;
    }
    auto l = ledger::OpenLedger(built_.options(), built_.clock());
    if (!l) {
      error_ = l.error().message;
      return;
    }
    auto secret = (*l)->access().AddCredential(ledger::CredentialKind::kStaff, "bench");
    if (!secret) {
      error_ = secret.error().message;
      return;
    }
    keys_.dir = built_.options().data_dir / "service-keys";
    if (auto k = signing::InitDevelopmentKeys(keys_, built_.clock()); !k) {
      error_ = k.error().message;
      return;
    }
    auto ring = signing::Keyring::Open(keys_);
    if (!ring) {
      error_ = ring.error().message;
      return;
    }
    keyring_ = std::move(*ring);
    ServiceOptions o;
    o.port = 0;
    o.access_log = false;
    ServiceDeps d;
    d.clock = &built_.clock();
    d.ledger = std::move(*l);
    d.keyring = keyring_.get();
    auto s = Service::Start(o, std::move(d));
    if (!s) {
      error_ = s.error().message;
      return;
    }
    service_ = std::move(*s);
    auto form = Http("GET", Url("/console"));
    std::smatch m;
    std::string set = form.header("set-cookie");
    if (!std::regex_search(set, m, std::regex("lk_console_csrf=([^;]+)"))) {
      error_ = "no CSRF cookie on the sign-in form";
      return;
    }
    std::string csrf = m[1].str();
    auto r = Http("POST", Url("/console/signin"), "csrf=" + csrf + "&credential=" + *secret,
                  {"Cookie: lk_console_csrf=" + csrf, "Content-Type: application/x-www-form-urlencoded"});
    set = r.header("set-cookie");
    if (r.status != 303 || !std::regex_search(set, m, std::regex("(lk_console=[^;]+)"))) {
      error_ = "sign-in failed: " + std::to_string(r.status);
      return;
    }
    cookie_ = "Cookie: " + m[1].str();
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(service_->port()) + path;
  }
  const std::string& error() const { return error_; }
  const std::string& cookie() const { return cookie_; }

 private:
  bench::TenYearLedger built_;
  signing::KeyConfig keys_;
  std::unique_ptr<signing::Keyring> keyring_;
  std::unique_ptr<Service> service_;
  std::string cookie_, error_;
};

SignedInConsole& Console() {
  static SignedInConsole console;
  return console;
}

void Run(benchmark::State& state, const std::string& path) {
  SignedInConsole& c = Console();
  if (!c.error().empty()) return state.SkipWithError(c.error().c_str());
  size_t bytes = 0;
  for (auto _ : state) {
    auto r = Http("GET", c.Url(path), "", {c.cookie()});
    if (r.status != 200) return state.SkipWithError(("status " + std::to_string(r.status)).c_str());
    bytes = r.body.size();
  }
  state.SetLabel(path + ": " + std::to_string(bytes) + " bytes");
}

void BM_ConsoleAdoption(benchmark::State& state) {
  static const char* kPaths[] = {
      "/console?period=calendar&by=none",    "/console?period=calendar&by=province",
      "/console?period=calendar&by=network", "/console?period=calendar&by=role",
      "/console?period=calendar&by=level",   "/console?period=school&by=province"};
  Run(state, kPaths[state.range(0)]);
}
BENCHMARK(BM_ConsoleAdoption)->DenseRange(0, 5)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BaselineCardsForm(benchmark::State& state) { Run(state, "/console/cards"); }
BENCHMARK(BM_BaselineCardsForm)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ConsoleExport(benchmark::State& state) {
  Run(state, state.range(0) ? "/console/adoption.xlsx?by=province" : "/console/adoption.csv?by=province");
}
BENCHMARK(BM_ConsoleExport)->DenseRange(0, 1)->Iterations(10)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace lk::api

BENCHMARK_MAIN();
