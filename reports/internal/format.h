#pragma once
// Number and text formatting shared by the builder (note sentences) and the renderers.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reports/reports.h"

namespace lk::reports::internal {

// U+202F NARROW NO-BREAK SPACE: groups thousands without the comma/point ambiguity between
// Dutch and English readers ("138 365").
inline constexpr std::string_view kGroupSep = "\u202F";

// "138 365", "-5 465".
std::string Count(int64_t n);
// A fraction of 1 as a percentage with two decimals and a point: 0.676502 -> "67.65%".
std::string Percent(double fraction);
// A difference of two fractions in percentage points, signed: 0.001502 -> "+0.15 pt".
std::string Points(double fraction_difference);
// Percentage with a decimal comma for CSV/Belgian readers: 0.676502 -> "67,65".
std::string PercentComma(double fraction);
// A fraction with `decimals` digits and a decimal comma: "0,676502".
std::string DecimalComma(double value, int decimals);
// Shortest round-trip text of a double with a point ("0.6765022246125263").
std::string Shortest(double value);
// A row's note references as printed: indexes {0, 2} -> "[1][3]".
std::string NoteRefs(const std::vector<int>& refs);
// Provinces in the order of ledger-api.md (postcode order), used to sort groups.
int ProvinceRank(std::string_view name);
inline constexpr std::string_view kProvinces[] = {
    "Brussel", "Waals-Brabant", "Vlaams-Brabant", "Antwerpen",       "Limburg",        "Luik",
    "Namen",   "Henegouwen",    "Luxemburg",      "West-Vlaanderen", "Oost-Vlaanderen"};
// "Adoption report, card years 2017-2026, by province".
std::string ReportTitle(const Report& report);

}  // namespace lk::reports::internal
