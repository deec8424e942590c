#pragma once
// Apple Wallet pass generation: one card + one template + the pass-signing identity + a time
// -> the bytes of a signed .pkpass (pass.json, images, pass.strings per language, manifest.json
// with SHA-1 of every file, a detached CMS signature over the manifest), zipped with libzip.
// A plain deterministic function of its inputs: same inputs, byte-identical output.
// Thread safety: PassBuilder is immutable after construction; Build() may run on many threads.

#include <filesystem>
#include <memory>
#include <string>

#include "base/base.h"
#include "signing/signing.h"
#include "templates/templates.h"

namespace lk::passgen {

// One card as the ledger knows it. The QR token is an input (issued by signing::TokenIssuer
// and stored with the card) because ECDSA signatures are randomised.
struct Card {
  std::string serial;        // 1-40 letters, digits, '-' or '_'
  int year = 0;              // card year; must equal the template's year
  std::string holder_name;   // UTF-8, 1-100 bytes
  std::string school;        // UTF-8, 1-200 bytes
  std::string token;         // compact JWS shown as the QR code (ASCII, <= 2048 bytes)
  std::string language = "nl";  // fallback language of the pass; must be a template language
  bool voided = false;       // revoked card: Wallet shows the pass as void
};

struct PassOptions {
  // Base URL of the PassKit web service (HTTPS); empty leaves webServiceURL and
  // authenticationToken out of the pass. Default https://lerarenkaart.be/wallet/.
  std::string web_service_url = "https://lerarenkaart.be/wallet/";
  // Secret behind each pass's authenticationToken (see AuthenticationToken). Required, >= 16
  // bytes, when web_service_url is set.
  std::string auth_secret;
};

// The per-pass web-service token: the first 32 characters of
// base64url(HMAC-SHA256(secret, pass_type_identifier + "/" + serial)). Stable for a pass for as
// long as the secret is, as Apple requires; the web service recomputes it to check requests.
std::string AuthenticationToken(std::string_view secret, std::string_view pass_type_identifier,
                                std::string_view serial);

// Reads <keys_dir>/pass-auth.key (32 random bytes, mode 0600), creating it on first use.
Result<std::string> LoadOrCreateAuthSecret(const std::filesystem::path& keys_dir);

// Builds passes from one template with one signer.
class PassBuilder {
 public:
  // `tmpl` and `signer` must outlive the builder. Fails if options are inconsistent.
  static Result<std::unique_ptr<PassBuilder>> Create(const templates::Template& tmpl,
                                                     const signing::PassSigner& signer, PassOptions options);
  ~PassBuilder();

  // The pass.json this card gets (UTF-8 JSON text). kInvalidArgument names the bad card field.
  Result<std::string> PassJson(const Card& card) const;
  // The .pkpass bytes, signed at `signing_time` (also the zip entries' timestamp).
  Result<std::string> Build(const Card& card, Time signing_time) const;

  struct Impl;

 private:
  explicit PassBuilder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One-shot convenience: PassBuilder::Create(...)->Build(card, signing_time).
Result<std::string> BuildPass(const Card& card, const templates::Template& tmpl, const signing::PassSigner& signer,
                              const PassOptions& options, Time signing_time);

// MIME type of a .pkpass when served over HTTP.
inline constexpr std::string_view kPkpassMimeType = "application/vnd.apple.pkpass";

}  // namespace lk::passgen
