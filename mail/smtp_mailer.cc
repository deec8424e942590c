// SMTP over libcurl: one easy handle for the mailer's life, so libcurl's connection cache keeps
// the connection (with its TLS session and AUTH) open from one message to the next. The server's
// replies are read from libcurl's debug callback (incoming header lines only: what we send,
// AUTH included, is never looked at), so errors can quote what the server said.
#include <curl/curl.h>

#include <cstring>
#include <mutex>
#include <thread>

#include "mail/internal/mime.h"
#include "mail/mail.h"

namespace lk::mail {

RateLimiter::RateLimiter(double per_second, const Clock& clock)
    : clock_(clock),
      interval_(per_second > 0 ? std::chrono::nanoseconds(static_cast<int64_t>(1e9 / per_second))
                               : std::chrono::nanoseconds(0)) {}

std::chrono::nanoseconds RateLimiter::Reserve() {
  Instant now = clock_.Monotonic();
  if (next_ < now) next_ = now;
  auto wait = next_ - now;
  next_ += interval_;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(wait);
}

Sleeper RealSleeper() {
  return [](std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); };
}

namespace {

std::once_flag curl_init;

struct Upload {
  std::string_view data;
  size_t pos = 0;
  bool finished = false;  // libcurl has read the whole message
};

size_t OnRead(char* buf, size_t size, size_t n, void* user) {
  auto* up = static_cast<Upload*>(user);
  size_t len = std::min(size * n, up->data.size() - up->pos);
  std::memcpy(buf, up->data.data() + up->pos, len);
  up->pos += len;
  // Conservative: bytes libcurl has read may still sit in its buffer, but a message counts as
  // possibly delivered from here on.
  up->finished = up->pos == up->data.size();
  return len;
}

// The server's replies during one send.
struct Replies {
  std::string last;         // the last reply line
  std::string first_error;  // the first reply line with a 4xx or 5xx code
  bool after_data = false;  // a reply came after the whole message was read
  const Upload* upload = nullptr;
};

int OnDebug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type != CURLINFO_HEADER_IN) return 0;
  auto* r = static_cast<Replies*>(user);
  std::string_view text(data, size);
  while (!text.empty()) {
    auto end = text.find('\n');
    auto line = Trim(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.empty()) continue;
    r->last = internal::Printable(line.substr(0, 200));
    if (r->first_error.empty() && (line[0] == '4' || line[0] == '5')) r->first_error = r->last;
    if (r->upload && r->upload->finished) r->after_data = true;
  }
  return 0;
}

Code CodeForReply(std::string_view reply) {
  if (reply.starts_with("535") || reply.starts_with("530")) return Code::kUnauthenticated;
  if (reply.starts_with("5")) return Code::kFailedPrecondition;
  return Code::kUnavailable;
}

class SmtpMailer final : public Mailer {
 public:
  SmtpMailer(const SmtpConfig& config, const Clock& clock, Sleeper sleep)
      : limiter_(config.rate_per_second, clock), sleep_(std::move(sleep)), h_(curl_easy_init()) {
    std::string url = config.url;
    if (!config.helo_host.empty()) url += "/" + config.helo_host;
    curl_easy_setopt(h_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h_, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (config.url.starts_with("smtp://")) {
      curl_easy_setopt(h_, CURLOPT_USE_SSL,
                       config.starttls == StartTls::kRequired   ? CURLUSESSL_ALL
                       : config.starttls == StartTls::kOptional ? CURLUSESSL_TRY
                                                                : CURLUSESSL_NONE);
    }
    if (!config.ca_file.empty()) curl_easy_setopt(h_, CURLOPT_CAINFO, config.ca_file.c_str());
    if (!config.username.empty()) {
      curl_easy_setopt(h_, CURLOPT_USERNAME, config.username.c_str());
      curl_easy_setopt(h_, CURLOPT_PASSWORD, config.password.c_str());
    }
    curl_easy_setopt(h_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config.connect_timeout.count()));
    curl_easy_setopt(h_, CURLOPT_TIMEOUT_MS, static_cast<long>(config.total_timeout.count()));
    curl_easy_setopt(h_, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h_, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(h_, CURLOPT_READDATA, &upload_);
    curl_easy_setopt(h_, CURLOPT_VERBOSE, 1L);  // only for OnDebug, which writes nothing
    curl_easy_setopt(h_, CURLOPT_DEBUGFUNCTION, OnDebug);
    curl_easy_setopt(h_, CURLOPT_DEBUGDATA, &replies_);
    curl_easy_setopt(h_, CURLOPT_ERRORBUFFER, errbuf_);
  }
  ~SmtpMailer() override {
    curl_easy_cleanup(h_);  // QUIT, close
    curl_slist_free_all(rcpt_);
  }
  SmtpMailer(const SmtpMailer&) = delete;
  SmtpMailer& operator=(const SmtpMailer&) = delete;

  bool ok() const { return h_ != nullptr; }

  SendResult Send(const Message& m) override {
    const std::string who = "mail to " + internal::Printable(m.envelope_to);
    auto refuse = [&](Code code, std::string why, bool maybe = false) {
      return std::unexpected(SendError{Error{code, who + ": " + why}, maybe});
    };
    // libcurl puts these in SMTP commands: refuse anything that could end a command line.
    for (const std::string* s : {&m.envelope_from, &m.envelope_to})
      for (char c : *s)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '<' || c == '>')
          return refuse(Code::kInvalidArgument,
                        "envelope address \"" + internal::Printable(*s) +
                            "\" contains a space, control character or angle bracket");
    if (auto wait = limiter_.Reserve(); wait.count() > 0) sleep_(wait);
    curl_slist_free_all(rcpt_);
    rcpt_ = curl_slist_append(nullptr, ("<" + m.envelope_to + ">").c_str());
    std::string from = "<" + m.envelope_from + ">";
    upload_ = Upload{m.data};
    replies_ = Replies{};
    replies_.upload = &upload_;
    errbuf_[0] = '\0';
    curl_easy_setopt(h_, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(h_, CURLOPT_MAIL_RCPT, rcpt_);
    curl_easy_setopt(h_, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(m.data.size()));
    CURLcode rc = curl_easy_perform(h_);
    if (rc == CURLE_OK) return Receipt{replies_.last};
    std::string curl_says = errbuf_[0] ? errbuf_ : curl_easy_strerror(rc);
    if (!replies_.first_error.empty())
      return refuse(CodeForReply(replies_.first_error),
                    "the server answered \"" + replies_.first_error + "\" (" + curl_says + ")");
    // No refusal came back. If the whole message went out, the server may have queued it.
    bool maybe = upload_.finished && !replies_.after_data;
    return refuse(
        rc == CURLE_LOGIN_DENIED ? Code::kUnauthenticated : Code::kUnavailable,
        curl_says + (maybe ? " (after the whole message was sent: it may have been delivered)" : ""), maybe);
  }

 private:
  RateLimiter limiter_;
  Sleeper sleep_;
  CURL* h_;
  curl_slist* rcpt_ = nullptr;
  Upload upload_;
  Replies replies_;
  char errbuf_[CURL_ERROR_SIZE] = {0};
};

}  // namespace

Result<std::unique_ptr<Mailer>> NewSmtpMailer(const SmtpConfig& config, const Clock& clock, Sleeper sleep) {
  auto bad = [](std::string why) { return Fail(Code::kInvalidArgument, "SMTP configuration: " + why); };
  const std::string& url = config.url;
  if (!url.starts_with("smtp://") && !url.starts_with("smtps://"))
    return bad("url \"" + internal::Printable(url) + "\" must start with smtp:// or smtps://");
  auto rest = std::string_view(url).substr(url.find("//") + 2);
  if (rest.empty() || rest.front() == '/' || rest.front() == ':') return bad("url has no host");
  if (rest.substr(0, rest.find('/')).find('@') != std::string_view::npos)
    return bad("put the user name and password in username and password, not in the url");
  if (rest.find('/') != std::string_view::npos) return bad("url must not have a path (use helo_host)");
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return bad("url contains a space or control character");
  for (const std::string* s : {&config.username, &config.password, &config.helo_host})
    for (char c : *s)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        return bad("the user name, password or helo_host contains a control character");
  if (!(config.rate_per_second >= 0)) return bad("rate_per_second must be 0 (no limit) or more");
  if (config.connect_timeout.count() <= 0 || config.total_timeout.count() <= 0)
    return bad("timeouts must be positive");
  if (url.starts_with("smtp://") && config.starttls == StartTls::kOff && !config.username.empty())
    return bad(
        "refusing to send a password without TLS: set starttls to required or optional, or use smtps://");
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  auto mailer = std::make_unique<SmtpMailer>(config, clock, std::move(sleep));
  if (!mailer->ok()) return Fail(Code::kInternal, "libcurl: cannot create a handle");
  return mailer;
}

}  // namespace lk::mail
