#pragma once
// What POST /v1/verify needs from the ledger about a validly signed token's serial (was it
// issued, is it revoked) without a ledger query per scan. Thread-safe; lookups take a shared lock.
//
// Staleness bound: revocations made through this instance are seen at once (MarkRevoked);
// revocations made through another instance on the same ledger are seen after the next refresh
// (ReplaceRevoked, every `refresh` by the service's refresher thread). When no refresh has
// succeeded for `max_staleness`, Lookup answers nullopt and every scan asks the ledger again.
// Revocation is permanent in the ledger and cards are never deleted, so both sets only grow
// (apart from card years that can no longer be valid) and a refresh can never undo a newer entry.
#include <chrono>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lk::api::internal {

class CardStatusCache {
 public:
  using Clock = std::chrono::steady_clock;
  // `max_known`: at most this many issued serials are remembered (then the set starts over).
  CardStatusCache(Clock::duration max_staleness, size_t max_known)
      : max_staleness_(max_staleness), max_known_(max_known) {}

  enum class Status { kActive, kRevoked };
  // The status of an issued card of card year `year`, or nullopt when the ledger must be asked:
  // the serial is not known to be issued, the year is outside the refreshed years, or the
  // revoked set is older than max_staleness.
  std::optional<Status> Lookup(std::string_view serial, int year, Clock::time_point now) const;
  // The ledger said `serial` (card year `year`) exists and is not revoked.
  void RememberIssued(std::string_view serial, int year);
  // The ledger said (or this instance made) `serial` revoked.
  void MarkRevoked(std::string_view serial, int year);
  // Every revoked serial of card years first..last, read from the ledger by a query that
  // started at `queried_at`. Forgets cards of years before `first_year`.
  void ReplaceRevoked(const std::vector<std::pair<std::string, int>>& revoked, int first_year, int last_year,
                      Clock::time_point queried_at);
  size_t known_size() const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using SerialYears = std::unordered_map<std::string, int, Hash, std::equal_to<>>;
  const Clock::duration max_staleness_;
  const size_t max_known_;
  mutable std::shared_mutex mu_;
  SerialYears known_, revoked_;  // serial -> card year
  int first_year_ = 0, last_year_ = -1;
  std::optional<Clock::time_point> refreshed_at_;
};

}  // namespace lk::api::internal
