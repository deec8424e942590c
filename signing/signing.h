#pragma once
// The trust core: token keys, revocation-list keys and their keyring, compact ES256 QR tokens,
// the pass-signing identity (PKCS#7 detached signatures for Apple Wallet) and the Google service
// account. The signed revocation list has its own header, signing/revocation_list.h.
// Thread safety: TokenIssuer, TokenVerifier, PassSigner and ServiceAccount are immutable after
// construction and safe to share between threads. Keyring is not; use one per thread or lock.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/base.h"

namespace lk::signing {

// Where keys live. Empty production paths mean the development files under `dir`.
struct KeyConfig {
  std::filesystem::path dir;                     // <data-dir>/keys
  std::filesystem::path pass_certificate;        // PEM certificate, or a PKCS#12 (.p12/.pfx) bundle
  std::filesystem::path pass_key;                // PEM private key, when pass_certificate is PEM
  std::string pass_password;                     // PKCS#12 or encrypted-PEM password (default none)
  std::filesystem::path wwdr_certificate;        // Apple WWDR G4 intermediate, PEM or DER
  std::filesystem::path google_service_account;  // service-account JSON from Google Cloud
};

// Creates the development key set under config.dir (files mode 0600): the first token key, the
// first revocation-list key, a development root CA, a WWDR stand-in intermediate, a Pass Type ID
// certificate, and a Google service-account JSON. Fails with kAlreadyExists, changing nothing, if
// any key is present.
Result<> InitDevelopmentKeys(const KeyConfig& config, const Clock& clock);
// True when InitDevelopmentKeys has run for this directory.
bool KeysExist(const KeyConfig& config);

// What a P-256 key signs: QR tokens (JWK "use":"sig") or revocation lists ("use":"lk-revocations").
// A key only ever has one use, and each verifier trusts only keys of its own use.
enum class KeyUse { kToken, kRevocations };

struct KeyInfo {
  std::string kid;  // base64url prefix of the RFC 7638 JWK thumbprint
  Time created;
  bool active = false;
  std::optional<Time> retired;        // when a newer key took over signing
  std::optional<Time> publish_until;  // retired keys: after the last token or list they could sign expires
};

class KeySet;  // public keys by kid, each with its use, for verification

// The token keys (<dir>/token/<kid>.pem, metadata in <dir>/keyring.json) and the revocation-list
// keys (<dir>/revocations/<kid>.pem, metadata in <dir>/revocations.json). A folder made before
// revocation lists had their own key has no revocations.json: it opens, with no revocation key.
class Keyring {
 public:
  static Result<std::unique_ptr<Keyring>> Open(const KeyConfig& config);
  virtual ~Keyring() = default;
  // Adds a fresh token key and makes it the active one; the old key stays published.
  virtual Result<KeyInfo> Rotate(const Clock& clock) = 0;
  // The same for the revocation-list key (the first one too, when the folder has none); the old
  // one stays published for kMaxRevocationListLifetime.
  virtual Result<KeyInfo> RotateRevocationKey(const Clock& clock) = 0;
  virtual std::vector<KeyInfo> List() const = 0;            // token keys, oldest first
  virtual std::vector<KeyInfo> RevocationKeys() const = 0;  // revocation-list keys, oldest first
  // The keys a verifier should trust at `now`, of both uses: active, or retired but still published.
  virtual KeySet Published(Time now) const = 0;
  // PEM (PKCS#8) of the active token key; never log or serve it.
  virtual std::string ActivePrivateKeyPem() const = 0;
  // PEM of the active revocation-list key, or kFailedPrecondition naming the keys folder and
  // `lerarenkaart keys rotate --revocations` when there is none. Never log or serve it.
  virtual Result<std::string> ActiveRevocationKeyPem() const = 0;
};

class KeySet {
 public:
  KeySet();
  ~KeySet();
  KeySet(KeySet&&) noexcept;
  KeySet& operator=(KeySet&&) noexcept;
  KeySet(const KeySet&);
  // Parses a JWK Set; only EC P-256 keys for ES256 whose kid matches their thumbprint are accepted,
  // with "use" "sig" (or none) for token keys and "lk-revocations" for revocation-list keys.
  static Result<KeySet> FromJwks(std::string_view json);
  // The public JWK Set document (what /.well-known/jwks.json serves), each key with its "use".
  std::string ToJwks() const;
  std::vector<std::string> kids() const;  // of both uses, sorted
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

struct TokenPolicy {
  std::string issuer = "https://lerarenkaart.be";  // the `iss` claim
  std::chrono::days grace{31};                     // validity after 31 December of the card year
  std::chrono::seconds leeway{60};                 // clock skew allowed on nbf/exp
};

// Card-year validity in Europe/Brussels time: [1 Jan 00:00, 1 Jan next year 00:00 + grace).
struct Validity {
  Time not_before, expires;
};
Validity CardYearValidity(int year, const TokenPolicy& policy);

class TokenIssuer {
 public:
  // Signs with the keyring's active key, parsed once.
  static Result<std::unique_ptr<TokenIssuer>> Create(const Keyring& keyring, TokenPolicy policy);
  virtual ~TokenIssuer() = default;
  // A compact JWS for card `serial` of `year`. kInvalidArgument for a bad serial or a year that
  // is over at `now` or more than one year ahead.
  virtual Result<std::string> Issue(std::string_view serial, int year, Time now) const = 0;
  virtual const std::string& kid() const = 0;
};

struct Verdict {
  bool valid = false;
  std::string reason;  // empty when valid; otherwise a stable machine-readable word
  std::string serial;  // known once the signature checked out
  std::optional<int> year;
  std::string kid;
  std::optional<Time> expires;
  std::string ToJson() const;
};

class TokenVerifier {
 public:
  static std::unique_ptr<TokenVerifier> Create(KeySet keys, TokenPolicy policy);
  virtual ~TokenVerifier() = default;
  virtual Verdict Verify(std::string_view token, Time at) const = 0;
};
inline constexpr size_t kMaxTokenBytes = 2048;

// The Apple pass-signing identity: Pass Type ID certificate and key plus the WWDR intermediate.
class PassSigner {
 public:
  static Result<std::unique_ptr<PassSigner>> Load(const KeyConfig& config);
  virtual ~PassSigner() = default;
  // DER CMS SignedData, detached, over `content` in binary mode: SHA-256, signing-time attribute
  // set to `signing_time`, signer and intermediate certificates included. Deterministic.
  virtual Result<std::string> SignDetached(std::string_view content, Time signing_time) const = 0;
  virtual const std::string& pass_type_identifier() const = 0;  // certificate subject UID
  virtual const std::string& team_identifier() const = 0;       // certificate subject OU
  virtual Time certificate_expires() const = 0;
  // The certificate and its private key (PKCS#8, unencrypted) as PEM: APNs authenticates pass
  // pushes with the same identity as a TLS client certificate (push/push.h). Never log the key.
  virtual std::string CertificatePem() const = 0;
  virtual std::string PrivateKeyPem() const = 0;
};

// A Google Cloud service account, for RS256 JWTs (save links, OAuth assertions).
class ServiceAccount {
 public:
  static Result<std::unique_ptr<ServiceAccount>> Load(const KeyConfig& config);
  virtual ~ServiceAccount() = default;
  virtual const std::string& client_email() const = 0;
  virtual const std::string& private_key_id() const = 0;
  // Compact RS256 JWS over `claims_json` with header {"alg":"RS256","kid":..,"typ":"JWT"}.
  virtual Result<std::string> SignJwt(std::string_view claims_json) const = 0;
  virtual std::string PublicKeyPem() const = 0;
};

}  // namespace lk::signing
