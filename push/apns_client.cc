// ApnsClient: one curl multi handle with HTTP/2 multiplexing, a fixed pool of easy handles reused
// for every token, a retry queue ordered by due time, and the journal written in batches.
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <random>
#include <thread>

#include "push/push.h"

namespace lk::push {
namespace {

constexpr size_t kMaxResponseBytes = 4096;  // APNs answers {"reason": "..."} at most
constexpr size_t kMaxProblems = 100;
std::once_flag curl_init;

// One pooled easy handle and the transfer it carries.
struct Slot {
  CURL* easy = nullptr;
  size_t index = 0;  // into the tokens
  int attempt = 0;   // 1-based number of this request for the token
  std::string body;
  bool truncated = false;
  char error[CURL_ERROR_SIZE] = {};
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* slot = static_cast<Slot*>(user);
  size_t len = size * n;
  size_t room = kMaxResponseBytes - std::min(kMaxResponseBytes, slot->body.size());
  if (len > room) slot->truncated = true;
  slot->body.append(data, std::min(len, room));
  return len;  // the rest is read and dropped; the status is what matters
}

std::string ReasonOf(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("reason") && j["reason"].is_string()) return j["reason"].get<std::string>();
  return {};
}

std::string OpenSslErrors() {
  std::string out;
  char buf[256];
  while (unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

// The certificate and key parse and belong together, so that a wrong file fails here rather than
// as a TLS error on the first push.
Result<> CheckIdentity(const ApnsConfig& c) {
  BIO* cb = BIO_new_mem_buf(c.certificate_pem.data(), static_cast<int>(c.certificate_pem.size()));
  X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  BIO_free(cb);
  BIO* kb = BIO_new_mem_buf(c.private_key_pem.data(), static_cast<int>(c.private_key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  Result<> r;
  if (!cert)
    r = Fail(Code::kInvalidArgument,
             "APNs client certificate: not a PEM certificate (" + OpenSslErrors() + ")");
  else if (!key)
    r = Fail(Code::kInvalidArgument,
             "APNs client key: not an unencrypted PEM private key (" + OpenSslErrors() + ")");
  else if (X509_check_private_key(cert, key) != 1)
    r = Fail(Code::kInvalidArgument, "APNs client key: it does not belong to the certificate");
  ERR_clear_error();
  X509_free(cert);
  EVP_PKEY_free(key);
  return r;
}

// Errors that retrying cannot fix: the run stops at once.
bool ConfigurationError(CURLcode rc) {
  return rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_URL_MALFORMAT ||
         rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_PEER_FAILED_VERIFICATION ||
         rc == CURLE_OUT_OF_MEMORY;
}

class Client final : public ApnsClient {
 public:
  Client(ApnsConfig config, const Clock& clock)
      : config_(std::move(config)), clock_(clock), rng_(std::random_device{}()) {
    std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    while (!config_.base_url.empty() && config_.base_url.back() == '/') config_.base_url.pop_back();
    if (!config_.sleep) config_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
    topic_header_ = "apns-topic: " + config_.topic;
    headers_ = curl_slist_append(headers_, topic_header_.c_str());
    headers_ = curl_slist_append(headers_, "content-type: application/json");
    headers_ = curl_slist_append(headers_, "Expect:");
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(config_.max_connections));
    curl_multi_setopt(multi_, CURLMOPT_MAX_CONCURRENT_STREAMS, static_cast<long>(config_.max_in_flight));
    slots_.resize(static_cast<size_t>(config_.max_in_flight));
    for (Slot& s : slots_) s.easy = NewEasy(s);
  }
  ~Client() override {
    for (Slot& s : slots_) {
      curl_multi_remove_handle(multi_, s.easy);
      curl_easy_cleanup(s.easy);
    }
    curl_multi_cleanup(multi_);
    curl_slist_free_all(headers_);
  }
  bool ok() const {
    return multi_ &&
           std::all_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.easy != nullptr; });
  }

  Result<Summary> PushAll(std::span<const std::string> tokens, const ResultSink& on_result) override {
    return Run({}, tokens, nullptr, on_result);
  }
  Result<Summary> Push(std::string_view change_id, std::span<const std::string> tokens, PushJournal& journal,
                       const ResultSink& on_result) override {
    return Run(change_id, tokens, &journal, on_result);
  }

 private:
  CURL* NewEasy(Slot& s) {
    CURL* h = curl_easy_init();
    if (!h) return nullptr;
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    const bool tls = config_.base_url.starts_with("https://");
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                     tls ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);  // wait for the multiplexed connection, do not open another
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.request_timeout.count()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{}");  // static: curl does not copy it
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 2L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "lerarenkaart/0.1");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s.error);
    curl_easy_setopt(h, CURLOPT_PRIVATE, &s);
    curl_blob cert{config_.certificate_pem.data(), config_.certificate_pem.size(), CURL_BLOB_COPY};
    curl_blob key{config_.private_key_pem.data(), config_.private_key_pem.size(), CURL_BLOB_COPY};
    if (!config_.certificate_pem.empty()) {
      curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
      curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (!config_.private_key_pem.empty()) {
      curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
      curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (!config_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, config_.ca_file.c_str());
    return h;
  }

  std::chrono::milliseconds Backoff(int failed_attempts) {
    int64_t wait = config_.initial_backoff.count();
    for (int i = 1; i < failed_attempts && wait < config_.max_backoff.count(); ++i) wait *= 2;
    wait = std::min<int64_t>(wait, config_.max_backoff.count());
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(wait / 2, wait + wait / 2)(rng_));
  }

  struct Retry {
    Instant due;
    size_t index;
    int attempts;  // made so far
    bool operator>(const Retry& o) const { return due > o.due; }
  };

  Result<Summary> Run(std::string_view change, std::span<const std::string> tokens, PushJournal* journal,
                      const ResultSink& on_result) {
    Summary sum;
    std::priority_queue<Retry, std::vector<Retry>, std::greater<>> retries;
    std::vector<Slot*> idle;
    for (Slot& s : slots_) idle.push_back(&s);
    std::vector<std::string> delivered;  // not yet in the journal
    size_t next = 0, running = 0;
    std::optional<Error> stop;
    bool any_response = false;

    auto report = [&](TokenResult r) {
      switch (r.outcome) {
        case Outcome::kDelivered:
          ++sum.delivered;
          break;
        case Outcome::kGone:
          ++sum.gone;
          sum.gone_tokens.push_back(r.token);
          break;
        case Outcome::kFailed:
          ++sum.failed;
          break;
        case Outcome::kInvalidToken:
          ++sum.invalid;
          break;
        case Outcome::kUnreachable:
          ++sum.unreachable;
          break;
        case Outcome::kSkipped:
          ++sum.skipped;
          break;
      }
      bool problem = r.outcome == Outcome::kFailed || r.outcome == Outcome::kInvalidToken ||
                     r.outcome == Outcome::kUnreachable;
      if (on_result) on_result(r);
      if (problem && sum.problems.size() < kMaxProblems) sum.problems.push_back(std::move(r));
    };
    auto flush = [&]() -> Result<> {
      if (!journal || delivered.empty()) return {};
      auto r = journal->RecordDelivered(change, delivered);
      delivered.clear();
      return r;
    };
    auto start = [&](Slot* s, size_t index, int attempt) {
      s->index = index;
      s->attempt = attempt;
      s->body.clear();
      s->truncated = false;
      s->error[0] = 0;
      std::string url = config_.base_url + "/3/device/" + tokens[index];
      curl_easy_setopt(s->easy, CURLOPT_URL, url.c_str());
      curl_multi_add_handle(multi_, s->easy);
      ++running;
      ++sum.requests;
    };
    // The next token to send for the first time, after the invalid and already delivered ones.
    auto take_new = [&]() -> std::optional<size_t> {
      while (next < tokens.size()) {
        size_t i = next++;
        if (!IsValidPushToken(tokens[i])) {
          report({tokens[i].substr(0, 200), Outcome::kInvalidToken, 0, "not 32..200 hexadecimal digits", 0});
          continue;
        }
        if (journal) {
          auto done = journal->Delivered(change, tokens[i]);
          if (!done) {
            stop = done.error();
            return std::nullopt;
          }
          if (*done) {
            report({tokens[i], Outcome::kSkipped, 0, {}, 0});
            continue;
          }
        }
        return i;
      }
      return std::nullopt;
    };
    auto finish = [&](Slot* s, CURLcode rc) {
      long status = 0, connects = 0;
      curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
      curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &connects);
      sum.connections += static_cast<size_t>(connects);
      const std::string& token = tokens[s->index];
      bool retry = false;
      std::string reason;
      if (rc != CURLE_OK) {
        reason = curl_easy_strerror(rc);
        if (s->error[0]) reason += std::string(" (") + s->error + ")";
        if (ConfigurationError(rc)) {
          stop = Error{Code::kFailedPrecondition, "APNs at " + config_.base_url + ": " + reason};
          return;
        }
        retry = true;
      } else {
        any_response = true;
        reason = ReasonOf(s->body);
        if (status == 200) {
          report({token, Outcome::kDelivered, status, {}, s->attempt});
          if (journal) {
            delivered.push_back(token);
            if (delivered.size() >= config_.journal_batch)
              if (auto r = flush(); !r) stop = r.error();
          }
          return;
        }
        if (status == 410 || (status == 400 && (reason == "BadDeviceToken" || reason == "Unregistered"))) {
          report({token, Outcome::kGone, status, reason, s->attempt});
          return;
        }
        if (status == 403) {
          stop = Error{Code::kPermissionDenied, "APNs at " + config_.base_url +
                                                    " refused the pass certificate (403 " + reason +
                                                    "); nothing more was sent"};
          return;
        }
        retry = status == 429 || status >= 500;
        if (reason.empty()) reason = "HTTP " + std::to_string(status);
      }
      if (!retry) {
        report({token, Outcome::kFailed, status, reason, s->attempt});
        return;
      }
      if (s->attempt < config_.max_attempts) {
        retries.push({clock_.Monotonic() + Backoff(s->attempt), s->index, s->attempt});
        return;
      }
      report({token, Outcome::kUnreachable, status, reason, s->attempt});
      if (rc != CURLE_OK) {  // the connection itself failed max_attempts times: APNs is unreachable
        std::string hint = any_response
                               ? ""
                               : " (no response from APNs in this run: check the URL, the CA and that "
                                 "the server accepts the pass certificate)";
        stop = Error{Code::kUnavailable, "APNs at " + config_.base_url + " unreachable after " +
                                             std::to_string(s->attempt) + " attempts: " + reason + hint};
      }
    };

    while (!stop) {
      // Fill the idle handles: due retries first, then new tokens.
      while (!idle.empty() && !stop) {
        if (!retries.empty() && retries.top().due <= clock_.Monotonic()) {
          Retry r = retries.top();
          retries.pop();
          Slot* s = idle.back();
          idle.pop_back();
          start(s, r.index, r.attempts + 1);
        } else if (auto i = take_new()) {
          Slot* s = idle.back();
          idle.pop_back();
          start(s, *i, 1);
        } else {
          break;
        }
      }
      if (stop) break;
      if (running == 0) {
        if (retries.empty()) break;
        auto wait = std::chrono::ceil<std::chrono::milliseconds>(retries.top().due - clock_.Monotonic());
        if (wait.count() > 0) config_.sleep(wait);
        continue;
      }
      int still = 0;
      if (CURLMcode mc = curl_multi_perform(multi_, &still); mc != CURLM_OK) {
        stop = Error{Code::kInternal, std::string("libcurl: ") + curl_multi_strerror(mc)};
        break;
      }
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        Slot* s = nullptr;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &s);
        CURLcode rc = m->data.result;
        curl_multi_remove_handle(multi_, s->easy);
        --running;
        idle.push_back(s);
        if (!stop) finish(s, rc);
      }
      // Refill before waiting when there is something to send; otherwise wait for the network (a
      // retry's due time at the latest) instead of spinning while the last transfers finish.
      bool more = next < tokens.size() || (!retries.empty() && retries.top().due <= clock_.Monotonic());
      if (stop || (!idle.empty() && more)) continue;
      int timeout_ms = 1000;
      if (!retries.empty()) {
        auto due =
            std::chrono::ceil<std::chrono::milliseconds>(retries.top().due - clock_.Monotonic()).count();
        timeout_ms = static_cast<int>(std::clamp<int64_t>(due, 0, 1000));
      }
      curl_multi_poll(multi_, nullptr, 0, timeout_ms, nullptr);
    }
    // Stopped or done: take back what is still in flight; keep the connection for the next push.
    for (Slot& s : slots_) curl_multi_remove_handle(multi_, s.easy);
    auto flushed = flush();
    if (stop) return std::unexpected(*stop);  // a journal error while stopping is lost; the pushes stand
    if (!flushed) return std::unexpected(flushed.error());
    return sum;
  }

  ApnsConfig config_;
  const Clock& clock_;
  std::mt19937_64 rng_;
  std::string topic_header_;
  curl_slist* headers_ = nullptr;
  CURLM* multi_ = nullptr;
  std::vector<Slot> slots_;
};

}  // namespace

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kDelivered:
      return "delivered";
    case Outcome::kGone:
      return "gone";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kInvalidToken:
      return "invalid-token";
    case Outcome::kUnreachable:
      return "unreachable";
    case Outcome::kSkipped:
      return "skipped";
  }
  return "?";
}

bool IsValidPushToken(std::string_view token) {
  if (token.size() < 32 || token.size() > 200) return false;
  return std::all_of(token.begin(), token.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

Result<std::unique_ptr<ApnsClient>> ApnsClient::Create(ApnsConfig config, const Clock& clock) {
  if (config.topic.empty())
    return Fail(Code::kInvalidArgument, "APNs: the topic (pass type identifier) is empty");
  if (config.topic.find_first_of("\r\n") != std::string::npos)
    return Fail(Code::kInvalidArgument, "APNs: the topic contains a line break");
  if (!config.base_url.starts_with("https://") && !config.base_url.starts_with("http://"))
    return Fail(Code::kInvalidArgument, "APNs: base URL '" + config.base_url + "' is not http(s)://");
  if (config.max_in_flight < 1 || config.max_in_flight > 10000)
    return Fail(Code::kInvalidArgument, "APNs: max_in_flight must be 1..10000");
  if (config.max_connections < 1 || config.max_connections > 16)
    return Fail(Code::kInvalidArgument, "APNs: max_connections must be 1..16");
  if (config.max_attempts < 1) return Fail(Code::kInvalidArgument, "APNs: max_attempts must be at least 1");
  if (config.journal_batch < 1) return Fail(Code::kInvalidArgument, "APNs: journal_batch must be at least 1");
  if (!config.certificate_pem.empty() || !config.private_key_pem.empty())
    if (auto ok = CheckIdentity(config); !ok) return std::unexpected(ok.error());
  auto client = std::make_unique<Client>(std::move(config), clock);
  if (!client->ok()) return Fail(Code::kInternal, "libcurl: cannot create handles");
  return client;
}

}  // namespace lk::push
