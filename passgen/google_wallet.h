#pragma once
// Google Wallet: Generic pass classes and objects for the teacher card, "save to Google Wallet"
// links (skinny RS256 JWTs that name an object created through the REST API), the REST client
// (OAuth 2.0 service-account flow, retries, timeouts) and the sync that keeps saved cards current.
// Thread safety: the JSON builders are plain functions; WalletApi implementations and Sync may be
// used from several threads at once.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "base/card.h"
#include "signing/signing.h"

namespace lk::passgen {

struct LocalizedText {
  std::string nl, fr, en;  // nl is the default language; empty translations are left out
};

// The look of the card, filled from the Apple template by the caller (defaults: Lerarenkaart).
struct GoogleCardDesign {
  std::string issuer_name = "Lerarenkaart";  // the object's cardTitle (top row of the pass)
  LocalizedText card_title{"Lerarenkaart", "Carte d'enseignant", "Teacher card"};  // subheader
  std::string hex_background_color = "#1d3557";                                    // "#rrggbb"
  std::string logo_url;                                                            // https, optional
  LocalizedText school_label{"School", "École", "School"};
  LocalizedText year_label{"Kaartjaar", "Année de la carte", "Card year"};
};

// Google objects show an lk::Card (base/card.h) as a wallet shows it (passgen::ShownCard):
// serial (1-40 letters, digits, '-', '_'), year, holder_name and school (UTF-8, 1-200
// characters, no control characters) and revoked.

struct GoogleWalletConfig {
  std::string issuer_id;                                        // digits, from the Google Wallet console
  std::string class_prefix = "lerarenkaart-";                   // class id: <issuer>.<prefix><year>
  std::vector<std::string> origins{"https://lerarenkaart.be"};  // where save buttons may render
  std::string token_url = "https://oauth2.googleapis.com/token";
  std::string api_url = "https://walletobjects.googleapis.com/walletobjects/v1";
  std::chrono::milliseconds connect_timeout{5000}, total_timeout{20000};  // per HTTP attempt
  int max_attempts = 5;                                             // per call, on 429, 5xx, network errors
  std::chrono::milliseconds backoff_base{500}, backoff_max{30000};  // exponential, full jitter
  // How waits happen (default: this_thread::sleep_for); tests record instead of sleeping.
  std::function<void(std::chrono::milliseconds)> sleep;
  // Where client errors (4xx) and retries are logged (default: stderr, "lerarenkaart: google: ").
  std::function<void(std::string_view)> log;
};

inline constexpr size_t kMaxSaveLinkChars = 1800;                 // browsers truncate longer links (Google)
std::string ClassId(const GoogleWalletConfig& config, int year);  // <issuer>.<class_prefix><year>
std::string ObjectId(const GoogleWalletConfig& config, std::string_view serial);  // <issuer>.<serial>
// Checks the issuer id, origins, URLs and a card's fields; the error names the field.
Result<> ValidateConfig(const GoogleWalletConfig& config);
Result<> ValidateCard(const Card& card);

// GenericClass JSON for a card year. GenericClass has no issuer name or logo: those are per object.
std::string GenericClassJson(const GoogleWalletConfig& config, const GoogleCardDesign& design, int year);
// GenericObject JSON for a card with `qr_token` (the card's ES256 token) in its barcode and
// `state` one of ACTIVE, INACTIVE, EXPIRED.
std::string GenericObjectJson(const GoogleWalletConfig& config, const GoogleCardDesign& design,
                              const signing::TokenPolicy& policy, const Card& card, std::string_view qr_token,
                              std::string_view state);

// The save link https://pay.google.com/gp/v/save/<jwt> for an object already created through the
// API: the JWT carries only the object id, so its length does not depend on names or the token.
// kInvalidArgument when the link would exceed kMaxSaveLinkChars (too many or too long origins).
Result<std::string> SkinnySaveLink(const signing::ServiceAccount& account, const GoogleWalletConfig& config,
                                   std::string_view serial, Time now);
// The same with the whole object (and its class) in the JWT; no API call needed, but it is
// over the limit with a real QR token, so it fails with kFailedPrecondition and the length.
Result<std::string> FullSaveLink(const signing::ServiceAccount& account, const GoogleWalletConfig& config,
                                 std::string_view class_json, std::string_view object_json, Time now);

// The Google Wallet REST API as far as lerarenkaart uses it. Errors: kNotFound (404),
// kAlreadyExists (409), kInvalidArgument/kPermissionDenied/kUnauthenticated (other 4xx, logged),
// kUnavailable (network, timeouts, 5xx or 429 after retries, malformed responses).
class WalletApi {
 public:
  virtual ~WalletApi() = default;
  virtual Result<std::string> GetClass(std::string_view class_id) = 0;  // the class JSON
  virtual Result<> InsertClass(std::string_view class_json) = 0;
  virtual Result<> UpdateClass(std::string_view class_id, std::string_view class_json) = 0;  // PUT
  virtual Result<std::string> GetObject(std::string_view object_id) = 0;
  virtual Result<> InsertObject(std::string_view object_json) = 0;
  virtual Result<> PatchObject(std::string_view object_id, std::string_view patch_json) = 0;
};
// A libcurl client; `account` and `clock` must outlive it. Access tokens are cached until one
// minute before they expire by `clock`.
Result<std::unique_ptr<WalletApi>> NewWalletClient(const signing::ServiceAccount& account,
                                                   GoogleWalletConfig config, const Clock& clock);

enum class ClassOutcome { kUnchanged, kCreated, kUpdated };
// GET the year's class; POST it on 404, PUT it when our fields differ.
Result<ClassOutcome> UpsertClass(WalletApi& api, const GoogleWalletConfig& config,
                                 const GoogleCardDesign& design, int year);

enum class CardOutcome { kCreated, kUpdated, kBarcodeRotated, kRevoked, kExpired, kUnchanged, kSkipped };
std::string_view CardOutcomeName(CardOutcome outcome);
// Brings one card's object up to date (see Sync); kSkipped for a revoked or expired card that
// has no object. The class must exist.
Result<CardOutcome> SyncCard(WalletApi& api, const GoogleWalletConfig& config, const GoogleCardDesign& design,
                             const signing::TokenIssuer& issuer, const signing::TokenVerifier& verifier,
                             const signing::TokenPolicy& policy, const Card& card, Time now);

struct SyncSummary {
  size_t other_years = 0;  // cards in the input for another year, left alone
  size_t cards = 0, created = 0, updated = 0, barcode_rotated = 0, revoked = 0, expired = 0, unchanged = 0,
         skipped = 0, failed = 0;
  bool class_created = false, class_updated = false;
  std::vector<std::string> errors;  // "<serial>: <message>", in card order
  std::string ToText() const;
};
struct SyncOptions {
  int parallelism = 4;                                      // concurrent cards
  std::function<void(size_t done, size_t total)> progress;  // called after each card
};
// The cards of card `year` from a CSV export for `google sync --cards` (header serial,year,name,
// school,status in any order, other columns ignored; comma or semicolon; UTF-8 with or without
// BOM): name and school as the wallet shows them, status active or revoked (revoked sets
// Card::revoked). All or nothing: any bad row (ragged, invalid UTF-8, a serial that is empty, not
// 1-40 letters, digits, '-' or '_', or repeated, another year, an empty or over-long name or
// school, an unknown status) fails with one kInvalidArgument listing every bad row as
// "<file>:<line>:<column> (<name>): <what>". `file` names the source in messages.
Result<std::vector<Card>> ReadCardsCsv(std::string_view bytes, const std::string& file, int year);

// Brings the year's class and every card's object up to date: creates missing objects of active
// cards, sets INACTIVE on revoked cards and EXPIRED after the card year, replaces the barcode when
// its token is not valid under the active key, and patches changed texts. Per-card failures are
// counted and listed; the result is an error only when the class itself cannot be brought up to date.
Result<SyncSummary> Sync(WalletApi& api, const GoogleWalletConfig& config, const GoogleCardDesign& design,
                         const signing::TokenIssuer& issuer, const signing::TokenVerifier& verifier,
                         const signing::TokenPolicy& policy, int year, const std::vector<Card>& cards,
                         Time now, const SyncOptions& options = {});

}  // namespace lk::passgen
