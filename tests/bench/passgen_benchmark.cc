// Pass building against its physical limit, measured in the same run: one RSA-2048 signature
// (what `openssl speed rsa2048` times: EVP_PKEY_sign of a SHA-256 digest, key parsed once).
// Compare items_per_second:
//   BM_BuildPass / BM_RawRsa2048Sign        the whole pass (render, hash, CMS, zip) vs the signature
//   BM_BuildPassWithToken / BM_RawRsa2048Sign   what `pass build --batch` does per row (threads:2
//                                               for both cores, without the file writes)
//   BM_BatchRowVsRawRsa                     a batch row and a raw signature interleaved on one
//                                           thread, by CPU time: rsa_share is the figure to watch
//   BM_CmsSignManifest, BM_RenderPassJson   where the rest of the time goes
// The two-core batch figure comes from the shell (see docs/passgen.md, "Performance").
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <time.h>

#include <filesystem>

#include "passgen/passgen.h"

namespace lk::passgen {
namespace {
namespace fs = std::filesystem;

#ifndef LK_BENCH_SOURCE_DIR
#define LK_BENCH_SOURCE_DIR "."
#endif

struct Fixture {
  Fixture() {
    ::setenv("TZ", ":/etc/localtime", 0);  // as `pass build` does (see app/cli_pass.cc)
    dir = fs::temp_directory_path() / ("lk-bench-passgen-" + HexEncode(RandomBytes(6)));
    keys.dir = dir / "keys";
    FakeClock clock(now);
    if (auto r = signing::InitDevelopmentKeys(keys, clock); !r) Die(r.error().message);
    signer = Must(signing::PassSigner::Load(keys));
    const char* src = std::getenv("LK_SOURCE_DIR");
    tmpl = Must(
        templates::Template::Load(fs::path(src && *src ? src : LK_BENCH_SOURCE_DIR) / "templates" / "2026"));
    ring = Must(signing::Keyring::Open(keys));
    issuer = Must(signing::TokenIssuer::Create(*ring, signing::TokenPolicy{}));
    builder = Must(PassBuilder::Create(*tmpl, *signer, {}));
    card = {.serial = "LK26-000001",
            .year = 2026,
            .holder_name = "Ine Vermeulen",
            .school = "Sint-Lodewijkscollege, Brugge"};
    card.token = *issuer->Issue(card.serial, 2026, now);
    card.auth_token = AuthenticationToken(std::string(32, 'k'), signer->pass_type_identifier(), card.serial);
    std::string ec_pem = ring->ActivePrivateKeyPem();
    BIO* ec_bio = BIO_new_mem_buf(ec_pem.data(), static_cast<int>(ec_pem.size()));
    ec = PEM_read_bio_PrivateKey(ec_bio, nullptr, nullptr, nullptr);
    BIO_free(ec_bio);
    if (!ec) Die("cannot parse the token key");
    auto pem = ReadFile(keys.dir / "pass-type-id-key.pem");
    BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
    rsa = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (!rsa) Die("cannot parse the RSA key");
    auto pass = builder->Build(card, now);
    if (!pass) Die(pass.error().message);
    pass_bytes = pass->size();
  }
  ~Fixture() {
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    std::error_code error;
    fs::remove_all(dir, error);
  }
  [[noreturn]] static void Die(const std::string& why) {
    std::fprintf(stderr, "passgen_benchmark: %s\n", why.c_str());
    std::exit(1);
  }
  template <class T>
  static T Must(Result<T> r) {
    if (!r) Die(r.error().message);
    return std::move(*r);
  }

  Time now = *ParseRfc3339("2026-03-15T12:00:00Z");
  fs::path dir;
  signing::KeyConfig keys;
  std::unique_ptr<signing::PassSigner> signer;
  std::unique_ptr<templates::Template> tmpl;
  std::unique_ptr<signing::Keyring> ring;
  std::unique_ptr<signing::TokenIssuer> issuer;
  std::unique_ptr<PassBuilder> builder;
  Card card;
  EVP_PKEY* rsa = nullptr;
  EVP_PKEY* ec = nullptr;  // the token key, for the raw ECDSA signature
  size_t pass_bytes = 0;
};
Fixture& F() {
  static Fixture f;
  return f;
}

// The baseline: PKCS#1 v1.5 RSA-2048 signature of a SHA-256 digest, context prepared once.
void BM_RawRsa2048Sign(benchmark::State& state) {
  auto& f = F();  // one context per benchmark thread, as `openssl speed -multi` has one per process
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(f.rsa, nullptr);
  EVP_PKEY_sign_init(ctx);
  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
  EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256());
  unsigned char digest[32] = {1, 2, 3};
  unsigned char sig[512];
  for (auto _ : state) {
    size_t len = sizeof sig;
    if (EVP_PKEY_sign(ctx, sig, &len, digest, sizeof digest) != 1) state.SkipWithError("sign failed");
    benchmark::DoNotOptimize(sig);
    digest[0]++;
  }
  EVP_PKEY_CTX_free(ctx);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawRsa2048Sign)->UseRealTime()->ThreadRange(1, 2);

// The same signature with a context made per call, as CMS_sign does internally.
void BM_RawRsa2048SignFreshCtx(benchmark::State& state) {
  auto& f = F();
  unsigned char digest[32] = {1, 2, 3};
  unsigned char sig[512];
  for (auto _ : state) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(f.rsa, nullptr);
    EVP_PKEY_sign_init(ctx);
    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256());
    size_t len = sizeof sig;
    if (EVP_PKEY_sign(ctx, sig, &len, digest, sizeof digest) != 1) state.SkipWithError("sign failed");
    benchmark::DoNotOptimize(sig);
    digest[0]++;
    EVP_PKEY_CTX_free(ctx);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawRsa2048SignFreshCtx)->UseRealTime();

void BM_BuildPass(benchmark::State& state) {
  auto& f = F();
  for (auto _ : state) {
    auto pass = f.builder->Build(f.card, f.now);
    if (!pass) state.SkipWithError(pass.error().message.c_str());
    benchmark::DoNotOptimize(pass);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["pass_bytes"] = double(f.pass_bytes);
}
BENCHMARK(BM_BuildPass)->UseRealTime();

// Per batch row: a fresh ES256 QR token, then the pass.
void BM_BuildPassWithToken(benchmark::State& state) {
  auto& f = F();
  Card card = f.card;
  for (auto _ : state) {
    auto token = f.issuer->Issue(card.serial, 2026, f.now);
    card.token = *token;
    auto pass = f.builder->Build(card, f.now);
    if (!pass) state.SkipWithError(pass.error().message.c_str());
    benchmark::DoNotOptimize(pass);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BuildPassWithToken)->UseRealTime()->ThreadRange(1, 2);

// What `pass build --batch` does per row (fresh ES256 token, then the pass into a reused buffer)
// against one raw RSA-2048 signature and one raw ECDSA P-256 signature, interleaved on the same
// thread and timed with the thread's CPU clock, so the load of other processes and the cores'
// shared state hit all three alike. Counters:
//   rsa_share = raw RSA CPU / row CPU: the fraction of the raw sign rate a batch reaches on CPU
//               (the goal is >= 0.85); row_us, rsa_us and ecdsa_us are the CPU microseconds of each.
//   ceiling   = raw RSA / (raw RSA + raw ECDSA): the rsa_share of a row that did nothing but its
//               two signatures (every pass carries a freshly signed ES256 token), before any
//               hashing, JSON or zip work.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}
void BM_BatchRowVsRawRsa(benchmark::State& state) {
  auto& f = F();
  EVP_PKEY* own = EVP_PKEY_dup(f.rsa);  // one key copy per thread, as the pass signer keeps
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(own, nullptr);
  EVP_PKEY_sign_init(ctx);
  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
  EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256());
  EVP_PKEY_CTX* ec_ctx = EVP_PKEY_CTX_new(f.ec, nullptr);
  EVP_PKEY_sign_init(ec_ctx);
  unsigned char digest[32] = {1, 2, 3};
  unsigned char sig[512];
  Card card = f.card;
  std::string bytes;
  double rsa = 0, ecdsa = 0, row = 0;
  for (auto _ : state) {
    double t0 = ThreadCpuSeconds();
    size_t len = sizeof sig;
    if (EVP_PKEY_sign(ctx, sig, &len, digest, sizeof digest) != 1) state.SkipWithError("sign failed");
    benchmark::DoNotOptimize(sig);
    digest[0]++;
    double t1 = ThreadCpuSeconds();
    auto token = f.issuer->Issue(card.serial, 2026, f.now);
    card.token = *token;
    if (auto r = f.builder->BuildInto(card, f.now, bytes); !r) state.SkipWithError(r.error().message.c_str());
    benchmark::DoNotOptimize(bytes);
    double t2 = ThreadCpuSeconds();
    len = sizeof sig;
    if (EVP_PKEY_sign(ec_ctx, sig, &len, digest, sizeof digest) != 1)
      state.SkipWithError("ECDSA sign failed");
    benchmark::DoNotOptimize(sig);
    double t3 = ThreadCpuSeconds();
    rsa += t1 - t0;
    row += t2 - t1;
    ecdsa += t3 - t2;
  }
  EVP_PKEY_CTX_free(ec_ctx);
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(own);
  auto avg = [&](double v) { return benchmark::Counter(v, benchmark::Counter::kAvgThreads); };
  double n = double(state.iterations());
  state.counters["rsa_us"] = avg(1e6 * rsa / n);
  state.counters["ecdsa_us"] = avg(1e6 * ecdsa / n);
  state.counters["row_us"] = avg(1e6 * row / n);
  state.counters["rsa_share"] = avg(rsa / row);
  state.counters["ceiling"] = avg(rsa / (rsa + ecdsa));
}
BENCHMARK(BM_BatchRowVsRawRsa)->UseRealTime()->ThreadRange(1, 2);

void BM_CmsSignManifest(benchmark::State& state) {
  auto& f = F();
  std::string manifest(830, 'm');
  for (auto _ : state) {
    auto sig = f.signer->SignDetached(manifest, f.now);
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CmsSignManifest)->UseRealTime();

void BM_RenderPassJson(benchmark::State& state) {
  auto& f = F();
  for (auto _ : state) {
    auto json = f.builder->PassJson(f.card);
    benchmark::DoNotOptimize(json);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderPassJson)->UseRealTime();

}  // namespace
}  // namespace lk::passgen
BENCHMARK_MAIN();
