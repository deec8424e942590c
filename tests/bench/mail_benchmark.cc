// The claim mail's CPU cost: composing one mail (texts, QR code PNG, MIME encodings), and its
// parts. Sending is measured end to end by tests/bench/mail_load.sh.
#include <benchmark/benchmark.h>

#include "mail/claim_mail.h"
#include "mail/internal/mime.h"

namespace {
using namespace lk;
using namespace lk::mail;

void BM_ComposeClaimMail(benchmark::State& state) {
  FakeClock clock(ParseRfc3339("2026-12-02T14:00:00Z").value());
  ClaimMailOptions o;
  o.public_url = "https://lerarenkaart.be";
  o.from = {"kaart@lerarenkaart.be", "Lerarenkaart"};
  o.year = 2026;
  auto composer = ClaimMailComposer::Create(o, clock).value();
  ClaimMailRow row{"S0000001", "jan.peeters@school.example.be", "Jan Peeters", Language::kNl,
                   "ABCD-EFGH-JKMN-PQRS"};
  size_t bytes = 0;
  for (auto _ : state) {
    auto m = composer->Compose(row);
    bytes = m->data.size();
    benchmark::DoNotOptimize(m);
  }
  state.counters["mail_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_ComposeClaimMail);

void BM_QrPng(benchmark::State& state) {
  int side = 0;
  for (auto _ : state) {
    auto png = internal::QrPng("https://lerarenkaart.be/claim?code=ABCD-EFGH-JKMN-PQRS", 4, &side);
    benchmark::DoNotOptimize(png);
  }
}
BENCHMARK(BM_QrPng);

void BM_QuotedPrintable(benchmark::State& state) {
  std::string text;
  for (int i = 0; i < 20; ++i)
    text += "De link werkt één keer. Bewaar deze mail, want je hebt ze nog nodig.\n";
  for (auto _ : state) benchmark::DoNotOptimize(internal::QuotedPrintable(text));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_QuotedPrintable);

}  // namespace

BENCHMARK_MAIN();
