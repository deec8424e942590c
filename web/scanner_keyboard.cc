// The two classic layout mismatches of keyboard-wedge scanners in Belgium, as character maps:
// for each character a token can hold, the key the scanner presses on its own layout, read
// back through the computer's layout. Letters A/Q, Z/W and M sit elsewhere on AZERTY; its digit
// row types & é " ' ( § è ! ç à unshifted; '-', '_' and '.' are on other keys.
#include "web/scanner_keyboard.h"

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace lk::web {
namespace {

// (what the computer shows, what the scanner meant) for every character that differs; letters
// not listed (and their capitals) are typed through unchanged.
struct Pair {
  char32_t shown, meant;
};
// US scanner on a Belgian PC: digits come out as the AZERTY digit row unshifted, '-' as ')',
// '_' as '°', '.' as ':', m/M as ',' / '?', and a/q, z/w swap.
constexpr Pair kUsOnBelgian[] = {
    {U'&', U'1'}, {U'é', U'2'}, {U'"', U'3'}, {U'\'', U'4'}, {U'(', U'5'}, {U'§', U'6'}, {U'è', U'7'},
    {U'!', U'8'}, {U'ç', U'9'}, {U'à', U'0'}, {U')', U'-'},  {U'°', U'_'}, {U':', U'.'}, {U',', U'm'},
    {U'?', U'M'}, {U'q', U'a'}, {U'a', U'q'}, {U'Q', U'A'},  {U'A', U'Q'}, {U'w', U'z'}, {U'z', U'w'},
    {U'W', U'Z'}, {U'Z', U'W'}, {U'm', 0},    {U'M', 0},  // m and M cannot come from a US scanner here
};
// Belgian scanner on a US PC: digits are shifted on AZERTY, so they come out as US shifted
// digits; '-' as '=', '_' as '+', '.' as '<', m/M as ';' / ':', and a/q, z/w swap.
constexpr Pair kBelgianOnUs[] = {
    {U'!', U'1'}, {U'@', U'2'}, {U'#', U'3'}, {U'$', U'4'}, {U'%', U'5'}, {U'^', U'6'}, {U'&', U'7'},
    {U'*', U'8'}, {U'(', U'9'}, {U')', U'0'}, {U'=', U'-'}, {U'+', U'_'}, {U'<', U'.'}, {U';', U'm'},
    {U':', U'M'}, {U'q', U'a'}, {U'a', U'q'}, {U'Q', U'A'}, {U'A', U'Q'}, {U'w', U'z'}, {U'z', U'w'},
    {U'W', U'Z'}, {U'Z', U'W'}, {U'm', 0},    {U'M', 0},
};

bool Base64UrlChar(char32_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// The code points of UTF-8 `s`; nullopt when it is not valid UTF-8.
std::optional<std::vector<char32_t>> Decode(std::string_view s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    int n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return std::nullopt;
    char32_t c = n == 1 ? b : n == 2 ? (b & 0x1f) : n == 3 ? (b & 0x0f) : (b & 0x07);
    for (int k = 1; k < n; ++k) {
      auto cb = static_cast<unsigned char>(s[i + k]);
      if ((cb >> 6) != 2) return std::nullopt;
      c = (c << 6) | (cb & 0x3f);
    }
    out.push_back(c);
    i += n;
  }
  return out;
}

template <size_t N>
std::optional<std::string> Map(const std::vector<char32_t>& typed, const Pair (&table)[N]) {
  std::string out;
  out.reserve(typed.size());
  for (char32_t c : typed) {
    char32_t meant = c;
    for (const Pair& p : table)
      if (p.shown == c) {
        meant = p.meant;
        break;
      }
    if (meant == 0 || meant > 0x7f || !(Base64UrlChar(meant) || meant == '.')) return std::nullopt;
    out += static_cast<char>(meant);
  }
  if (!TokenShaped(out)) return std::nullopt;
  return out;
}

}  // namespace

bool TokenShaped(std::string_view s) {
  if (s.empty() || s.size() > 2048) return false;
  int dots = 0;
  char prev = '.';
  for (char c : s) {
    if (c == '.') {
      if (prev == '.') return false;  // an empty part
      ++dots;
    } else if (!Base64UrlChar(static_cast<unsigned char>(c))) {
      return false;
    }
    prev = c;
  }
  return dots == 2 && prev != '.';
}

std::optional<RepairedToken> RepairScannerLayout(std::string_view typed) {
  if (TokenShaped(typed) || typed.size() > 4 * 2048) return std::nullopt;
  auto points = Decode(typed);
  if (!points) return std::nullopt;
  auto us = Map(*points, kUsOnBelgian);
  auto be = Map(*points, kBelgianOnUs);
  if (us && !be) return RepairedToken{std::move(*us), LayoutMismatch::kUsScannerOnBelgianPc};
  if (be && !us) return RepairedToken{std::move(*be), LayoutMismatch::kBelgianScannerOnUsPc};
  return std::nullopt;  // neither, or both (then which one is unknowable)
}

}  // namespace lk::web
