// Pushes one change to N device tokens with ApnsClient and prints one JSON line: pushes, seconds,
// pushes per second, the client's CPU seconds, its peak RSS and its RSS before the push (the
// token list alone), connections opened, outcomes. Exits 1 unless every token got an answer. Run by
// push_load.sh against a stand-in APNs.
//   push_load URL N CA_FILE CERT_PEM KEY_PEM [MAX_IN_FLIGHT=500]
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "base/base.h"
#include "push/push.h"
#include "tests/bench/process_usage.h"
#include "tests/bench/stand_in_apns.h"

int main(int argc, char** argv) {
  using lk::bench::CpuSeconds, lk::bench::PeakRssKb, lk::bench::SecondsSince;
  if (argc < 6) {
    std::fprintf(stderr, "usage: push_load URL N CA_FILE CERT_PEM KEY_PEM [MAX_IN_FLIGHT=500]\n");
    return 2;
  }
  const size_t n = std::stoul(argv[2]);
  auto stand_in = lk::bench::StandInApnsConfig(argv[1], argv[3], argv[4], argv[5]);
  if (!stand_in) {
    std::fprintf(stderr, "push_load: %s\n", stand_in.error().message.c_str());
    return 1;
  }
  lk::push::ApnsConfig config = *stand_in;
  if (argc > 6) config.max_in_flight = std::stoi(argv[6]);
  lk::SystemClock clock;
  auto client = lk::push::ApnsClient::Create(config, clock);
  if (!client) {
    std::fprintf(stderr, "push_load: %s\n", client.error().message.c_str());
    return 1;
  }
  std::vector<std::string> tokens;
  tokens.reserve(n);
  char token[65];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(token, sizeof token, "a%063zx", i);
    tokens.emplace_back(token);
  }
  long rss_before = PeakRssKb();
  double cpu0 = CpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  auto sum = (*client)->PushAll(tokens);
  double seconds = SecondsSince(t0);
  if (!sum) {
    std::fprintf(stderr, "push_load: %s\n", sum.error().message.c_str());
    return 1;
  }
  std::printf(
      "{\"pushes\": %zu, \"in_flight\": %d, \"seconds\": %.2f, \"pushes_per_s\": %.0f, \"client_cpu_s\": "
      "%.2f, "
      "\"peak_rss_mb\": %.1f, \"rss_before_push_mb\": %.1f, \"connections\": %zu, \"delivered\": %zu, "
      "\"answered_not_200\": %zu, \"requests\": %zu}\n",
      n, config.max_in_flight, seconds, static_cast<double>(n) / seconds, CpuSeconds() - cpu0,
      static_cast<double>(PeakRssKb()) / 1024, static_cast<double>(rss_before) / 1024, sum->connections,
      sum->delivered, sum->gone + sum->failed, sum->requests);
  // Every token answered (nghttpd answers 404, see push_load.sh): none invalid or unreachable.
  return sum->delivered + sum->gone + sum->failed == n ? 0 : 1;
}
