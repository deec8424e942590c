// A partner's scan: image file to verdict for a 1280x960 photo-like JPEG (goal < 50 ms), next to
// two baselines in the same run: the verdict on the token alone, and the decode of the clean PNG.
//   build/tests/bench/scan_benchmark [--benchmark_min_time=2]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>

#include "scan/scan.h"
#include "signing/revocation_list.h"
#include "tests/scan/photo_like.h"

namespace lk {
namespace {
namespace fs = std::filesystem;

// Serves a JWK Set and a signed list from memory, as the issuer would.
class Documents final : public scan::HttpGetter {
 public:
  Result<scan::HttpReply> Get(const std::string& url, const std::string&) override {
    for (const auto& [suffix, body] : docs)
      if (url.ends_with(suffix)) return scan::HttpReply{200, body, ""};
    return scan::HttpReply{404, "", ""};
  }
  std::map<std::string, std::string> docs;
};

struct Setup {
  fs::path dir = fs::temp_directory_path() / ("lk-scan-bench-" + std::to_string(::getpid()));
  FakeClock clock{SystemClock().Now()};
  Documents http;
  std::unique_ptr<scan::TrustStore> store;
  std::string token, png, jpeg;

  Setup() {
    fs::create_directories(dir);
    signing::KeyConfig keys{dir / "keys"};
    Check(signing::InitDevelopmentKeys(keys, clock).has_value(), "keys");
    auto ring = signing::Keyring::Open(keys);
    Check(ring.has_value(), "keyring");
    signing::TokenPolicy policy;
    int year = int(BrusselsDate(clock.Now()).year());
    token = (*signing::TokenIssuer::Create(**ring, policy))->Issue("BENCH0000001", year, clock.Now()).value();
    signing::RevocationList list{policy.issuer, clock.Now(), clock.Now() + std::chrono::hours(72), 1,
                                 {year},        {}};
    for (int i = 0; i < 1000; ++i) list.revoked.emplace_back("R" + std::to_string(100000 + i), year);
    http.docs["/.well-known/jwks.json"] = (*ring)->Published(clock.Now()).ToJwks();
    http.docs["/v1/revocations"] = (*signing::RevocationSigner::Create(**ring))->Sign(list).value();
    store = std::move(
        scan::TrustStore::Open({"https://lerarenkaart.be", "", dir / "cache"}, http, clock).value());
    Check(store->Refresh().has_value(), "refresh");
    png = (dir / "card.png").string();
    jpeg = (dir / "photo.jpg").string();
    Check(testing::WriteQrPng(token, png).empty(), "qrencode");
    Check(testing::WritePhotoLike(png, jpeg, {15, 1.0, 8, 50}, 42).empty(), "photo");
    std::fprintf(stderr, "photo: %s (%ju bytes), token %zu characters\n", jpeg.c_str(),
                 uintmax_t(fs::file_size(jpeg)), token.size());
  }
  ~Setup() { fs::remove_all(dir); }
  static void Check(bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "scan_benchmark: setup failed: %s\n", what);
      std::exit(1);
    }
  }
};

Setup& Shared() {
  static Setup s;
  return s;
}

void BM_TokenToVerdict(benchmark::State& state) {
  auto& s = Shared();
  for (auto _ : state) {
    auto v = s.store->Judge(s.token);
    if (v.outcome != scan::Outcome::kValid) state.SkipWithError("not valid");
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_TokenToVerdict)->Unit(benchmark::kMicrosecond);

void BM_CleanPngToToken(benchmark::State& state) {
  auto& s = Shared();
  for (auto _ : state) {
    auto t = scan::DecodeQrFile(s.png);
    if (!t || *t != s.token) state.SkipWithError("not decoded");
  }
}
BENCHMARK(BM_CleanPngToToken)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PhotoJpegToVerdict(benchmark::State& state) {
  auto& s = Shared();
  for (auto _ : state) {
    auto t = scan::DecodeQrFile(s.jpeg);
    if (!t) {
      state.SkipWithError("not decoded");
      break;
    }
    auto v = s.store->Judge(*t);
    if (v.outcome != scan::Outcome::kValid) state.SkipWithError("not valid");
  }
}
BENCHMARK(BM_PhotoJpegToVerdict)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace lk

BENCHMARK_MAIN();
