#pragma once
// Token-bucket rate limits and the Prometheus metrics of the service. Both thread-safe.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/api.h"
#include "base/base.h"

namespace lk::api::internal {

// One token bucket per key (a client address or a credential). Buckets idle for a minute are
// dropped, so memory stays bounded by the number of recently active keys.
class RateLimiter {
 public:
  // `clock` (its Monotonic reading) must outlive the limiter.
  RateLimiter(RateLimit limit, const Clock& clock) : limit_(limit), clock_(clock) {}
  // 0 when the request may go ahead; otherwise the whole seconds to wait (for Retry-After).
  int64_t Take(const std::string& key);

 private:
  struct Bucket {
    double tokens;
    Instant last;
  };
  RateLimit limit_;
  const Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  Instant last_sweep_{};
};

// Counters and a latency histogram, rendered in the Prometheus text exposition format 0.0.4.
// Requests on the routes given at construction are counted with relaxed atomics (no lock on the
// request path); the rare unmatched requests go to a locked map.
class Metrics {
 public:
  // `routes`: (method, path template) by route index, as passed to Request.
  explicit Metrics(std::vector<std::pair<std::string, std::string>> routes);
  // `route`: an index into the routes, or -1 for an unmatched request.
  void Request(int route, std::string_view method, int status, double seconds);
  // The method as a label value: one of the methods HTTP defines, else "OTHER" (bounded, safe).
  static std::string_view MethodLabel(std::string_view method);
  void CardIssued() { cards_issued_.fetch_add(1, std::memory_order_relaxed); }
  enum class Outcome { kActive, kRevoked, kExpired, kInvalid };
  void Verification(Outcome outcome) {
    verifications_[static_cast<int>(outcome)].fetch_add(1, std::memory_order_relaxed);
  }
  std::string Render() const;

 private:
  static constexpr double kBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,  0.5,    1,     2.5,  5};
  static constexpr size_t kNumBuckets = sizeof(kBuckets) / sizeof(kBuckets[0]);
  static constexpr int kMinStatus = 100, kMaxStatus = 599;
  struct Histogram {
    std::atomic<uint64_t> counts[kNumBuckets + 1] = {};
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_ns{0};
    void Add(double seconds);
  };
  struct RouteStats {
    std::string method, path;
    std::atomic<uint64_t> by_status[kMaxStatus - kMinStatus + 1] = {};
    Histogram latency;
  };
  std::vector<std::unique_ptr<RouteStats>> routes_;
  mutable std::mutex mu_;                                      // the unmatched requests only
  std::map<std::pair<std::string, int>, uint64_t> unmatched_;  // method, status
  Histogram unmatched_latency_;
  std::atomic<uint64_t> verifications_[4] = {};
  std::atomic<uint64_t> cards_issued_{0};
};

}  // namespace lk::api::internal
