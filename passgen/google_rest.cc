// The Google Wallet REST client: libcurl, the OAuth 2.0 service-account (JWT bearer) flow with a
// cached access token, retries with backoff and jitter on 429/5xx/network errors honouring
// Retry-After, and a timeout on every attempt.
#include <curl/curl.h>

#include <mutex>
#include <thread>
#include <vector>

#include "base/curl_transfer.h"
#include "passgen/google_wallet.h"
#include "passgen/internal/google_http.h"
#include "passgen/internal/google_json.h"

namespace lk::passgen {
namespace internal {

namespace {
constexpr size_t kMaxResponseBytes = 4 << 20;

std::once_flag curl_init;
}  // namespace

struct CurlTransport::Pool {
  std::mutex mu;
  std::vector<CURL*> idle;
  ~Pool() {
    for (CURL* h : idle) curl_easy_cleanup(h);
  }
  CURL* Take() {
    {
      std::lock_guard l(mu);
      if (!idle.empty()) {
        CURL* h = idle.back();
        idle.pop_back();
        curl_easy_reset(h);
        return h;
      }
    }
    return curl_easy_init();
  }
  void Give(CURL* h) {
    std::lock_guard l(mu);
    idle.push_back(h);
  }
};

CurlTransport::CurlTransport(std::chrono::milliseconds connect_timeout,
                             std::chrono::milliseconds total_timeout)
    : pool_(std::make_unique<Pool>()), connect_timeout_(connect_timeout), total_timeout_(total_timeout) {
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}
CurlTransport::~CurlTransport() = default;

std::string CurlTransport::FormEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

Result<HttpResponse> CurlTransport::Send(const HttpRequest& req) {
  CURL* h = pool_->Take();
  if (!h) return Fail(Code::kInternal, "libcurl: cannot create a handle");
  CurlRequest creq{.method = req.method,
                   .url = req.url,
                   .headers = {"Accept: application/json", "Expect:"},
                   .body = req.body,
                   .connect_timeout = connect_timeout_,
                   .total_timeout = total_timeout_,
                   .max_body_bytes = kMaxResponseBytes,
                   .keep_header = "retry-after"};
  if (!req.bearer.empty()) creq.headers.push_back("Authorization: Bearer " + req.bearer);
  if (!req.content_type.empty()) creq.headers.push_back("Content-Type: " + req.content_type);
  auto r = PerformCurl(h, creq);
  pool_->Give(h);
  if (!r) return std::unexpected(r.error());
  return HttpResponse{r->status, std::move(r->body), std::move(r->header_value)};
}

std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value, Time now) {
  if (value.empty()) return std::nullopt;
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    if (value.size() > 9) return std::chrono::milliseconds(std::chrono::hours(24 * 365));
    return std::chrono::seconds(std::stol(std::string(value)));
  }
  std::string text(value);
  time_t at = curl_getdate(text.c_str(), nullptr);
  if (at == -1) return std::nullopt;
  auto wait = std::chrono::sys_seconds(std::chrono::seconds(at)) - now;
  return std::chrono::milliseconds(std::max(wait, std::chrono::seconds(0)));
}

std::chrono::milliseconds Backoff(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds max,
                                  std::mt19937_64& rng) {
  int64_t cap = base.count();
  for (int i = 0; i < attempt && cap < max.count(); ++i) cap *= 2;
  cap = std::min<int64_t>(cap, max.count());
  return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, cap)(rng));
}

}  // namespace internal

namespace {
using json = nlohmann::json;
using internal::HttpRequest;
using internal::HttpResponse;
constexpr std::string_view kScope = "https://www.googleapis.com/auth/wallet_object.issuer";

Code CodeForStatus(long status) {
  switch (status) {
    case 400:
      return Code::kInvalidArgument;
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 409:
      return Code::kAlreadyExists;
    case 412:
      return Code::kFailedPrecondition;
    case 429:
      return Code::kResourceExhausted;
    default:
      return status >= 500 ? Code::kUnavailable : Code::kFailedPrecondition;
  }
}

// Google's error text from an error body ({"error":{"message":..}} or OAuth's
// {"error":"..","error_description":".."}), cut to a readable length.
std::string ErrorText(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  std::string text;
  if (j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string())
      text = e["message"];
    else if (e.is_string()) {
      text = e.get<std::string>();
      if (j.contains("error_description") && j["error_description"].is_string())
        text += ": " + j["error_description"].get<std::string>();
    }
  }
  if (text.empty()) text = body.substr(0, 200);
  return text;
}

class WalletClient final : public WalletApi {
 public:
  WalletClient(const signing::ServiceAccount& account, GoogleWalletConfig config, const Clock& clock)
      : account_(account),
        config_(std::move(config)),
        clock_(clock),
        http_(config_.connect_timeout, config_.total_timeout),
        rng_(std::random_device{}()) {
    while (!config_.api_url.empty() && config_.api_url.back() == '/') config_.api_url.pop_back();
    if (!config_.sleep) config_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
    if (!config_.log)
      config_.log = [](std::string_view m) {
        std::fprintf(stderr, "lerarenkaart: google: %.*s\n", int(m.size()), m.data());
      };
  }

  Result<std::string> GetClass(std::string_view id) override {
    return Call("GET", "/genericClass/" + Esc(id), "");
  }
  Result<> InsertClass(std::string_view body) override { return Drop(Call("POST", "/genericClass", body)); }
  Result<> UpdateClass(std::string_view id, std::string_view body) override {
    return Drop(Call("PUT", "/genericClass/" + Esc(id), body));
  }
  Result<std::string> GetObject(std::string_view id) override {
    return Call("GET", "/genericObject/" + Esc(id), "");
  }
  Result<> InsertObject(std::string_view body) override { return Drop(Call("POST", "/genericObject", body)); }
  Result<> PatchObject(std::string_view id, std::string_view body) override {
    return Drop(Call("PATCH", "/genericObject/" + Esc(id), body));
  }

 private:
  static std::string Esc(std::string_view id) { return internal::CurlTransport::FormEscape(id); }
  static Result<> Drop(Result<std::string> r) {
    if (!r) return std::unexpected(r.error());
    return {};
  }

  // One request with retries on 429, 5xx and network errors. Returns the final response
  // (any status) or kUnavailable when every attempt failed at the network level or kept failing.
  Result<HttpResponse> Exchange(const HttpRequest& req) {
    Result<HttpResponse> last = Fail(Code::kUnavailable, "no attempt made");
    for (int attempt = 0; attempt < config_.max_attempts; ++attempt) {
      last = http_.Send(req);
      std::optional<std::chrono::milliseconds> wait;
      std::string why;
      if (!last) {
        why = last.error().message;
      } else if (internal::Retryable(last->status)) {
        why = req.method + " " + req.url + ": HTTP " + std::to_string(last->status) + " " +
              ErrorText(last->body);
        wait = internal::ParseRetryAfter(last->retry_after, clock_.Now());
      } else {
        return last;
      }
      if (attempt + 1 == config_.max_attempts) break;
      if (wait && *wait > config_.backoff_max) {
        config_.log(why + "; the server asks to wait " + std::to_string(wait->count() / 1000) +
                    " s, longer than " + std::to_string(config_.backoff_max.count() / 1000) +
                    " s: giving up");
        break;
      }
      std::chrono::milliseconds delay;
      {
        std::lock_guard l(rng_mu_);
        delay = internal::Backoff(attempt, config_.backoff_base, config_.backoff_max, rng_);
      }
      if (wait) delay = *wait + delay / 10;  // honour Retry-After, spread clients a little
      config_.log(why + "; retry " + std::to_string(attempt + 1) + " in " + std::to_string(delay.count()) +
                  " ms");
      config_.sleep(delay);
    }
    if (!last)
      return Fail(Code::kUnavailable,
                  last.error().message + " (after " + std::to_string(config_.max_attempts) + " attempts)");
    return Fail(internal::Retryable(last->status) && last->status == 429 ? Code::kResourceExhausted
                                                                         : Code::kUnavailable,
                req.method + " " + req.url + ": HTTP " + std::to_string(last->status) + " " +
                    ErrorText(last->body) + " (after retries)");
  }

  Result<std::string> AccessToken(bool refresh) {
    std::lock_guard l(token_mu_);
    Time now = clock_.Now();
    if (!refresh && !token_.empty() && now < token_valid_until_) return token_;
    json claims = {{"iss", account_.client_email()},
                   {"scope", kScope},
                   {"aud", config_.token_url},
                   {"iat", now.time_since_epoch().count()},
                   {"exp", (now + std::chrono::hours(1)).time_since_epoch().count()}};
    auto assertion = account_.SignJwt(claims.dump());
    if (!assertion) return std::unexpected(assertion.error());
    HttpRequest req{
        "POST", config_.token_url, "application/x-www-form-urlencoded",
        "grant_type=" + internal::CurlTransport::FormEscape("urn:ietf:params:oauth:grant-type:jwt-bearer") +
            "&assertion=" + internal::CurlTransport::FormEscape(*assertion),
        ""};
    auto resp = Exchange(req);
    if (!resp) return std::unexpected(resp.error());
    if (resp->status != 200) {
      std::string msg = "OAuth token request to " + config_.token_url + " refused: HTTP " +
                        std::to_string(resp->status) + " " + ErrorText(resp->body);
      config_.log(msg);
      return Fail(
          resp->status == 400 || resp->status == 401 ? Code::kUnauthenticated : CodeForStatus(resp->status),
          msg);
    }
    auto j = internal::ParseJson(resp->body, "OAuth token response from " + config_.token_url);
    if (!j) return std::unexpected(j.error());
    if (!j->is_object() || !j->contains("access_token") || !(*j)["access_token"].is_string() ||
        (*j)["access_token"].get_ref<const std::string&>().empty() || !j->contains("expires_in") ||
        !(*j)["expires_in"].is_number_integer() || (*j)["expires_in"].get<int64_t>() <= 0)
      return Fail(Code::kUnavailable, "OAuth token response from " + config_.token_url +
                                          " lacks a string access_token or a positive integer expires_in");
    token_ = (*j)["access_token"].get<std::string>();
    int64_t life = std::min<int64_t>((*j)["expires_in"].get<int64_t>(), 24 * 3600);
    token_valid_until_ = now + std::chrono::seconds(std::max<int64_t>(life - 60, 0));
    return token_;
  }

  Result<std::string> Call(const std::string& method, const std::string& path, std::string_view body) {
    for (int round = 0; round < 2; ++round) {
      auto token = AccessToken(round > 0);
      if (!token) return std::unexpected(token.error());
      HttpRequest req{method, config_.api_url + path,
                      body.empty() && method == "GET" ? "" : "application/json", std::string(body), *token};
      auto resp = Exchange(req);
      if (!resp) return std::unexpected(resp.error());
      if (resp->status == 401 && round == 0) continue;  // token revoked early: fetch a new one once
      if (resp->status >= 200 && resp->status < 300) {
        if (method == "GET") {
          auto j = internal::ParseJson(resp->body, method + " " + req.url);
          if (!j) return std::unexpected(j.error());
          if (!j->is_object())
            return Fail(Code::kUnavailable, method + " " + req.url + ": response is not a JSON object");
        }
        return std::move(resp->body);
      }
      std::string msg =
          method + " " + req.url + ": HTTP " + std::to_string(resp->status) + " " + ErrorText(resp->body);
      if (resp->status != 404 && resp->status != 409) config_.log(msg);  // expected answers are not logged
      return Fail(CodeForStatus(resp->status), msg);
    }
    return Fail(Code::kUnauthenticated,
                method + " " + config_.api_url + path + ": still HTTP 401 with a fresh token");
  }

  const signing::ServiceAccount& account_;
  GoogleWalletConfig config_;
  const Clock& clock_;
  internal::CurlTransport http_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  std::mutex token_mu_;
  std::string token_;
  Time token_valid_until_{};
};

}  // namespace

Result<std::unique_ptr<WalletApi>> NewWalletClient(const signing::ServiceAccount& account,
                                                   GoogleWalletConfig config, const Clock& clock) {
  if (auto r = ValidateConfig(config); !r) return std::unexpected(r.error());
  return std::make_unique<WalletClient>(account, std::move(config), clock);
}

}  // namespace lk::passgen
