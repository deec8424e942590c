#include "reports/internal/format.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace lk::reports::internal {

std::string Count(int64_t n) {
  uint64_t magnitude = n < 0 ? uint64_t(-(n + 1)) + 1 : uint64_t(n);  // safe for INT64_MIN
  std::string digits = std::to_string(magnitude);
  std::string out = n < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += kGroupSep;
    out += digits[i];
  }
  return out;
}

std::string Percent(double fraction) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f%%", fraction * 100.0);
  return buf;
}

std::string Points(double d) {
  char buf[64];
  double v = std::round(d * 10000.0) / 100.0;  // two decimals of a point; no "-0.00"
  std::snprintf(buf, sizeof buf, "%+.2f pt", v == 0 ? 0.0 : v);
  return buf;
}

std::string DecimalComma(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  std::string s = buf;
  for (char& c : s)
    if (c == '.') c = ',';
  return s;
}

std::string PercentComma(double fraction) { return DecimalComma(fraction * 100.0, 2); }

std::string Shortest(double value) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, r.ptr);
}

std::string NoteRefs(const std::vector<int>& refs) {
  std::string s;
  for (int n : refs) s += "[" + std::to_string(n + 1) + "]";
  return s;
}

int ProvinceRank(std::string_view name) {
  for (size_t i = 0; i < std::size(kProvinces); ++i)
    if (kProvinces[i] == name) return int(i);
  return int(std::size(kProvinces));
}

}  // namespace lk::reports::internal
