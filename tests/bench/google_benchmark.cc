// Google Wallet: save-link building against raw RSA-2048 signing (EVP, key parsed once) in the
// same run, and sync throughput against the stand-in Google on 127.0.0.1. Compare
// items_per_second: BM_SkinnySaveLink / BM_RawRsa2048Sign (how close links come to the cost of
// the one signature they need); BM_SyncCreate and BM_SyncUnchanged (cards per second) against
// BM_RawHttpRoundTrip (bare keep-alive requests to the same stand-in: creating an object takes
// two round trips, an unchanged card one); BM_LedgerDigitalCards is what reading the cards of a
// year from a SQLite ledger adds per card.
#include <benchmark/benchmark.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ledger/ledger.h"
#include "passgen/google_wallet.h"
#include "passgen/passgen.h"
#include "tests/passgen/google_stand_in.h"

namespace lk::passgen {
namespace {

struct Fixture {
  Fixture() {
    dir = std::filesystem::temp_directory_path() / ("lk-gbench-" + HexEncode(RandomBytes(6)));
    keys.dir = dir / "keys";
    (void)signing::InitDevelopmentKeys(keys, clock);
    account = std::move(*signing::ServiceAccount::Load(keys));
    ring = std::move(*signing::Keyring::Open(keys));
    issuer = std::move(*signing::TokenIssuer::Create(*ring, policy));
    verifier = signing::TokenVerifier::Create(ring->Published(clock.Now()), policy);
    auto sa = nlohmann::json::parse(*ReadFile(keys.dir / "google-service-account.json"));
    std::string pem = sa["private_key"];
    BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
    rsa = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    config.issuer_id = "3388000000012345678";
    config.sleep = [](std::chrono::milliseconds) {};
    config.log = [](std::string_view) {};
    for (int i = 0; i < 200; ++i) {
      Card& c = cards.emplace_back();
      c.serial = "BENCH" + std::to_string(i);
      c.year = 2026;
      c.holder_name = "Leerkracht " + std::to_string(i);
      c.school = "GO! Atheneum Gent";
    }
  }
  ~Fixture() {
    EVP_PKEY_free(rsa);
    std::filesystem::remove_all(dir);
  }
  std::filesystem::path dir;
  FakeClock clock{*ParseRfc3339("2026-03-01T10:00:00Z")};
  signing::TokenPolicy policy;
  signing::KeyConfig keys;
  std::unique_ptr<signing::ServiceAccount> account;
  std::unique_ptr<signing::Keyring> ring;
  std::unique_ptr<signing::TokenIssuer> issuer;
  std::unique_ptr<signing::TokenVerifier> verifier;
  EVP_PKEY* rsa = nullptr;
  GoogleWalletConfig config;
  GoogleCardDesign design;
  std::vector<Card> cards;
};
Fixture& F() {
  static Fixture f;
  return f;
}

// The baseline: one RS256 signature (SHA-256 + RSA-2048 PKCS#1 v1.5) over a signing input as
// long as a skinny save JWT's, with the key parsed once.
void BM_RawRsa2048Sign(benchmark::State& state) {
  auto& f = F();
  std::string input(400, 'x');
  unsigned char sig[512];
  for (auto _ : state) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = sizeof sig;
    if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, f.rsa) != 1 ||
        EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) !=
            1)
      state.SkipWithError("EVP_DigestSign failed");
    EVP_MD_CTX_free(ctx);
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawRsa2048Sign);

void BM_SkinnySaveLink(benchmark::State& state) {
  auto& f = F();
  int i = 0;
  for (auto _ : state) {
    auto link = SkinnySaveLink(*f.account, f.config, f.cards[i++ % 200].serial, f.clock.Now());
    if (!link) state.SkipWithError(link.error().message.c_str());
    benchmark::DoNotOptimize(link);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SkinnySaveLink);

// Building an object's JSON with a fresh card token (what creating an object costs locally).
void BM_ObjectJsonWithToken(benchmark::State& state) {
  auto& f = F();
  int i = 0;
  for (auto _ : state) {
    const auto& card = f.cards[i++ % 200];
    auto token = f.issuer->Issue(card.serial, card.year, f.clock.Now());
    auto json = GenericObjectJson(f.config, f.design, f.policy, card, *token, "ACTIVE");
    benchmark::DoNotOptimize(json);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ObjectJsonWithToken);

// Sync of 200 cards against a fresh stand-in (class + 200 objects created); arg = parallelism.
void BM_SyncCreate(benchmark::State& state) {
  auto& f = F();
  for (auto _ : state) {
    state.PauseTiming();
    auto google =
        std::make_unique<testing::GoogleStandIn>(f.account->PublicKeyPem(), f.account->client_email());
    GoogleWalletConfig config = f.config;
    config.token_url = google->token_url();
    config.api_url = google->api_url();
    auto api = std::move(*NewWalletClient(*f.account, config, f.clock));
    state.ResumeTiming();
    SyncOptions options;
    options.parallelism = int(state.range(0));
    auto s =
        Sync(*api, config, f.design, *f.issuer, *f.verifier, f.policy, 2026, f.cards, f.clock.Now(), options);
    if (!s || s->created != f.cards.size()) state.SkipWithError("sync did not create every object");
    state.PauseTiming();
    api.reset();
    google.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(f.cards.size()));
}
BENCHMARK(BM_SyncCreate)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

// Sync of 200 cards that are all current (GET, compare, verify the barcode token): the steady state.
void BM_SyncUnchanged(benchmark::State& state) {
  auto& f = F();
  auto google =
      std::make_unique<testing::GoogleStandIn>(f.account->PublicKeyPem(), f.account->client_email());
  GoogleWalletConfig config = f.config;
  config.token_url = google->token_url();
  config.api_url = google->api_url();
  auto api = std::move(*NewWalletClient(*f.account, config, f.clock));
  SyncOptions options;
  options.parallelism = int(state.range(0));
  (void)Sync(*api, config, f.design, *f.issuer, *f.verifier, f.policy, 2026, f.cards, f.clock.Now(), options);
  for (auto _ : state) {
    auto s =
        Sync(*api, config, f.design, *f.issuer, *f.verifier, f.policy, 2026, f.cards, f.clock.Now(), options);
    if (!s || s->unchanged != f.cards.size()) state.SkipWithError("sync found changes in a steady state");
  }
  state.SetItemsProcessed(state.iterations() * int64_t(f.cards.size()));
}
BENCHMARK(BM_SyncUnchanged)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

// The baseline for sync: one bare HTTP request on a kept-alive connection to the same stand-in
// (an unauthenticated GET it answers 401 without touching its store); arg = client threads.
void BM_RawHttpRoundTrip(benchmark::State& state) {
  static std::unique_ptr<testing::GoogleStandIn> google;
  if (state.thread_index() == 0 && !google)
    google =
        std::make_unique<testing::GoogleStandIn>(F().account->PublicKeyPem(), F().account->client_email());
  std::string base = google->api_url();  // http://127.0.0.1:<port>/walletobjects/v1
  std::string host = base.substr(0, base.find('/', 7));
  httplib::Client client(host);
  client.set_keep_alive(true);
  for (auto _ : state) {
    auto r = client.Get("/walletobjects/v1/genericObject/3388000000012345678.X");
    if (!r || r->status != 401) state.SkipWithError("stand-in did not answer 401");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawHttpRoundTrip)->Threads(1)->Threads(4)->UseRealTime();

// Reading the digital cards of a year from a SQLite ledger (what `google sync` does before the
// API calls), 2,000 cards per iteration.
void BM_LedgerDigitalCards(benchmark::State& state) {
  auto& f = F();
  static std::unique_ptr<ledger::Ledger> book;
  constexpr int kCards = 2000;
  if (!book) {
    std::filesystem::path roster = f.dir / "roster.csv";
    std::ofstream out(roster);
    out << "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n";
    std::vector<std::string> staff;
    for (int i = 0; i < kCards; ++i) {
      staff.push_back("B" + std::to_string(i));
      out << staff.back() << ",Voornaam,Achternaam " << i << ",teaching,GO,basic,0" << (10000 + i % 500)
          << ",9000,no\n";
    }
    out.close();
    ledger::LedgerOptions o;
    o.data_dir = f.dir;
    o.keys_dir = f.keys.dir;
    auto opened = ledger::OpenLedger(o, f.clock);
    if (!opened) {
      state.SkipWithError(opened.error().message.c_str());
      return;
    }
    book = std::move(*opened);
    if (!book->imports().ImportRoster(roster, 2026) ||
        !book->access().CreateClaimCodes(roster, 2026, f.clock.Now() + std::chrono::days(9)) ||
        !book->cards().IssueDigitalBatch(staff, 2026)) {
      state.SkipWithError("could not fill the ledger");
      return;
    }
  }
  for (auto _ : state) {
    std::vector<Card> cards;
    auto r = book->cards().ForEachDigitalCard(2026, [&](const Card& c) { cards.push_back(ShownCard(c)); });
    if (!r || cards.size() != kCards) state.SkipWithError("wrong number of cards");
    benchmark::DoNotOptimize(cards);
  }
  state.SetItemsProcessed(state.iterations() * kCards);
}
BENCHMARK(BM_LedgerDigitalCards)->Unit(benchmark::kMillisecond);

// Reading the cards of a year from a CSV export (what `google sync --cards` does before the API
// calls): 2,000 rows per iteration, parsed and checked.
void BM_CardsCsv(benchmark::State& state) {
  constexpr int kCards = 2000;
  std::string csv = "serial;year;name;school;status\n";
  for (int i = 0; i < kCards; ++i)
    csv += "LK-2026-" + std::to_string(100000 + i) + ";2026;Voornaam Achternaam " + std::to_string(i) +
           ";GO! Atheneum Gent " + std::to_string(i % 500) + ";" + (i % 50 ? "active" : "revoked") + "\n";
  for (auto _ : state) {
    auto cards = ReadCardsCsv(csv, "cards.csv", 2026);
    if (!cards || cards->size() != kCards) state.SkipWithError("wrong number of cards");
    benchmark::DoNotOptimize(cards);
  }
  state.SetItemsProcessed(state.iterations() * kCards);
}
BENCHMARK(BM_CardsCsv)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lk::passgen

BENCHMARK_MAIN();
