#pragma once
// The ledger: one record of every card of every channel (digital, subscription, starter,
// library), the per-year roster of eligible staff (pseudonymous), published aggregates kept apart,
// and a SHA-256-chained audit log. SQLite (default) and PostgreSQL behave the same.
// Thread safety: a Ledger may be shared between threads (calls are serialised internally);
// several processes may open the same ledger at once (the database arbitrates).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/base.h"

namespace lk::ledger {

enum class Channel { kDigital, kSubscription, kStarter, kLibrary };
std::string_view ChannelName(Channel c);  // "digital", "subscription", "starter", "library"
Result<Channel> ParseChannel(std::string_view name);
// Dutch province name of a Belgian postcode (Brussels included); kInvalidArgument outside 1000-9999.
Result<std::string> ProvinceOfPostcode(int postcode);

struct LedgerOptions {
  // "" = SQLite at <data_dir>/ledger.sqlite; a file path = SQLite there;
  // "postgresql://..." or "postgres://..." = PostgreSQL through libpq.
  std::string url;
  std::filesystem::path data_dir = "var";
  // Holds staff-id-hmac.key (created 0600 on first use). Default "" = <data_dir>/keys.
  // Processes sharing one PostgreSQL ledger must share this key.
  std::filesystem::path keys_dir;
};

// Called during long work with (rows done, rows total); may be empty.
using Progress = std::function<void(uint64_t done, uint64_t total)>;

struct ImportSummary {
  uint64_t rows = 0;     // data rows read
  uint64_t added = 0;    // new records (roster entries, cards or published rows)
  uint64_t present = 0;  // rows that were already in the ledger (re-import)
};

struct IssuedCard {
  std::string serial;      // 12 Crockford base32 characters, random
  int year = 0;
  bool is_new = false;     // false: the holder already had this year's digital card
  bool revoked = false;
  std::string auth_token;  // pass authentication token (32 characters, never changes)
  int64_t update_tag = 0;  // audit sequence number of the last change to the card
};

struct VerifyReport {
  bool ok = false;
  int64_t entries = 0;              // audit entries checked
  std::optional<int64_t> first_bad; // sequence number of the first bad entry (none when only the
                                    // adoption aggregate disagrees with a recount of the cards)
  std::string problem;              // what is wrong with it; empty when ok
  std::string bad_card;             // serial of the first card that differs from its audit entries, if that is it
};

enum class Period { kCalendar, kSchool };  // calendar: by card year; school: by issue date, 1 Sep - 31 Aug
enum class Dimension { kNone, kProvince, kNetwork, kRole, kLevel };
struct CountsQuery {
  Period period = Period::kCalendar;
  Dimension by = Dimension::kNone;
  int first_year = 0, last_year = 0;  // card years, or first calendar year of school years; 0 = open
};
// One (period, group) cell computed from per-card records (never from published aggregates).
// Cards and holders count active cards only: revoked cards are left out.
struct CountsRow {
  std::string period;                 // "2026" (calendar) or "2025-2026" (school)
  std::optional<std::string> group;   // "Antwerpen", "GO", "teaching", ...; nullopt when by == kNone
  std::optional<int64_t> eligible;    // roster size of that card year and group; nullopt in the school view
  int64_t subscription = 0, starter = 0, library = 0, digital = 0;  // active cards per channel
  int64_t holders = 0;                // distinct staff with at least one active card in the cell
  int64_t digital_only = 0, physical_only = 0, both = 0;  // holders by kind of card held
};
// Figures imported from a published aggregate file, kept apart from cards.
struct PublishedRow {
  std::string label;                  // "2017", ..., or "Totaal" as printed
  std::optional<int> year;            // nullopt for the total row
  int64_t eligible = 0, subscribers = 0, starters = 0, library = 0, holders = 0;
  std::string printed_share;          // exactly as printed: "67,50%", "67.50%", "67%"
};

// Credentials of the HTTP service: staff bearer tokens and partner API keys. Only a SHA-256 of
// each secret is stored; the secret itself is shown once, when it is made.
enum class CredentialKind { kStaff, kPartner };
std::string_view CredentialKindName(CredentialKind k);  // "staff", "partner"
struct Credential {
  int64_t id = 0;
  CredentialKind kind = CredentialKind::kStaff;
  std::string name;
  Time created;
};

// A one-time code a staff member redeems for their digital card (stored only as a hash).
struct ClaimCode {
  std::string staff_id;
  std::string code;  // "XXXX-XXXX-XXXX-XXXX", Crockford base32 (80 random bits)
};

// One card with what a pass or a scan needs.
struct CardRecord {
  std::string serial;
  int year = 0;
  Channel channel = Channel::kDigital;
  bool revoked = false;
  std::string revoked_reason;
  std::string auth_token;     // digital cards: the per-card access token
  int64_t update_tag = 0;
  std::string holder_name;    // display name recorded with the claim codes; "" if none
  std::string school_number;
  std::string token;          // the card's QR token once attached; "" before
  std::optional<Time> token_at;
};

// A digital card with what a wallet object of it shows (see ForEachDigitalCard).
struct DigitalCardRow {
  std::string serial;
  int year = 0;
  std::string holder_name;    // from the claim codes; "" if none recorded
  std::string school_number;
  bool revoked = false;
  std::string issued_on;      // YYYY-MM-DD
};

// What the signed revocation list is made of, read in one snapshot (see Ledger::Revocations).
struct RevocationSnapshot {
  // Audit sequence number of the newest revocation of any card year, 0 if none: it never
  // decreases (audit entries are never removed, revocations never undone), every process on the
  // ledger reads the same, and it changes exactly when a card is revoked.
  int64_t sequence = 0;
  std::vector<std::pair<std::string, int>> revoked;  // (serial, card year) of the asked years, ordered
};

class Ledger {
 public:
  virtual ~Ledger() = default;
  virtual std::string_view backend() const = 0;  // "sqlite" or "postgresql"

  // CSV imports (comma or semicolon, UTF-8 with or without BOM, header row; see docs/ledger.md).
  // All or nothing: on any bad row nothing is imported and the kInvalidArgument message lists
  // every bad row as "FILE:LINE:COLUMN (name): what". Re-importing adds nothing.
  virtual Result<ImportSummary> ImportRoster(const std::filesystem::path& csv, int year,
                                             const Progress& progress = {}) = 0;
  // REQUIRES: channel != kDigital. Every staff member must be on the roster of `year`.
  virtual Result<ImportSummary> ImportChannel(Channel channel, const std::filesystem::path& csv, int year,
                                              const Progress& progress = {}) = 0;
  virtual Result<ImportSummary> ImportPublished(const std::filesystem::path& csv) = 0;

  // The digital card of `staff_id` for `year`, created on first call (one per holder per year,
  // also under concurrent callers). kNotFound when the person is not on that year's roster.
  virtual Result<IssuedCard> IssueDigital(std::string_view staff_id, int year) = 0;
  // The same for many staff in one transaction, in input order; all or nothing.
  virtual Result<std::vector<IssuedCard>> IssueDigitalBatch(const std::vector<std::string>& staff_ids,
                                                            int year) = 0;
  // Marks a card revoked (kNotFound for an unknown serial, kFailedPrecondition if already revoked).
  virtual Result<> Revoke(std::string_view serial, std::string_view reason) = 0;

  // Re-walks the audit chain; names the first entry that was edited, deleted or reordered.
  virtual Result<VerifyReport> Verify() const = 0;
  // Rows only for periods/groups with data, ordered by period then group.
  virtual Result<std::vector<CountsRow>> Counts(const CountsQuery& q) const = 0;
  virtual Result<std::vector<PublishedRow>> Published() const = 0;

  // Claim codes for every staff member of `roster_csv` (the roster file, already imported for
  // `year`), valid until `expires`, each usable once. Records the display name (first_name
  // last_name) for the pass. Replaces earlier codes of the same people. All or nothing.
  virtual Result<std::vector<ClaimCode>> CreateClaimCodes(const std::filesystem::path& roster_csv, int year,
                                                          Time expires) = 0;
  // Redeems a code: issues (or returns) the holder's digital card of the code's year and marks
  // the code used. kNotFound for an unknown code; kFailedPrecondition once expired, or used
  // longer than `retry_window` ago (within it the same card is returned again).
  virtual Result<IssuedCard> RedeemClaimCode(std::string_view code, std::chrono::seconds retry_window) = 0;

  // Adds a credential and returns its secret (the only time it exists in clear).
  // kAlreadyExists when `name` is taken for that kind; kInvalidArgument for a bad name.
  virtual Result<std::string> AddCredential(CredentialKind kind, std::string_view name) = 0;
  // The credential whose secret this is; kUnauthenticated otherwise.
  virtual Result<Credential> Authenticate(CredentialKind kind, std::string_view secret) const = 0;
  // Deletes the credential `name` of that kind (its secret stops authenticating); audited.
  // kNotFound when there is none.
  virtual Result<> RemoveCredential(CredentialKind kind, std::string_view name) = 0;

  // A card by serial (kNotFound if none).
  virtual Result<CardRecord> FindCard(std::string_view serial) const = 0;
  // Stores the card's QR token unless one is already stored; returns the card as stored.
  virtual Result<CardRecord> AttachToken(std::string_view serial, std::string_view token, Time at) = 0;
  // (serial, card year) of every revoked card of card years first..last, ordered.
  virtual Result<std::vector<std::pair<std::string, int>>> RevokedSerials(int first_year, int last_year) const = 0;
  // The same with the sequence number of the newest revocation, from one statement (one
  // snapshot, so the list and its number agree). Reads only the revoked cards (an index of
  // them), so it stays cheap enough to call every second.
  virtual Result<RevocationSnapshot> Revocations(int first_year, int last_year) const = 0;
  // Calls `fn` for every digital card of card year `year`, ordered by serial. Read-only.
  // REQUIRES: `fn` does not call this ledger (the ledger is locked while it runs).
  virtual Result<> ForEachDigitalCard(int year, const std::function<void(const DigitalCardRow&)>& fn) const = 0;
};

// Opens (creating if needed) the ledger named by options.url and applies pending schema
// migrations. `clock` must outlive the ledger; it stamps issue dates and audit entries.
Result<std::unique_ptr<Ledger>> OpenLedger(const LedgerOptions& options, const Clock& clock);

}  // namespace lk::ledger
