#pragma once
// Sending mail: a composed message (envelope plus RFC 5322 text), the Mailer seam that sends it,
// and an SMTP implementation over libcurl that keeps one connection open for many messages.
// A Mailer is not thread-safe: one per thread. RateLimiter is not thread-safe either.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/base.h"

namespace lk::mail {

// A mailbox. `email` is an ASCII addr-spec (local@domain, no SMTPUTF8); `name` is UTF-8, may be
// empty. CheckAddress refuses control characters (CR, LF, NUL, DEL, C1) in either, so neither a
// header nor an SMTP command can be injected; the error names the offending field.
struct Address {
  std::string email;
  std::string name;
};
Result<> CheckAddress(const Address& address, std::string_view what);

// A message ready for SMTP: envelope sender and recipient, and the message itself with CRLF line
// endings, no line longer than 998 octets.
struct Message {
  std::string envelope_from;
  std::string envelope_to;
  std::string data;
  std::string message_id;  // "<...@...>", also in `data`
};

// What the server said when it accepted a message ("250 2.0.0 Ok: queued as ...").
struct Receipt {
  std::string reply;
};
// Why a send failed. `maybe_delivered` is true only when the whole message went to the server
// and no answer came back (a timeout or a dropped connection after the data): the server may
// have queued it. Every refusal the server answered (4xx/5xx) and every failure before the data
// leaves it false: the message was not delivered.
struct SendError {
  Error error;
  bool maybe_delivered = false;
};
using SendResult = std::expected<Receipt, SendError>;

class Mailer {
 public:
  virtual ~Mailer() = default;
  // Sends one message. Errors name the recipient and what the server said.
  virtual SendResult Send(const Message& message) = 0;
};

enum class StartTls {
  kRequired,  // smtp://: STARTTLS or fail (curl's CURLUSESSL_ALL)
  kOptional,  // smtp://: STARTTLS when the server offers it (CURLUSESSL_TRY)
  kOff,       // smtp://: plain text (a relay on the same host only)
};

struct SmtpConfig {
  std::string url = "smtp://localhost:25";  // smtp://host[:port] or smtps://host[:port] (TLS from the start)
  StartTls starttls = StartTls::kRequired;  // for smtp:// URLs; smtps:// is always TLS
  std::string username;                     // "" = no AUTH
  std::string password;                     // never logged nor put in an error message
  std::string ca_file;                      // "" = the system's CA store
  std::string helo_host;                    // "" = libcurl's default (the local host name)
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{60'000};  // per message
  double rate_per_second = 20;                      // at most this many messages per second; 0 = no limit
};

// Paces sends: each Reserve books the next slot, 1/rate apart, and returns how long to wait for
// it (zero when it is due). Pure over `clock` (which must outlive it): nothing sleeps in here.
class RateLimiter {
 public:
  RateLimiter(double per_second, const Clock& clock);
  std::chrono::nanoseconds Reserve();

 private:
  const Clock& clock_;
  std::chrono::nanoseconds interval_;
  Instant next_{};
};

using Sleeper = std::function<void(std::chrono::nanoseconds)>;
Sleeper RealSleeper();  // std::this_thread::sleep_for

// An SMTP Mailer over libcurl: one easy handle, so the connection (and its TLS session and AUTH)
// is reused from message to message; libcurl reconnects when the server closed it. `clock` must
// outlive the mailer; `sleep` waits out the rate limit. Errors: kInvalidArgument for a bad config.
Result<std::unique_ptr<Mailer>> NewSmtpMailer(const SmtpConfig& config, const Clock& clock,
                                              Sleeper sleep = RealSleeper());

}  // namespace lk::mail
