// libFuzzer target: the revocation-list verifier must never crash, hang or accept a list we did
// not sign. Two modes, by the first byte:
// - '!': a list of (2-byte position, byte) edits to a real list of ours, signed once at start:
//   every list has exactly one valid encoding (low-s signature, canonical base64url), so an edited
//   list that differs from the original must be refused, and the unedited one must verify to the
//   list that was signed, and be refused as stale against a newer list held.
// - anything else: the bytes as a compact JWS; if one ever verifies, it must be the list we signed.
// Without LK_FUZZ ctest replays tests/fuzz/corpus/revocation_list (replay_main.cc).
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>

#include "signing/internal/keyring_store.h"
#include "signing/revocation_list.h"
#include "signing/signing.h"

namespace {
using namespace lk;

struct Target {
  Target() {
    dir = std::filesystem::temp_directory_path() / ("lk-fuzz-" + HexEncode(RandomBytes(6)));
    signing::KeyConfig config;
    config.dir = dir / "keys";
    if (!signing::InitDevelopmentKeys(config, clock)) __builtin_trap();
    auto ring = std::move(*signing::Keyring::Open(config));
    signer = std::move(*signing::RevocationSigner::Create(*ring));
    verifier = signing::RevocationVerifier::Create(ring->Published(clock.Now()), {});
    list = {"https://lerarenkaart.be",
            clock.Now(),
            clock.Now() + std::chrono::hours(72),
            42,
            {2025, 2026, 2027},
            {{"7KQ2M9XH4TRB", 2026}, {"ABCDEFGHJKMN", 2025}}};
    jws = std::move(*signer->Sign(list));
    newer = list;
    newer.sequence = 43;
  }
  ~Target() { std::filesystem::remove_all(dir); }
  std::filesystem::path dir;
  FakeClock clock{Time(std::chrono::seconds(1772359200))};  // 2026-03-01
  std::unique_ptr<signing::RevocationSigner> signer;
  std::unique_ptr<signing::RevocationVerifier> verifier;
  signing::RevocationList list, newer;
  std::string jws;
};

// `jws` edited by each 3 bytes of `data`: the character at position data[i..i+1] (big-endian,
// modulo the length) becomes data[i + 2].
std::string Edit(std::string jws, const uint8_t* data, size_t size) {
  for (size_t i = 0; i + 2 < size; i += 3)
    jws[(size_t{data[i]} << 8 | data[i + 1]) % jws.size()] = static_cast<char>(data[i + 2]);
  return jws;
}

bool SortedEqual(signing::RevocationList a, signing::RevocationList b) {
  std::sort(a.revoked.begin(), a.revoked.end());
  std::sort(b.revoked.begin(), b.revoked.end());
  return a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Target t;
  if (size > 0 && data[0] == '!') {
    const std::string edited = Edit(t.jws, data + 1, size - 1);
    auto got = t.verifier->Verify(edited, t.clock.Now());
    if (edited != t.jws) {
      if (got) __builtin_trap();
      if (got.error().reason.empty() || got.error().message.empty()) __builtin_trap();
      return 0;
    }
    if (!got || !SortedEqual(*got, t.list)) __builtin_trap();
    auto replayed = t.verifier->Verify(edited, t.clock.Now(), &t.newer);
    if (replayed || replayed.error().reason != "stale") __builtin_trap();
    return 0;
  }
  std::string input(reinterpret_cast<const char*>(data), size);
  auto got = t.verifier->Verify(input, t.clock.Now());
  if (got && !SortedEqual(*got, t.list)) __builtin_trap();
  if (!got && got.error().reason.empty()) __builtin_trap();
  return 0;
}
