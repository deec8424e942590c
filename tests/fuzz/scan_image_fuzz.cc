// libFuzzer target: QR decoding of untrusted picture files (libpng, libjpeg-turbo, ZXing) must
// never crash, hang or answer with anything but a text or one of its documented errors. Pictures
// are capped at 1 Mpixel here so that one input stays well under the 10 s timeout.
// Without LK_FUZZ ctest replays tests/fuzz/corpus/scan_image (replay_main.cc).
#include <cstdint>
#include <string_view>

#include "scan/scan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto text = lk::scan::DecodeQrImage(std::string_view(reinterpret_cast<const char*>(data), size), 1 << 20);
  if (!text && text.error().code != lk::Code::kInvalidArgument && text.error().code != lk::Code::kNotFound &&
      text.error().code != lk::Code::kInternal)
    __builtin_trap();
  return 0;
}
