#pragma once
// One HTTP request on a libcurl easy handle, the way every outbound client here makes it: http
// and https only, no redirects, TLS verified, no signals, connect and total timeouts, the
// response body kept in memory up to a limit and one response header kept. Used by the Google
// Wallet REST client and the scanner's JWKS/revocation-list fetcher. Not thread-safe per handle.
#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace lk {

struct CurlRequest {
  std::string method = "GET";  // GET, POST, or another verb sent with the body
  std::string url;
  std::vector<std::string> headers;  // "Name: value" lines
  std::string_view body;             // sent for every method but GET; must outlive the call
  std::string user_agent = "lerarenkaart/0.1";
  std::chrono::milliseconds connect_timeout{5000}, total_timeout{30000};
  size_t max_body_bytes = 1 << 20;  // a longer response aborts the transfer
  std::string keep_header;          // lower case, without ':' ("etag"); "" for none
};

struct CurlResponse {
  long status = 0;
  std::string body;
  std::string header_value;  // the kept header's value, trimmed ("" when absent; the last wins)
};

// Performs `request` on `handle` (the caller owns it and may reuse it after curl_easy_reset).
// kUnavailable naming the method and URL when the transfer fails or the body is too large; an
// HTTP error status is a response, not a failure.
Result<CurlResponse> PerformCurl(CURL* handle, const CurlRequest& request);

}  // namespace lk
