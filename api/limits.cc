#include <algorithm>
#include <cmath>
#include <cstdio>

#include "api/internal/limits.h"

namespace lk::api::internal {

int64_t RateLimiter::Take(const std::string& key) {
  if (limit_.per_second <= 0) return 0;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  if (now - last_sweep_ > std::chrono::minutes(1)) {
    std::erase_if(buckets_, [&](const auto& kv) { return now - kv.second.last > std::chrono::minutes(1); });
    last_sweep_ = now;
  }
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{limit_.burst, now});
  Bucket& b = it->second;
  double elapsed = std::chrono::duration<double>(now - b.last).count();
  b.tokens = std::min(limit_.burst, b.tokens + elapsed * limit_.per_second);
  b.last = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1 - b.tokens) / limit_.per_second)));
}

void Metrics::Request(const std::string& method, const std::string& route, int status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{method, route, status}];
  Histogram& h = latency_[route];
  size_t i = 0;
  while (i < kNumBuckets && seconds > kBuckets[i]) ++i;
  ++h.counts[i];
  h.sum += seconds;
  ++h.count;
}

void Metrics::Verification(const std::string& outcome) {
  std::lock_guard lock(mu_);
  ++verifications_[outcome];
}

std::string Metrics::Render() const {
  std::string out;
  char buf[256];
  std::lock_guard lock(mu_);
  out += "# HELP lk_http_requests_total HTTP requests by method, route and status.\n"
         "# TYPE lk_http_requests_total counter\n";
  for (const auto& [k, n] : requests_) {
    std::snprintf(buf, sizeof buf, "lk_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
                  std::get<0>(k).c_str(), std::get<1>(k).c_str(), std::get<2>(k), static_cast<unsigned long long>(n));
    out += buf;
  }
  out += "# HELP lk_http_request_duration_seconds Time from routing to the response, by route.\n"
         "# TYPE lk_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= kNumBuckets; ++i) {
      cumulative += h.counts[i];
      if (i < kNumBuckets)
        std::snprintf(buf, sizeof buf, "lk_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                      route.c_str(), kBuckets[i], static_cast<unsigned long long>(cumulative));
      else
        std::snprintf(buf, sizeof buf, "lk_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                      route.c_str(), static_cast<unsigned long long>(cumulative));
      out += buf;
    }
    std::snprintf(buf, sizeof buf, "lk_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route.c_str(), h.sum);
    out += buf;
    std::snprintf(buf, sizeof buf, "lk_http_request_duration_seconds_count{route=\"%s\"} %llu\n", route.c_str(),
                  static_cast<unsigned long long>(h.count));
    out += buf;
  }
  out += "# HELP lk_cards_issued_total Digital cards newly issued by this instance.\n"
         "# TYPE lk_cards_issued_total counter\n";
  out += "lk_cards_issued_total " + std::to_string(cards_issued_.load()) + "\n";
  out += "# HELP lk_verifications_total Partner verifications by outcome.\n"
         "# TYPE lk_verifications_total counter\n";
  for (const char* o : {"active", "revoked", "expired", "invalid"}) {
    auto it = verifications_.find(o);
    out += std::string("lk_verifications_total{outcome=\"") + o + "\"} " +
           std::to_string(it == verifications_.end() ? 0 : it->second) + "\n";
  }
  return out;
}

}  // namespace lk::api::internal
