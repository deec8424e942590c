#include "api/internal/limits.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace lk::api::internal {

int64_t RateLimiter::Take(const std::string& key) {
  if (limit_.per_second <= 0) return 0;
  Instant now = clock_.Monotonic();
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

Metrics::Metrics(std::vector<std::pair<std::string, std::string>> routes) {
  for (auto& [method, path] : routes) {
    auto r = std::make_unique<RouteStats>();
    r->method = std::move(method);
    r->path = std::move(path);
    routes_.push_back(std::move(r));
  }
}

void Metrics::Histogram::Add(double seconds) {
  size_t i = 0;
  while (i < kNumBuckets && seconds > kBuckets[i]) ++i;
  counts[i].fetch_add(1, std::memory_order_relaxed);
  count.fetch_add(1, std::memory_order_relaxed);
  sum_ns.fetch_add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e9), std::memory_order_relaxed);
}

std::string_view Metrics::MethodLabel(std::string_view method) {
  for (std::string_view known :
       {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
    if (method == known) return known;
  return "OTHER";
}

void Metrics::Request(int route, std::string_view raw_method, int status, double seconds) {
  std::string_view method = MethodLabel(raw_method);
  if (route >= 0 && static_cast<size_t>(route) < routes_.size() && status >= kMinStatus &&
      status <= kMaxStatus && method == routes_[route]->method) {
    RouteStats& r = *routes_[route];
    r.by_status[status - kMinStatus].fetch_add(1, std::memory_order_relaxed);
    r.latency.Add(seconds);
    return;
  }
  std::lock_guard lock(mu_);
  ++unmatched_[{std::string(method), std::clamp(status, 0, 999)}];
  unmatched_latency_.Add(seconds);
}

std::string Metrics::Render() const {
  std::string out;
  char buf[256];
  auto load = [](const std::atomic<uint64_t>& a) {
    return static_cast<unsigned long long>(a.load(std::memory_order_relaxed));
  };
  out +=
      "# HELP lk_http_requests_total HTTP requests by method, route and status.\n"
      "# TYPE lk_http_requests_total counter\n";
  for (const auto& r : routes_)
    for (int st = kMinStatus; st <= kMaxStatus; ++st)
      if (auto n = load(r->by_status[st - kMinStatus])) {
        std::snprintf(buf, sizeof buf,
                      "lk_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
                      r->method.c_str(), r->path.c_str(), st, n);
        out += buf;
      }
  std::lock_guard lock(mu_);
  for (const auto& [k, n] : unmatched_) {
    std::snprintf(buf, sizeof buf,
                  "lk_http_requests_total{method=\"%s\",route=\"unmatched\",status=\"%d\"} %llu\n",
                  k.first.c_str(), k.second, static_cast<unsigned long long>(n));
    out += buf;
  }
  out +=
      "# HELP lk_http_request_duration_seconds Time from routing to the response, by route.\n"
      "# TYPE lk_http_request_duration_seconds histogram\n";
  auto histogram = [&](const std::string& route, const Histogram& h) {
    if (load(h.count) == 0) return;
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= kNumBuckets; ++i) {
      cumulative += load(h.counts[i]);
      if (i < kNumBuckets)
        std::snprintf(buf, sizeof buf,
                      "lk_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", route.c_str(),
                      kBuckets[i], static_cast<unsigned long long>(cumulative));
      else
        std::snprintf(buf, sizeof buf,
                      "lk_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                      route.c_str(), static_cast<unsigned long long>(cumulative));
      out += buf;
    }
    std::snprintf(buf, sizeof buf, "lk_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route.c_str(),
                  static_cast<double>(load(h.sum_ns)) / 1e9);
    out += buf;
    std::snprintf(buf, sizeof buf, "lk_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                  route.c_str(), static_cast<unsigned long long>(cumulative));
    out += buf;
  };
  // A path template may be routed for one method only, so one histogram per path.
  for (const auto& r : routes_) histogram(r->path, r->latency);
  histogram("unmatched", unmatched_latency_);
  out +=
      "# HELP lk_cards_issued_total Digital cards newly issued by this instance.\n"
      "# TYPE lk_cards_issued_total counter\n";
  out += "lk_cards_issued_total " + std::to_string(load(cards_issued_)) + "\n";
  out +=
      "# HELP lk_verifications_total Partner verifications by outcome.\n"
      "# TYPE lk_verifications_total counter\n";
  const char* names[] = {"active", "revoked", "expired", "invalid"};
  for (int i = 0; i < 4; ++i)
    out += std::string("lk_verifications_total{outcome=\"") + names[i] + "\"} " +
           std::to_string(load(verifications_[i])) + "\n";
  return out;
}

}  // namespace lk::api::internal
