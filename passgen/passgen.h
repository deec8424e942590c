#pragma once
// Apple Wallet pass generation: one card + one template + the pass-signing identity + a time
// -> the bytes of a signed .pkpass (pass.json, images, pass.strings per language, manifest.json
// with SHA-1 of every file, a detached CMS signature over the manifest), zipped with libzip.
// A plain deterministic function of its inputs: same inputs, byte-identical output.
// Thread safety: PassBuilder is immutable after construction; Build() may run on many threads.

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/base.h"
#include "base/card.h"
#include "signing/signing.h"
#include "templates/templates.h"

namespace lk::passgen {

// A pass shows one lk::Card (base/card.h): serial, year, holder_name, school, token, language,
// revoked (Wallet shows the pass as void; with revoked_at, the pass's expirationDate is then the
// revocation time, or the card year's end if that is earlier, for readers that ignore "voided")
// and, when PassOptions::web_service_url is set,
// auth_token (the pass's authenticationToken: it must never change for the pass). The QR token is
// an input (issued by signing::TokenIssuer and stored with the card) because ECDSA signatures are
// randomised.

// The card as a wallet shows a card the ledger records (so Apple passes, Google objects, the
// service and `google sync` agree): no holder name shows "Lerarenkaart"; the school shows its
// name from the school list (school_name) when listed, else the number 012345 shows
// "School 012345", and no school number "-". Other fields are kept.
Card ShownCard(Card card);

struct PassOptions {
  // Base URL of the PassKit web service (HTTPS; http:// only to 127.0.0.1 or localhost, for
  // tests); empty leaves webServiceURL and authenticationToken out of the pass.
  // Default https://lerarenkaart.be/wallet/.
  std::string web_service_url = "https://lerarenkaart.be/wallet/";
};

// The authenticationToken of a pass built without a ledger (`pass build`): the first 32
// characters of base64url(HMAC-SHA256(secret, pass_type_identifier + "/" + serial)), stable for
// as long as the secret is. The service uses the ledger's auth_token of the card instead.
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
  // The same bytes written into `out` (replacing its contents), so a caller that builds many
  // passes on one thread can reuse one buffer.
  Result<> BuildInto(const Card& card, Time signing_time, std::string& out) const;

  struct Impl;

 private:
  explicit PassBuilder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One-shot convenience: PassBuilder::Create(...)->Build(card, signing_time).
Result<std::string> BuildPass(const Card& card, const templates::Template& tmpl,
                              const signing::PassSigner& signer, const PassOptions& options,
                              Time signing_time);

// The PassBuilder of each card year, made on first use from the template in
// <templates_root>/<year> (or in `fixed_dir` for every year, when set) and kept; a template that
// fails to load is remembered and its error returned again. Thread-safe.
class PassBuilders {
 public:
  // `signer` must outlive this object.
  PassBuilders(const signing::PassSigner& signer, PassOptions options, std::filesystem::path templates_root,
               std::filesystem::path fixed_dir = {});
  ~PassBuilders();
  // The builder for card `year`, valid as long as this object. A missing <templates_root>/<year>
  // is kNotFound "<dir>: no template for card year <year>"; a broken template keeps the
  // loader's kInvalidArgument naming the file and field.
  Result<const PassBuilder*> For(int year);
  const signing::PassSigner& signer() const { return *signer_; }

 private:
  struct Entry {
    std::unique_ptr<templates::Template> tmpl;
    std::unique_ptr<PassBuilder> builder;
    Error error;
  };
  const signing::PassSigner* signer_;
  PassOptions options_;
  std::filesystem::path templates_root_, fixed_dir_;
  std::mutex mu_;
  std::map<int, Entry> entries_;
};

// MIME type of a .pkpass when served over HTTP.
inline constexpr std::string_view kPkpassMimeType = "application/vnd.apple.pkpass";

}  // namespace lk::passgen
