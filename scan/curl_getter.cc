// The libcurl HttpGetter: one easy handle per Get (a scan fetches two small documents), TLS
// verified, bounded in time and size, the ETag header kept for the next conditional request.
#include <curl/curl.h>

#include <mutex>

#include "base/http_receive.h"
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
    ReceivedResponse rec{.max_body_bytes = kMaxBodyBytes, .header_name = "etag"};
    curl_slist* headers =
        curl_slist_append(nullptr, "Accept: application/jwk-set+json, application/jwt, */*");
    std::string inm = "If-None-Match: " + if_none_match;
    if (!if_none_match.empty()) headers = curl_slist_append(headers, inm.c_str());
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(total_.count()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "lerarenkaart-scan/0.1");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ReceiveBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &rec);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, ReceiveHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &rec);
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    if (rec.too_large)
      return Fail(Code::kUnavailable,
                  "GET " + url + ": response larger than " + std::to_string(kMaxBodyBytes) + " bytes");
    if (rc != CURLE_OK)
      return Fail(Code::kUnavailable, "GET " + url + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
    return HttpReply{status, std::move(rec.body), std::move(rec.header_value)};
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
