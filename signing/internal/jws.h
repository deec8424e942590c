#pragma once
// Private to signing/: the compact ES256 JWS pieces that QR tokens and revocation lists share
// (strict base64url segments, duplicate-refusing JSON objects, low-s signing, checked
// verification). Es256Key is thread-safe; the free functions are pure.
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/card.h"
#include "signing/internal/ossl.h"

namespace lk::signing::internal {

struct VerifyKey;

// Card serials and kids: lk::ValidSerial (base/card.h).

// Splits `jws` into exactly three non-empty dot-separated parts and decodes them into `out`.
// Returns nullptr, or the refusal: "malformed", "bad_base64", "non_canonical_encoding".
const char* DecodeCompact(std::string_view jws, std::string out[3]);

// Parses a JSON object; duplicate member names (at any depth) make it invalid.
bool ParseObject(const std::string& text, nlohmann::json& out);

// Checks the raw 64-byte r||s `sig` over `signing_input` (header.payload) with `key`.
// Returns nullptr, or the refusal: "bad_signature" (wrong length, does not verify),
// "non_canonical_signature" (r or s zero or out of range, or high-s), "internal_error".
const char* CheckEs256(const VerifyKey& key, std::string_view signing_input, std::string_view sig);

// One P-256 private key, parsed once, with a small pool of prepared signing contexts.
class Es256Key {
 public:
  explicit Es256Key(PKey key) : key_(std::move(key)) {}
  // Signs `jws` as it stands (header.payload) and appends '.' and the low-s signature, so that
  // every signed document has exactly one valid encoding.
  Result<> AppendSignature(std::string& jws) const;

 private:
  PKey key_;
  mutable std::mutex mu_;
  mutable std::vector<PKeyCtx> pool_;
};

}  // namespace lk::signing::internal
