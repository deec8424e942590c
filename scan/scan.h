#pragma once
// A partner's card check that keeps working offline: TrustStore keeps the issuer's JWK Set and
// signed revocation list (fetched with ETags, cached on disk, used offline with their age), Judge
// turns a token into a Verdict with one sentence in nl, fr or en, and DecodeQrImage reads the
// token from a PNG or JPEG photo or screenshot.
// Thread safety: Refresh changes a TrustStore; Judge is const and safe to call from many threads
// while no Refresh runs. HttpGetter implementations are used from one thread at a time.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/base.h"

namespace lk::scan {

// One HTTP GET; `if_none_match` (when not empty) is sent as If-None-Match.
struct HttpReply {
  long status = 0;
  std::string body;
  std::string etag;  // the ETag response header, as sent
};
class HttpGetter {
 public:
  virtual ~HttpGetter() = default;
  // kUnavailable when the server cannot be reached or does not answer in time.
  virtual Result<HttpReply> Get(const std::string& url, const std::string& if_none_match) = 0;
};
// libcurl: http and https only, TLS peer and host name verified, no redirects, bodies up to 8 MiB.
std::unique_ptr<HttpGetter> CurlGetter(std::chrono::milliseconds connect_timeout = std::chrono::seconds(3),
                                       std::chrono::milliseconds total_timeout = std::chrono::seconds(10));

struct TrustOptions {
  std::string issuer_url;           // e.g. "https://lerarenkaart.be"; documents fetched below it
  std::string token_issuer;         // the tokens' `iss`; default: issuer_url without a final '/'
  std::filesystem::path cache_dir;  // default DefaultCacheDir(); one folder per issuer_url in it
  std::chrono::seconds max_age{std::chrono::hours(72)};  // the service's revocation_list_lifetime
};
// $XDG_CACHE_HOME/lerarenkaart, else $HOME/.cache/lerarenkaart, else ./.lerarenkaart-cache.
std::filesystem::path DefaultCacheDir();

// What a TrustStore knows after Refresh, and how old that knowledge is.
struct Knowledge {
  bool online = false;              // the issuer answered this Refresh (200 or 304 for both documents)
  std::string offline_reason;       // why the cache was used instead, when !online
  Time confirmed_at;                // when the issuer last confirmed the cached documents
  std::chrono::seconds age{0};      // now - confirmed_at
  bool stale = false;               // age > max_age
  std::chrono::seconds max_age{0};  // TrustOptions::max_age
  int64_t list_sequence = 0;
  Time list_expires;
  size_t revoked_cards = 0;
  int jwks_status = 0, list_status = 0;  // HTTP status of this Refresh's fetches (0: none)
};

enum class Outcome { kValid, kRevoked, kExpired, kNotYetValid, kNotLerarenkaart, kDamaged, kUnknownKey };
std::string_view OutcomeName(Outcome outcome);  // "valid", "revoked", "expired", ...
// What a desk acts on, for a refusal word of signing::TokenVerifier (or of POST /v1/verify:
// "revoked", "unknown_serial"); "" is kValid. The desk page (api/) groups its verdicts with it too.
Outcome OutcomeForReason(std::string_view reason);
enum class Lang { kNl, kFr, kEn };
Result<Lang> ParseLang(std::string_view code);  // "nl", "fr" or "en"

struct Verdict {
  Outcome outcome = Outcome::kDamaged;
  std::string reason;  // the token verifier's word ("bad_signature", ...), "revoked", or empty
  std::string serial;  // known once the signature checked out
  std::optional<int> year;
  // One sentence for the person at the desk, from the module's translation data.
  std::string Sentence(Lang lang) const;
  // {"verdict":..,"valid":..,"reason":..,"serial":..,"year":..,"message":..}
  std::string ToJson(Lang lang) const;
};
// A sentence about the store's knowledge ("offline: revocation list confirmed 3 h ago"), or
// empty when it was confirmed online just now and is not stale.
std::string KnowledgeSentence(const Knowledge& k, Lang lang);

class TrustStore {
 public:
  // Reads nothing yet; `http` and `clock` must outlive the store.
  static Result<std::unique_ptr<TrustStore>> Open(TrustOptions options, HttpGetter& http, const Clock& clock);
  virtual ~TrustStore() = default;
  // Fetches both documents (conditionally), verifies the list with the set's revocation key and
  // refuses one older than the cached list, then caches them; falls back to the cache when the
  // issuer cannot be reached or sends something refused. kUnavailable when there is no cache
  // either, kDataLoss when the cache is unreadable.
  virtual Result<Knowledge> Refresh() = 0;
  // REQUIRES: a successful Refresh. Time comes from the clock.
  virtual Verdict Judge(std::string_view token) const = 0;
};

// The text of the first QR code in a PNG or JPEG image (bytes of the file). kInvalidArgument
// for another format, a broken file or one of more than `max_pixels`; kNotFound when no QR code
// can be read in it.
inline constexpr int64_t kMaxImagePixels = 64 << 20;  // a phone photo is 12-50 Mpixel
Result<std::string> DecodeQrImage(std::string_view file_bytes, int64_t max_pixels = kMaxImagePixels);
Result<std::string> DecodeQrFile(const std::filesystem::path& path);

}  // namespace lk::scan
