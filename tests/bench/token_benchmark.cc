// QR token signing and verification against raw OpenSSL ECDSA P-256 on the same machine, in
// the same run (the baseline `openssl speed ecdsap256` measures), and against cpp-jwt used
// naively (PEM parsed on every call). Compare items_per_second of the pairs:
//   BM_TokenVerify / BM_RawEcdsaVerify, BM_TokenIssue / BM_RawEcdsaSign.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <filesystem>
#include <jwt/jwt.hpp>

#include "signing/internal/keyring_store.h"
#include "signing/signing.h"

namespace lk::signing {
namespace {

struct Fixture {
  Fixture() {
    dir = std::filesystem::temp_directory_path() / ("lk-bench-" + HexEncode(RandomBytes(6)));
    config.dir = dir / "keys";
    (void)internal::EnsurePrivateDir(config.dir);
    (void)internal::KeyringStore(config.dir).AddKey(clock.Now());
    ring = std::move(*Keyring::Open(config));
    issuer = std::move(*TokenIssuer::Create(*ring, policy));
    verifier = TokenVerifier::Create(ring->Published(clock.Now()), policy);
    for (int i = 0; i < 1000; ++i)
      tokens.push_back(*issuer->Issue("BENCH" + std::to_string(i), 2026, clock.Now()));
    private_pem = ring->ActivePrivateKeyPem();
    BIO* bio = BIO_new_mem_buf(private_pem.data(), -1);
    key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    BIO* out = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(out, key);
    char* data;
    long n = BIO_get_mem_data(out, &data);
    public_pem.assign(data, static_cast<size_t>(n));
    BIO_free(out);
  }
  ~Fixture() {
    EVP_PKEY_free(key);
    std::filesystem::remove_all(dir);
  }
  std::filesystem::path dir;
  FakeClock clock{*ParseRfc3339("2026-03-01T10:00:00Z")};
  TokenPolicy policy;
  KeyConfig config;
  std::unique_ptr<Keyring> ring;
  std::unique_ptr<TokenIssuer> issuer;
  std::unique_ptr<TokenVerifier> verifier;
  std::vector<std::string> tokens;
  std::string private_pem, public_pem;
  EVP_PKEY* key = nullptr;
};
Fixture& F() {
  static Fixture f;
  return f;
}

// What `openssl speed ecdsap256` times: EVP_PKEY_sign/verify of a digest with a prepared context.
void BM_RawEcdsaSign(benchmark::State& state) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(F().key, nullptr);
  EVP_PKEY_sign_init(ctx);
  unsigned char digest[32] = {1, 2, 3}, sig[80];
  for (auto _ : state) {
    size_t len = sizeof sig;
    EVP_PKEY_sign(ctx, sig, &len, digest, sizeof digest);
    benchmark::DoNotOptimize(sig);
  }
  EVP_PKEY_CTX_free(ctx);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawEcdsaSign)->ThreadRange(1, 2)->UseRealTime();

void BM_RawEcdsaVerify(benchmark::State& state) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(F().key, nullptr);
  EVP_PKEY_sign_init(ctx);
  unsigned char digest[32] = {1, 2, 3}, sig[80];
  size_t len = sizeof sig;
  EVP_PKEY_sign(ctx, sig, &len, digest, sizeof digest);
  EVP_PKEY_verify_init(ctx);
  for (auto _ : state) benchmark::DoNotOptimize(EVP_PKEY_verify(ctx, sig, len, digest, sizeof digest));
  EVP_PKEY_CTX_free(ctx);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawEcdsaVerify)->ThreadRange(1, 2)->UseRealTime();

void BM_TokenIssue(benchmark::State& state) {
  Time now = F().clock.Now();
  for (auto _ : state) benchmark::DoNotOptimize(F().issuer->Issue("7KQ2M9XH4TRB", 2026, now));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TokenIssue)->ThreadRange(1, 2)->UseRealTime();

// Distinct tokens on every call: nothing is cached between verifications.
void BM_TokenVerify(benchmark::State& state) {
  Time now = F().clock.Now();
  size_t i = static_cast<size_t>(state.thread_index()) * 500;
  for (auto _ : state) {
    auto v = F().verifier->Verify(F().tokens[i++ % F().tokens.size()], now);
    if (!v.valid) state.SkipWithError("token did not verify");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TokenVerify)->ThreadRange(1, 2)->UseRealTime();

// cpp-jwt 1.4 as documented: decode with the PEM public key, parsed on every call.
void BM_CppJwtVerifyNaive(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) {
    std::error_code ec;
    auto d = jwt::decode(F().tokens[i++ % F().tokens.size()], jwt::params::algorithms({"ES256"}), ec,
                         jwt::params::secret(F().public_pem), jwt::params::verify(true));
    if (ec) state.SkipWithError("cpp-jwt rejected a token");
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CppJwtVerifyNaive)->UseRealTime();

}  // namespace
}  // namespace lk::signing

BENCHMARK_MAIN();
