#pragma once
// Pass-update pushes to Apple Push Notification service: an empty JSON payload per device push
// token over HTTP/2 (libcurl multi, many streams on one connection), TLS client authentication with
// the pass certificate, retries with backoff, and a journal so that a change reaches a token at most
// once across crashes once APNs has acknowledged it. Thread safety: an ApnsClient runs one push at a
// time (not thread-safe); MemoryPushJournal is thread-safe.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace lk::push {

struct ApnsConfig {
  std::string base_url = "https://api.push.apple.com";  // pushes go to {base_url}/3/device/{token}
  std::string topic;                                    // apns-topic: the pass type identifier (required)
  std::string certificate_pem;  // the pass certificate, PEM: TLS client certificate (APNs needs it)
  std::string private_key_pem;  // its private key, PEM, unencrypted; never logged. Both empty: none
  std::string ca_file;          // PEM bundle to verify APNs with (default: the system's CAs)
  int max_in_flight = 500;      // concurrent streams (and pooled curl handles), 1..10000
  int max_connections = 1;      // HTTP/2 connections to APNs, 1..16
  int max_attempts = 5;         // per token, the first included; retried on 429, 5xx, network errors
  std::chrono::milliseconds initial_backoff{1000};  // wait before the 2nd attempt; doubles, +-50% jitter
  std::chrono::milliseconds max_backoff{60000};     // cap on one wait
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds request_timeout{30000};  // one attempt, connection included
  size_t journal_batch = 256;  // delivered tokens recorded in the journal together (>= 1)
  // Waits out a backoff when nothing else is in flight (default: std::this_thread::sleep_for).
  // Tests pass one that advances a FakeClock.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// What became of one token.
enum class Outcome {
  kDelivered,     // APNs answered 200
  kGone,          // 410, or 400 BadDeviceToken/Unregistered: the caller must remove the registration
  kFailed,        // another 4xx: APNs's `reason` says why; not retried
  kInvalidToken,  // not 32..200 hex digits: never sent
  kUnreachable,   // 429, 5xx or network errors on every one of max_attempts attempts
  kSkipped,       // the journal has it delivered already
};
std::string_view OutcomeName(Outcome outcome);

struct TokenResult {
  std::string token;
  Outcome outcome = Outcome::kFailed;
  long status = 0;     // the last HTTP status, 0 when there was none
  std::string reason;  // APNs's `reason`, or the network error
  int attempts = 0;    // requests sent for this token
};
// Called once per token with its final outcome, on the thread running the push, in no fixed order.
using ResultSink = std::function<void(const TokenResult&)>;

struct Summary {
  size_t delivered = 0, gone = 0, failed = 0, invalid = 0, unreachable = 0, skipped = 0;
  size_t requests = 0;                   // HTTP requests sent, retries included
  size_t connections = 0;                // TCP connections opened during this push
  std::vector<std::string> gone_tokens;  // every kGone token: registrations to remove
  std::vector<TokenResult> problems;     // the first 100 kFailed, kInvalidToken, kUnreachable
};

// Which (change, token) pairs APNs has acknowledged. The caller implements it on its store (the
// ledger) so that a push interrupted by a crash and started again skips what was delivered.
// Guarantee with a durable journal: a token gets a change at least once per run while attempts
// last, and never again after RecordDelivered returned; only pushes acknowledged but not yet
// recorded (at most journal_batch + max_in_flight) can be sent twice after a crash.
class PushJournal {
 public:
  virtual ~PushJournal() = default;
  virtual Result<bool> Delivered(std::string_view change_id, std::string_view token) = 0;
  // Must be durable when it returns.
  virtual Result<> RecordDelivered(std::string_view change_id, std::span<const std::string> tokens) = 0;
};
// In memory, for tests and one-off runs: a "crash" is dropping the object.
std::unique_ptr<PushJournal> NewMemoryPushJournal();

// True for a plausible APNs device token: 32..200 hexadecimal digits. Tokens come from devices.
bool IsValidPushToken(std::string_view token);

class ApnsClient {
 public:
  // kInvalidArgument when the configuration is unusable (missing topic, a certificate or key that
  // does not parse or does not match, a base URL that is not http(s)). `clock` must outlive it.
  static Result<std::unique_ptr<ApnsClient>> Create(ApnsConfig config, const Clock& clock);
  virtual ~ApnsClient() = default;
  // Pushes change `change_id` to every token not already delivered per `journal`, recording each
  // 200. Every token's outcome reaches `on_result` as it is known. Stops sending and fails when a
  // network error persists for max_attempts (kUnavailable), APNs refuses the certificate (403,
  // kPermissionDenied), TLS or URL set-up fails (kFailedPrecondition) or the journal fails (its
  // error); what was reported stands.
  virtual Result<Summary> Push(std::string_view change_id, std::span<const std::string> tokens,
                               PushJournal& journal, const ResultSink& on_result = {}) = 0;
  // The same without a journal.
  virtual Result<Summary> PushAll(std::span<const std::string> tokens, const ResultSink& on_result = {}) = 0;
};

}  // namespace lk::push
