#pragma once
// Partner use: how many cards each partner checked, per Brussels day and per outcome, and
// nothing more. No serial, no time of day, no place is stored: the service keeps no record of
// where a given card was shown (docs/desk.md). Thread-safe; writes are serialised with the
// rest of the ledger's.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/base.h"

namespace lk::ledger {
namespace internal {
struct Core;
}

struct VerificationCount {
  std::string day;         // "2026-12-03", Europe/Brussels
  int64_t partner_id = 0;  // the partner credential's id (Credential::id)
  std::string outcome;     // valid, revoked, expired, not_yet_valid, not_lerarenkaart, damaged, unknown_key
  int64_t count = 0;
  std::string partner_name;  // filled by Query: the credential's name, "" once it was removed
  bool operator==(const VerificationCount&) const = default;
};

class Usage {
 public:
  explicit Usage(internal::Core& core) : core_(core) {}  // `core` must outlive this

  // Adds each count to the stored one of its (day, partner, outcome), in one transaction: all
  // or nothing. kInvalidArgument (nothing written) for a malformed day, an unknown outcome or a
  // count below 1.
  Result<> Add(std::span<const VerificationCount> counts);
  // The stored counts of days first_day..last_day ("YYYY-MM-DD", inclusive), ordered by day,
  // partner, outcome, with each partner's name.
  Result<std::vector<VerificationCount>> Query(const std::string& first_day,
                                               const std::string& last_day) const;

 private:
  internal::Core& core_;
};

}  // namespace lk::ledger
