// The pass update pusher end to end on a real ledger: N holders with a digital card each, one
// registered device per pass, a change of every pass queued (as a revocation or `cards refresh`
// queues it), then one UpdatePusher::RunOnce against a stand-in APNs: the batch claimed from the
// ledger, N pushes over HTTP/2, the delivery journal written, the batch finished. Then the
// changed-since query of the pass web service (PassUpdates::UpdatedSince) for `queries` random
// devices with one pass each. Prints one JSON line. Run by wallet_push_load.sh.
//   wallet_push_load URL N CA_FILE CERT_PEM KEY_PEM LEDGER_DIR [LEDGER_URL] [QUERIES=2000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "base/base.h"
#include "ledger/ledger.h"
#include "push/push.h"
#include "tests/bench/process_usage.h"
#include "tests/bench/stand_in_apns.h"
#include "wallet/wallet.h"

namespace {
using lk::bench::CpuSeconds, lk::bench::PeakRssKb;
const auto Since = lk::bench::SecondsSince;
int Die(const std::string& what, const lk::Error& e) {
  std::fprintf(stderr, "wallet_push_load: %s: %s\n", what.c_str(), e.message.c_str());
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(
        stderr, "usage: wallet_push_load URL N CA_FILE CERT_PEM KEY_PEM LEDGER_DIR [LEDGER_URL] [QUERIES]\n");
    return 2;
  }
  const size_t n = std::stoul(argv[2]);
  const size_t queries = argc > 8 ? std::stoul(argv[8]) : 2000;
  lk::SystemClock clock;
  const int year = int(lk::BrusselsDate(clock.Now()).year());

  lk::ledger::LedgerOptions lo;
  lo.data_dir = argv[6];
  if (argc > 7) lo.url = argv[7];
  auto ledger = lk::ledger::OpenLedger(lo, clock);
  if (!ledger) return Die("ledger", ledger.error());
  auto& l = **ledger;

  // Setup: the roster, a card each, a device each (not timed as the push).
  auto t_setup = std::chrono::steady_clock::now();
  std::string csv =
      "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n";
  std::vector<std::string> staff;
  staff.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    staff.push_back("S" + std::to_string(i));
    csv += staff.back() + ",Voornaam,Achternaam,teaching,GO,basic,12345,2000,no\n";
  }
  std::filesystem::path roster = std::filesystem::path(argv[6]) / "roster.csv";
  if (auto w = lk::WriteFileAtomic(roster, csv); !w) return Die("roster", w.error());
  if (auto r = l.imports().ImportRoster(roster, year); !r) return Die("import", r.error());
  auto cards = l.cards().IssueDigitalBatch(staff, year);
  if (!cards) return Die("issue", cards.error());
  std::vector<std::string> serials;
  serials.reserve(n);
  char token[65];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(token, sizeof token, "a%063zx", i);
    serials.push_back((*cards)[i].serial);
    if (auto r = l.pass_updates().Register("device" + std::to_string(i), token, serials.back()); !r)
      return Die("register", r.error());
  }
  if (auto q = l.pass_updates().QueueChanges(serials); !q) return Die("queue", q.error());
  const double setup_s = Since(t_setup);

  auto stand_in = lk::bench::StandInApnsConfig(argv[1], argv[3], argv[4], argv[5]);
  if (!stand_in) return Die("certificate", stand_in.error());
  lk::push::ApnsConfig config = *stand_in;
  config.journal_batch = 1000;  // serve's default ([apns] journal_batch)
  auto client = lk::push::ApnsClient::Create(config, clock);
  if (!client) return Die("apns", client.error());
  lk::wallet::PusherOptions po;
  po.log = [](std::string_view) {};
  lk::wallet::UpdatePusher pusher(l, **client, clock, po);

  const long rss_before = PeakRssKb();
  const double cpu0 = CpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  auto round = pusher.RunOnce();
  const double push_s = Since(t0);
  const double push_cpu = CpuSeconds() - cpu0;
  if (!round) return Die("push", round.error());

  // The changed-since query of devices with one pass each: half with a tag older than the change
  // (the pass is listed), half with the newest tag (nothing listed).
  std::mt19937_64 rng(42);
  std::vector<double> us;
  us.reserve(queries);
  auto newest = l.pass_updates().UpdatedSince("device0", std::nullopt);
  if (!newest) return Die("query", newest.error());
  size_t listed = 0;
  for (size_t q = 0; q < queries; ++q) {
    const std::string device = "device" + std::to_string(rng() % n);
    auto tq = std::chrono::steady_clock::now();
    auto r = l.pass_updates().UpdatedSince(device, q % 2 ? newest->last_updated : 0);
    us.push_back(Since(tq) * 1e6);
    if (!r) return Die("query", r.error());
    listed += r->serials.size();
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us.empty() ? 0.0 : us[std::min(us.size() - 1, size_t(p * us.size()))]; };
  double mean = 0;
  for (double u : us) mean += u;
  mean /= std::max<size_t>(1, us.size());

  std::printf(
      "{\"ledger\": \"%s\", \"devices\": %zu, \"setup_s\": %.1f, \"push_s\": %.2f, \"pushes_per_s\": %.0f, "
      "\"pusher_cpu_s\": %.2f, \"peak_rss_mb\": %.1f, \"rss_before_push_mb\": %.1f, \"delivered\": %zu, "
      "\"changes\": %zu, \"batches\": %zu, \"query_mean_us\": %.0f, \"query_p50_us\": %.0f, "
      "\"query_p99_us\": "
      "%.0f, \"query_max_us\": %.0f, \"queries\": %zu, \"listed\": %zu}\n",
      std::string(l.backend()).c_str(), n, setup_s, push_s, static_cast<double>(round->delivered) / push_s,
      push_cpu, static_cast<double>(PeakRssKb()) / 1024, static_cast<double>(rss_before) / 1024,
      round->delivered, round->changes, round->batches, mean, pct(0.5), pct(0.99), us.empty() ? 0 : us.back(),
      queries, listed);
  return round->delivered == n ? 0 : 1;
}
