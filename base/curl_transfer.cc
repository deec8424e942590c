// One libcurl transfer with the options every client here sets (curl_transfer.h).
#include "base/curl_transfer.h"

#include <cctype>

namespace lk {
namespace {

struct Received {
  size_t max_body_bytes;
  const std::string& header_name;
  CurlResponse response;
  bool too_large = false;
};

size_t ReceiveBody(char* data, size_t size, size_t n, void* userdata) {
  auto* r = static_cast<Received*>(userdata);
  if (r->response.body.size() + size * n > r->max_body_bytes) {
    r->too_large = true;
    return 0;  // aborts the transfer
  }
  r->response.body.append(data, size * n);
  return size * n;
}

size_t ReceiveHeader(char* data, size_t size, size_t n, void* userdata) {
  auto* r = static_cast<Received*>(userdata);
  std::string_view line(data, size * n);
  const std::string& name = r->header_name;
  if (name.empty() || line.size() <= name.size() || line[name.size()] != ':') return size * n;
  for (size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return size * n;
  r->response.header_value = std::string(Trim(line.substr(name.size() + 1)));
  return size * n;
}

}  // namespace

Result<CurlResponse> PerformCurl(CURL* h, const CurlRequest& req) {
  Received rec{.max_body_bytes = req.max_body_bytes, .header_name = req.keep_header, .response = {}};
  curl_slist* headers = nullptr;
  for (const std::string& line : req.headers) headers = curl_slist_append(headers, line.c_str());
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.total_timeout.count()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_USERAGENT, req.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ReceiveBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &rec);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, ReceiveHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &rec);
  if (req.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    if (req.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  const CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rec.response.status);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  if (rec.too_large)
    return Fail(Code::kUnavailable, req.method + " " + req.url + ": response larger than " +
                                        std::to_string(req.max_body_bytes) + " bytes");
  if (rc != CURLE_OK)
    return Fail(Code::kUnavailable,
                req.method + " " + req.url + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  return std::move(rec.response);
}

}  // namespace lk
