// The in-memory tally of partner use between two writes to the ledger.
#include "api/internal/verification_tally.h"

namespace lk::api::internal {

void VerificationTally::Count(int64_t partner_id, Time now, std::string_view outcome) {
  std::lock_guard lock(mu_);
  if (now < day_start_ || now >= day_end_) {  // the Brussels day changes rarely: computed once a day
    auto date = BrusselsDate(now);
    day_ = FormatIsoDate(date);
    day_start_ = BrusselsMidnight(date);
    day_end_ = BrusselsMidnight(std::chrono::sys_days(date) + std::chrono::days(1));
  }
  AddLocked(day_, partner_id, outcome, 1);
}

void VerificationTally::AddLocked(const std::string& day, int64_t partner_id, std::string_view outcome,
                                  int64_t n) {
  auto key = std::make_tuple(day, partner_id, std::string(outcome));
  auto it = cells_.find(key);
  if (it != cells_.end()) {
    it->second += n;
  } else if (cells_.size() < kMaxCells) {
    cells_.emplace(std::move(key), n);
  } else {
    dropped_ += n;
  }
}

std::vector<ledger::VerificationCount> VerificationTally::Take() {
  std::lock_guard lock(mu_);
  std::vector<ledger::VerificationCount> out;
  out.reserve(cells_.size());
  for (const auto& [key, n] : cells_)
    out.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), n});
  cells_.clear();
  return out;
}

void VerificationTally::Restore(const std::vector<ledger::VerificationCount>& counts) {
  std::lock_guard lock(mu_);
  for (const auto& c : counts) AddLocked(c.day, c.partner_id, c.outcome, c.count);
}

int64_t VerificationTally::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace lk::api::internal
