#pragma once
// Token-bucket rate limits and the Prometheus metrics of the service. Both thread-safe.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>

#include "api/api.h"

namespace lk::api::internal {

// One token bucket per key (a client address or a credential). Buckets idle for a minute are
// dropped, so memory stays bounded by the number of recently active keys.
class RateLimiter {
 public:
  explicit RateLimiter(RateLimit limit) : limit_(limit) {}
  // 0 when the request may go ahead; otherwise the whole seconds to wait (for Retry-After).
  int64_t Take(const std::string& key);

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };
  RateLimit limit_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::chrono::steady_clock::time_point last_sweep_{};
};

// Counters and a latency histogram, rendered in the Prometheus text exposition format 0.0.4.
class Metrics {
 public:
  void Request(const std::string& method, const std::string& route, int status, double seconds);
  void CardIssued() { ++cards_issued_; }
  void Verification(const std::string& outcome);
  std::string Render() const;

 private:
  static constexpr double kBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  static constexpr size_t kNumBuckets = sizeof(kBuckets) / sizeof(kBuckets[0]);
  struct Histogram {
    uint64_t counts[kNumBuckets + 1] = {};
    double sum = 0;
    uint64_t count = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;  // method, route, status
  std::map<std::string, Histogram> latency_;                               // by route
  std::map<std::string, uint64_t> verifications_;
  std::atomic<uint64_t> cards_issued_{0};
};

}  // namespace lk::api::internal
