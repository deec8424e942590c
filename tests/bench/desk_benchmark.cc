// What the desk adds to a scan on the server: the keyboard-layout repair of a mistyped token,
// and counting the scan for the partner (VerificationTally::Count, taken on every POST /v1/verify
// and desk scan), against the ECDSA verification it sits next to (token_benchmark).
//   build/tests/bench/desk_benchmark
#include <benchmark/benchmark.h>

#include <string>

#include "api/internal/verification_tally.h"
#include "web/scanner_keyboard.h"

namespace {

const std::string kToken =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6Ik5nNldNYiJ9."
    "eyJpc3MiOiJodHRwczovL2xlcmFyZW5rYWFydC5iZSIsInN1YiI6IkQ5NkNKNUdaQ0"
    "JIQSIsInkiOjIwMjYsIm5iZiI6MTc2NzIyMjAwMCwiZXhwIjoxODAxNjE5MjAwfQ.3Yp1u-Qm0_"
    "vX8rT2wZqA9bC4dE5fG6hI7jK8lL9mM0n"
    "N1oO2pP3qQ4rR5sS6tT7uU8vV9wW0xX1yY2zZ3aA4bB5cC";

// The token as a US-layout scanner types it into a Belgian PC.
std::string UsOnBelgian(const std::string& token) {
  std::string out;
  for (char c : token) {
    switch (c) {
      case '1':
        out += "&";
        break;
      case '2':
        out += "\xC3\xA9";
        break;
      case '3':
        out += "\"";
        break;
      case '4':
        out += "'";
        break;
      case '5':
        out += "(";
        break;
      case '6':
        out += "\xC2\xA7";
        break;
      case '7':
        out += "\xC3\xA8";
        break;
      case '8':
        out += "!";
        break;
      case '9':
        out += "\xC3\xA7";
        break;
      case '0':
        out += "\xC3\xA0";
        break;
      case '-':
        out += ")";
        break;
      case '_':
        out += "\xC2\xB0";
        break;
      case '.':
        out += ":";
        break;
      case 'm':
        out += ",";
        break;
      case 'M':
        out += "?";
        break;
      case 'a':
        out += "q";
        break;
      case 'q':
        out += "a";
        break;
      case 'A':
        out += "Q";
        break;
      case 'Q':
        out += "A";
        break;
      case 'z':
        out += "w";
        break;
      case 'w':
        out += "z";
        break;
      case 'Z':
        out += "W";
        break;
      case 'W':
        out += "Z";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void BM_RepairScannerLayout(benchmark::State& state) {
  std::string typed = UsOnBelgian(kToken);
  for (auto _ : state) {
    auto r = lk::web::RepairScannerLayout(typed);
    if (!r || r->token != kToken) state.SkipWithError("not repaired");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_RepairScannerLayout);

void BM_TokenShapedNoRepair(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(lk::web::TokenShaped(kToken));
}
BENCHMARK(BM_TokenShapedNoRepair);

void BM_TallyCount(benchmark::State& state) {
  static lk::api::internal::VerificationTally tally;
  lk::Time now = lk::SystemClock().Now();
  int64_t partner = 1 + state.thread_index() % 8;
  for (auto _ : state) tally.Count(partner, now, "valid");
  if (state.thread_index() == 0) benchmark::DoNotOptimize(tally.Take());
}
BENCHMARK(BM_TallyCount)->Threads(1)->Threads(2)->Threads(8);

}  // namespace

BENCHMARK_MAIN();
