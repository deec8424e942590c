// libFuzzer target: the desk's keyboard-layout repair reads whatever a scanner or a person typed
// into the scan field (hostile bytes from any client). It must never crash or hang; a repair is
// only ever offered for input that is not a token already, and is always token-shaped.
// Build with clang >= 16: cmake -DCMAKE_CXX_COMPILER=clang++ -DLK_FUZZ=ON, then
//   build-fuzz/tests/fuzz/scanner_keyboard_fuzz tests/fuzz/corpus/scanner_keyboard
// Without LK_FUZZ the same function runs under ctest over the seed corpus (replay_main.cc).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "web/scanner_keyboard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view typed(reinterpret_cast<const char*>(data), size);
  auto r = lk::web::RepairScannerLayout(typed);
  if (r && (lk::web::TokenShaped(typed) || !lk::web::TokenShaped(r->token))) {
    std::fprintf(stderr, "scanner_keyboard_fuzz: a repair of a token, or a repair that is no token\n");
    std::abort();
  }
  return 0;
}
