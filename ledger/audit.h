#pragma once
// The audit chain: every write appends one entry chained by SHA-256 to the one before, in the
// write's own transaction. Verify re-walks it and checks every record against it. Read-only;
// thread-safe.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace lk::ledger {
namespace internal {
struct Core;
}

struct VerifyReport {
  bool ok = false;
  int64_t entries = 0;               // audit entries checked
  std::optional<int64_t> first_bad;  // sequence number of the first bad entry (none when only the
                                     // adoption aggregate disagrees with a recount of the cards)
  std::string problem;               // what is wrong with it; empty when ok
  std::string bad_card;  // serial of the first card that differs from its audit entries, if that is it
};

// One entry of the audit chain as stored.
struct AuditEntry {
  int64_t seq = 0;
  Time at;
  std::string action;  // "import roster", "issue digital", "revoke", "create claim codes", ...
  std::string detail;  // JSON object, as written by the action
};

class Audit {
 public:
  explicit Audit(internal::Core& core) : core_(core) {}  // `core` must outlive this

  // Re-walks the audit chain; names the first entry that was edited, deleted or reordered, or
  // the first card or aggregate cell that differs from what the entries recorded.
  Result<VerifyReport> Verify() const;
  // The entries that touched card `serial`, oldest first: the one that created it (an import or
  // an issue, possibly of many cards), its holder's claim code of that year, and its revocation.
  // kNotFound for an unknown serial.
  Result<std::vector<AuditEntry>> EntriesOfCard(std::string_view serial) const;

 private:
  internal::Core& core_;
};

}  // namespace lk::ledger
