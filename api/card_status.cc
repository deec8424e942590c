#include "api/internal/card_status.h"

#include <mutex>

namespace lk::api::internal {

std::optional<CardStatusCache::Status> CardStatusCache::Lookup(std::string_view serial, int year,
                                                               Clock::time_point now) const {
  std::shared_lock lock(mu_);
  if (!refreshed_at_ || now - *refreshed_at_ > max_staleness_) return std::nullopt;
  if (year < first_year_ || year > last_year_) return std::nullopt;
  if (revoked_.find(serial) != revoked_.end()) return Status::kRevoked;
  if (known_.find(serial) != known_.end()) return Status::kActive;
  return std::nullopt;
}

void CardStatusCache::RememberIssued(std::string_view serial, int year) {
  std::unique_lock lock(mu_);
  if (known_.size() >= max_known_) known_.clear();  // bounded memory; cleared entries are asked again
  known_.emplace(serial, year);
}

void CardStatusCache::MarkRevoked(std::string_view serial, int year) {
  std::unique_lock lock(mu_);
  revoked_.emplace(serial, year);
}

void CardStatusCache::ReplaceRevoked(const std::vector<std::pair<std::string, int>>& revoked, int first_year,
                                     int last_year, Clock::time_point queried_at) {
  std::unique_lock lock(mu_);
  for (const auto& [serial, year] : revoked) revoked_.emplace(serial, year);
  if (first_year != first_year_) {  // a card year ended: forget its cards (once a year)
    std::erase_if(revoked_, [&](const auto& kv) { return kv.second < first_year; });
    std::erase_if(known_, [&](const auto& kv) { return kv.second < first_year; });
  }
  first_year_ = first_year;
  last_year_ = last_year;
  if (!refreshed_at_ || queried_at > *refreshed_at_) refreshed_at_ = queried_at;
}

size_t CardStatusCache::known_size() const {
  std::shared_lock lock(mu_);
  return known_.size();
}

}  // namespace lk::api::internal
