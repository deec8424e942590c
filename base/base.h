#pragma once
// Shared vocabulary of every lerarenkaart module: the error type, an injectable clock,
// Brussels calendar arithmetic, base64url/hex encoding and durable file writes.
// Everything here is thread-safe; FakeClock is safe to read while one thread advances it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct evp_mac_ctx_st;  // OpenSSL's EVP_MAC_CTX

namespace lk {

// What went wrong, in terms a caller can act on. `code` maps onto HTTP statuses in api/ and
// onto exit codes in app/ (kInvalidArgument, bad usage or input, exits 2; every other code 1).
enum class Code {
  kInvalidArgument,     // bad input: a file, a field, a flag (exit 2, HTTP 400)
  kNotFound,            // HTTP 404
  kAlreadyExists,       // HTTP 409
  kFailedPrecondition,  // state does not allow it (HTTP 409/412)
  kUnauthenticated,     // HTTP 401
  kPermissionDenied,    // HTTP 403
  kResourceExhausted,   // limits (HTTP 413/429)
  kUnavailable,         // a dependency is down (HTTP 503)
  kInternal,            // a bug or an unexpected library failure (HTTP 500)
  kDataLoss,            // stored data is corrupt (HTTP 500)
};
std::string_view CodeName(Code code);

// Facts about an error for callers that render it themselves (a page in its own language). A
// module defines its own kinds (ledger::ImportRefused) and callers ask with DetailOf.
struct ErrorDetail {
  virtual ~ErrorDetail() = default;
};
struct Error {
  Code code = Code::kInternal;
  std::string message;  // a sentence for a person: what, and where (file, line, field)
  std::shared_ptr<const ErrorDetail> detail = nullptr;  // optional; shared by copies, immutable
};
// The detail of `e` if it is a `D`, else null; valid while `e` (or a copy of it) lives.
template <class D>
const D* DetailOf(const Error& e) {
  return dynamic_cast<const D*>(e.detail.get());
}
template <class T = void>
using Result = std::expected<T, Error>;
inline std::unexpected<Error> Fail(Code code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}

// Wall-clock time, injectable so that tests control validity windows and school years; and a
// monotonic clock for durations (rate limits, caches, staleness bounds), injectable so that tests
// move time instead of sleeping.
using Time = std::chrono::sys_seconds;
using Instant = std::chrono::steady_clock::time_point;
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Time Now() const = 0;
  // Monotonic: never goes back; only differences mean anything.
  virtual Instant Monotonic() const = 0;
};
class SystemClock final : public Clock {
 public:
  Time Now() const override;
  Instant Monotonic() const override { return std::chrono::steady_clock::now(); }
};
// Both readings move together, only when the test sets or advances the clock.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Time t) : now_(t.time_since_epoch().count()) {}
  Time Now() const override { return Time(std::chrono::seconds(now_.load())); }
  Instant Monotonic() const override { return Instant(std::chrono::seconds(now_.load())); }
  void Set(Time t) { now_ = t.time_since_epoch().count(); }
  void Advance(std::chrono::seconds d) { now_ += d.count(); }

 private:
  std::atomic<int64_t> now_;
};

// Europe/Brussels: CET (UTC+1), CEST (UTC+2) from the last Sunday of March 01:00 UTC to the last
// Sunday of October 01:00 UTC (the EU rule in force since 1996).
std::chrono::seconds BrusselsOffset(Time utc);
// The UTC instant of local midnight in Brussels at the start of `day`.
Time BrusselsMidnight(std::chrono::year_month_day day);
// The Brussels calendar date of a UTC instant.
std::chrono::year_month_day BrusselsDate(Time utc);
// RFC 3339 parsing ("2026-03-01T12:00:00Z", offsets allowed) and UTC formatting.
Result<Time> ParseRfc3339(std::string_view text);
std::string FormatRfc3339(Time t);
// ISO date "YYYY-MM-DD", strictly validated.
Result<std::chrono::year_month_day> ParseIsoDate(std::string_view text);
std::string FormatIsoDate(std::chrono::year_month_day d);

// RFC 4648 §5 base64url without padding. Decoding is strict: no padding, no characters outside
// the alphabet, and the unused low bits of the last character must be zero (canonical form).
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64UrlDecode(std::string_view text);
std::string Base64Encode(std::string_view bytes);
std::string HexEncode(std::string_view bytes);
// Cryptographically random bytes (OpenSSL RAND_bytes). Throws std::runtime_error when the system
// has no entropy source: nothing in this project can go on without randomness.
std::string RandomBytes(size_t n);
// Random string over Crockford's base32 alphabet (no I, L, O, U): `n` characters, 5 bits each.
std::string RandomBase32(size_t n);
std::string Sha256(std::string_view bytes);
std::string Sha1(std::string_view bytes);

// HMAC-SHA256 (RFC 2104) under one key for many messages: the key is set up once (OpenSSL's
// EVP_MAC, fetched once per process). Not thread-safe: one object per thread. Movable.
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  ~HmacSha256();
  HmacSha256(HmacSha256&& other) noexcept;
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;
  HmacSha256& operator=(HmacSha256&&) = delete;
  // The 32-byte MAC of `message`.
  std::string Mac(std::string_view message);
  // Whether this object was keyed with `key` (for callers that keep one per key).
  bool HasKey(std::string_view key) const { return key_ == key; }

 private:
  std::string key_;                  // for OpenSSL's one-shot HMAC() should the context fail
  ::evp_mac_ctx_st* ctx_ = nullptr;  // EVP_MAC_CTX keyed once; null if it could not be set up
};

// Strict UTF-8: no overlong forms, surrogates or code points above U+10FFFF.
bool IsValidUtf8(std::string_view text);
// The code points of strict UTF-8 text; nullopt when it is not.
std::optional<std::u32string> DecodeUtf8(std::string_view text);
// `text` without leading and trailing ASCII white space (space, tab, CR, LF, VT, FF).
std::string_view Trim(std::string_view text);
// `text` with & < > " ' as HTML character references (safe in element text and quoted attributes).
std::string HtmlEscape(std::string_view text);

// Reads a whole file; the error names the path.
Result<std::string> ReadFile(const std::filesystem::path& path);
// Writes a file atomically (temporary file, fsync, rename) with the given mode, so that a crash
// leaves either the old or the new content. `exclusive` refuses to replace an existing file.
Result<> WriteFileAtomic(const std::filesystem::path& path, std::string_view content,
                         std::filesystem::perms mode = std::filesystem::perms::owner_read |
                                                       std::filesystem::perms::owner_write,
                         bool exclusive = false);

}  // namespace lk
