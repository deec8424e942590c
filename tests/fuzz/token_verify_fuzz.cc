// libFuzzer target: the QR token verifier must never crash, hang or accept garbage.
// An input starting with '!' is instead a list of (2-byte position, byte) edits to a real token of ours,
// issued once at start: every token has exactly one valid encoding (low-s signatures, canonical
// base64url, no padding), so an edited token that differs from the original must be refused, and
// the unedited one must be valid with its serial and year.
// Build with clang >= 16: cmake -DCMAKE_CXX_COMPILER=clang++ -DLK_FUZZ=ON, then
//   build-fuzz/tests/fuzz/token_verify_fuzz tests/fuzz/corpus/token_verify
// Without LK_FUZZ the same function runs under ctest over the seed corpus (replay_main.cc).
#include <cstdint>
#include <filesystem>
#include <string>

#include "signing/internal/keyring_store.h"
#include "signing/signing.h"

namespace {
using namespace lk;

struct Target {
  Target() {
    dir = std::filesystem::temp_directory_path() / ("lk-fuzz-" + HexEncode(RandomBytes(6)));
    signing::KeyConfig config;
    config.dir = dir / "keys";
    (void)signing::internal::EnsurePrivateDir(config.dir);
    (void)signing::internal::KeyringStore(config.dir).AddKey(clock.Now());
    auto ring = std::move(*signing::Keyring::Open(config));
    issuer = std::move(*signing::TokenIssuer::Create(*ring, {}));
    verifier = signing::TokenVerifier::Create(ring->Published(clock.Now()), {});
    token = std::move(*issuer->Issue("7KQ2M9XH4TRB", 2026, clock.Now()));
  }
  ~Target() { std::filesystem::remove_all(dir); }
  std::filesystem::path dir;
  FakeClock clock{Time(std::chrono::seconds(1772359200))};  // 2026-03-01
  std::unique_ptr<signing::TokenIssuer> issuer;
  std::unique_ptr<signing::TokenVerifier> verifier;
  std::string token;
};

// `token` edited by each 3 bytes of `data`: the character at position data[i..i+1] (big-endian,
// modulo the length) becomes data[i + 2].
std::string Edit(std::string token, const uint8_t* data, size_t size) {
  for (size_t i = 0; i + 2 < size; i += 3)
    token[(size_t{data[i]} << 8 | data[i + 1]) % token.size()] = static_cast<char>(data[i + 2]);
  return token;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Target t;
  if (size > 0 && data[0] == '!') {
    const std::string edited = Edit(t.token, data + 1, size - 1);
    auto v = t.verifier->Verify(edited, t.clock.Now());
    if (edited != t.token ? v.valid : (!v.valid || v.serial != "7KQ2M9XH4TRB" || v.year != 2026))
      __builtin_trap();
    return 0;
  }
  std::string input(reinterpret_cast<const char*>(data), size);
  auto v = t.verifier->Verify(input, t.clock.Now());
  // Only a token our issuer could have made is valid: its signature covers the exact bytes, so a
  // valid verdict for fuzzed input means the input is a real token of ours.
  if (v.valid && (v.serial.empty() || !v.year || v.kid.empty())) __builtin_trap();
  if (!v.valid && v.reason.empty()) __builtin_trap();
  return 0;
}
