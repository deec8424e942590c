// The libcurl HttpGetter: one easy handle per Get (a scan fetches two small documents), TLS
// verified, bounded in time and size, the ETag header kept for the next conditional request.
#include <curl/curl.h>

#include <mutex>

#include "base/curl_transfer.h"
#include "scan/scan.h"

namespace lk::scan {
namespace {

constexpr size_t kMaxBodyBytes = 8 << 20;

std::once_flag curl_init;

class Curl final : public HttpGetter {
 public:
  Curl(std::chrono::milliseconds connect, std::chrono::milliseconds total)
      : connect_(connect), total_(total) {
    std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Result<HttpReply> Get(const std::string& url, const std::string& if_none_match) override {
    CURL* h = curl_easy_init();
    if (!h) return Fail(Code::kInternal, "libcurl: cannot create a handle");
    CurlRequest req{.url = url,
                    .headers = {"Accept: application/jwk-set+json, application/jwt, */*"},
                    .user_agent = "lerarenkaart-scan/0.1",
                    .connect_timeout = connect_,
                    .total_timeout = total_,
                    .max_body_bytes = kMaxBodyBytes,
                    .keep_header = "etag"};
    if (!if_none_match.empty()) req.headers.push_back("If-None-Match: " + if_none_match);
    auto r = PerformCurl(h, req);
    curl_easy_cleanup(h);
    if (!r) return std::unexpected(r.error());
    return HttpReply{r->status, std::move(r->body), std::move(r->header_value)};
  }

 private:
  std::chrono::milliseconds connect_, total_;
};

}  // namespace

std::unique_ptr<HttpGetter> CurlGetter(std::chrono::milliseconds connect_timeout,
                                       std::chrono::milliseconds total_timeout) {
  return std::make_unique<Curl>(connect_timeout, total_timeout);
}

}  // namespace lk::scan
