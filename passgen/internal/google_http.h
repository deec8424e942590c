#pragma once
// One HTTP exchange over libcurl, and the retry arithmetic of the Google Wallet client.
// Private to passgen.
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "base/base.h"

namespace lk::passgen::internal {

struct HttpRequest {
  std::string method;  // GET, POST, PUT, PATCH
  std::string url;
  std::string content_type;  // with a body
  std::string body;
  std::string bearer;  // access token, when set
};
struct HttpResponse {
  long status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, verbatim
};

// A pool of libcurl handles; thread-safe. Each Send is one attempt bounded by both timeouts.
// Network failures and timeouts are kUnavailable with curl's message; HTTP errors are responses.
class CurlTransport {
 public:
  CurlTransport(std::chrono::milliseconds connect_timeout, std::chrono::milliseconds total_timeout);
  ~CurlTransport();
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;
  Result<HttpResponse> Send(const HttpRequest& request);
  static std::string FormEscape(std::string_view s);

 private:
  struct Pool;
  std::unique_ptr<Pool> pool_;
  std::chrono::milliseconds connect_timeout_, total_timeout_;
};

// Retry-After as a wait: delta-seconds or an HTTP-date (relative to `now`); nullopt if absent or
// unreadable.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value, Time now);
// Full-jitter exponential backoff: uniform in [0, min(max, base * 2^attempt)].
std::chrono::milliseconds Backoff(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                  std::mt19937_64& rng);
// True for statuses worth retrying: 429 and 5xx.
inline bool Retryable(long status) { return status == 429 || status >= 500; }

}  // namespace lk::passgen::internal
