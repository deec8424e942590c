#pragma once
// Adoption counts from per-card records (through aggregates kept in the same transactions as
// the cards), and the published figures imported apart from them. Read-only; thread-safe.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/base.h"

namespace lk::ledger {
namespace internal {
struct Core;
}

enum class Period { kCalendar, kSchool };  // calendar: by card year; school: by issue date, 1 Sep - 31 Aug
enum class Dimension { kNone, kProvince, kNetwork, kRole, kLevel };
struct CountsQuery {
  Period period = Period::kCalendar;
  Dimension by = Dimension::kNone;
  int first_year = 0, last_year = 0;  // card years, or first calendar year of school years; 0 = open
};
// One (period, group) cell computed from per-card records (never from published aggregates).
// Cards and holders count active cards only: revoked cards are left out.
struct CountsRow {
  std::string period;                // "2026" (calendar) or "2025-2026" (school)
  std::optional<std::string> group;  // "Antwerpen", "GO", "teaching", ...; nullopt when by == kNone
  // Roster size of the card year and group; nullopt when no roster is recorded. School view: the
  // roster of card year `eligible_year`: the year of the school year's January to August (2026 for
  // 2025-2026), or the year it starts in while that roster is not imported yet.
  std::optional<int64_t> eligible;
  int64_t subscription = 0, starter = 0, library = 0, digital = 0;  // active cards per channel
  int64_t holders = 0;  // distinct staff with at least one active card in the cell
  int64_t digital_only = 0, physical_only = 0, both = 0;  // holders by kind of card held
  int eligible_year = 0;  // school view only: the card year whose roster gave `eligible`; else 0
};
// Figures imported from a published aggregate file, kept apart from cards.
struct PublishedRow {
  std::string label;        // "2017", ..., or "Totaal" as printed
  std::optional<int> year;  // nullopt for the total row
  int64_t eligible = 0, subscribers = 0, starters = 0, library = 0, holders = 0;
  std::string printed_share;  // exactly as printed: "67,50%", "67.50%", "67%"
};

class Counts {
 public:
  explicit Counts(internal::Core& core) : core_(core) {}  // `core` must outlive this

  // Rows only for periods/groups with data, ordered by period then group.
  Result<std::vector<CountsRow>> Query(const CountsQuery& q) const;
  // The published figures, years in order, the total row last.
  Result<std::vector<PublishedRow>> Published() const;

 private:
  internal::Core& core_;
};

}  // namespace lk::ledger
