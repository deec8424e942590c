#pragma once
// Partner use, counted in memory and written to the ledger in batches (ledger::Usage): how many
// cards each partner checked per Brussels day and per outcome. Holds no serial and no time of
// day, so neither does the ledger. Thread-safe.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "base/base.h"
#include "ledger/usage.h"

namespace lk::api::internal {

class VerificationTally {
 public:
  // One scan by partner `partner_id` at `now` with `outcome` (scan::OutcomeName).
  void Count(int64_t partner_id, Time now, std::string_view outcome);
  // The counts so far, emptied; hand them back with Restore when writing them failed.
  std::vector<ledger::VerificationCount> Take();
  // Adds `counts` back (a failed write). At most kMaxCells distinct cells are kept; beyond
  // that new cells are dropped (and counted in dropped()).
  void Restore(const std::vector<ledger::VerificationCount>& counts);
  int64_t dropped() const;
  static constexpr size_t kMaxCells = 100'000;

 private:
  void AddLocked(const std::string& day, int64_t partner_id, std::string_view outcome, int64_t n);
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, int64_t, std::string>, int64_t, std::less<>> cells_;
  Time day_start_{}, day_end_{};  // the Brussels day of `day_`
  std::string day_;
  int64_t dropped_ = 0;
};

}  // namespace lk::api::internal
