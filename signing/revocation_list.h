#pragma once
// The signed revocation list: the revoked cards of the card years whose tokens can still be valid,
// which partners fetch (GET /v1/revocations) and keep to check tokens offline. A compact ES256 JWS
// signed by the keyring's revocation-list key (JWK "use":"lk-revocations"), never by a token key:
//   header  {"alg":"ES256","kid":KID,"typ":"lk-revocations+jwt"}
//   payload {"iss":ISSUER,"typ":"revocations","iat":N,"exp":N,"seq":N,"years":[2025,2026],
//            "revoked":{"2025":[],"2026":["7KQ2M9XH4TRB"]}}
// `seq` never decreases, so a verifier holding a list refuses an older one replayed to it.
// Thread safety: RevocationSigner and RevocationVerifier are immutable and safe to share.

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/base.h"
#include "signing/signing.h"

namespace lk::signing {

// The longest a list may be valid (exp - iat); a retired revocation-list key stays published this long.
inline constexpr std::chrono::hours kMaxRevocationListLifetime{7 * 24};
inline constexpr size_t kMaxRevocationListBytes = 8 << 20;

struct RevocationList {
  std::string issuer;      // iss: the token issuer (TokenPolicy::issuer)
  Time issued_at;          // iat
  Time expires;            // exp: the list is refused from then on
  int64_t sequence = 0;    // seq: never decreases (the ledger's RevocationSnapshot::sequence)
  std::vector<int> years;  // card years covered, ascending
  std::vector<std::pair<std::string, int>> revoked;  // (serial, card year), by card year then serial
  bool operator==(const RevocationList&) const = default;
};

class RevocationSigner {
 public:
  // Signs with the keyring's active revocation-list key, parsed once. kFailedPrecondition naming
  // `lerarenkaart keys rotate --revocations` when the keyring has none (an older keys folder).
  static Result<std::unique_ptr<RevocationSigner>> Create(const Keyring& keyring);
  virtual ~RevocationSigner() = default;
  // The compact JWS of `list` (revoked sorted, low-s signature). kInvalidArgument unless: issuer
  // set, years non-empty, ascending, 2000-2200; every revoked serial valid, once, of a listed year;
  // sequence >= 0; issued_at < expires <= issued_at + kMaxRevocationListLifetime.
  // kResourceExhausted over kMaxRevocationListBytes.
  virtual Result<std::string> Sign(const RevocationList& list) const = 0;
  virtual const std::string& kid() const = 0;
};

// Why a list was refused: a stable machine word, as in Verdict::reason (too_large, malformed,
// bad_base64, non_canonical_encoding, bad_json, unsupported_algorithm, wrong_kind, missing_kid,
// unknown_kid, non_canonical_signature, bad_signature, missing_claim, invalid_claim,
// wrong_issuer, not_yet_valid, expired, stale; internal_error if OpenSSL fails), and a sentence
// for a person.
struct RevocationRefusal {
  std::string reason;
  std::string message;
};

class RevocationVerifier {
 public:
  // Trusts only the "lk-revocations" keys of `keys`; policy.issuer and policy.leeway apply.
  static std::unique_ptr<RevocationVerifier> Create(KeySet keys, TokenPolicy policy);
  virtual ~RevocationVerifier() = default;
  // The list in `jws` if it is one: ES256 only, kid among the revocation-list keys, low-s, typ
  // "lk-revocations+jwt", exactly the payload members above with their types, iss, iat <= now +
  // leeway, now < exp. With `held` (the last list accepted), also refuses a list older than it
  // (smaller seq, or the same seq issued earlier) as "stale".
  virtual std::expected<RevocationList, RevocationRefusal> Verify(
      std::string_view jws, Time now, const RevocationList* held = nullptr) const = 0;
};

}  // namespace lk::signing
