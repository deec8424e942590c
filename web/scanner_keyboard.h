#pragma once
// Handheld scanners type what they read as key presses, translated by the computer's keyboard
// layout. A scanner left on US QWERTY typing into a Belgian AZERTY computer (or the reverse)
// turns a QR token into other characters. RepairScannerLayout undoes the mismatch when that is
// unambiguous. desk.js carries the same tables for the page's offline path. Pure; thread-safe.
#include <optional>
#include <string>
#include <string_view>

namespace lk::web {

enum class LayoutMismatch {
  kUsScannerOnBelgianPc,  // the scanner types US key positions; the PC reads them as Belgian AZERTY
  kBelgianScannerOnUsPc,  // the reverse
};
struct RepairedToken {
  std::string token;
  LayoutMismatch mismatch;
};

// True when `s` has the shape of a QR token: three non-empty parts of base64url characters
// (A-Z a-z 0-9 - _) joined by two dots, at most 2048 bytes.
bool TokenShaped(std::string_view s);
// When `typed` (UTF-8) is not TokenShaped but exactly one of the two mismatches maps it,
// character by character, to a TokenShaped string: that string and the mismatch. Otherwise
// nullopt (the input is left for the verifier to refuse).
std::optional<RepairedToken> RepairScannerLayout(std::string_view typed);

}  // namespace lk::web
