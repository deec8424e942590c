#pragma once
// Who may do what: claim codes that staff redeem for their digital card, and the credentials of
// the HTTP service (staff bearer tokens, partner API keys). Only hashes of codes and secrets are
// stored. Thread-safe; writes are serialised with the rest of the ledger's.
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "ledger/cards.h"
#include "ledger/imports.h"

namespace lk::ledger {

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

// The claim mail (`claims send`): who gets one, with which code, and the run's journal.
enum class MailMark { kNone, kSending, kSent, kFailed };
struct ClaimMailHolder {
  int64_t roster_id = 0;  // names the holder in the journal
  std::string email;
  std::string language;      // "nl", "fr", "en", or "" when the roster gives none
  std::string display_name;  // "" when the roster gave no name
  MailMark mark = MailMark::kNone;
  std::string code;  // XXXX-XXXX-XXXX-XXXX for kNone and kFailed holders (not in a dry run)
};
struct ClaimMailMark {
  int64_t roster_id = 0;
  MailMark mark = MailMark::kNone;  // kSending, kSent or kFailed
  std::string reason;               // why it failed; "" otherwise
};

// A one-time sign-in link of "send me a new link": the token (only its hash is stored) and who
// to mail it to.
struct SignInLink {
  std::string token;  // 32 Crockford base32 characters (160 random bits)
  std::string email, display_name, language;
  int year = 0;  // the card year of the card it signs in to
};

class Access {
 public:
  explicit Access(internal::Core& core) : core_(core) {}  // `core` must outlive this

  // Claim codes for every staff member of `roster` (the roster CSV, already imported for
  // `year`), valid until `expires`, each usable once. Records the display name (first_name
  // last_name) for the pass. Replaces earlier codes of the same people. All or nothing.
  Result<std::vector<ClaimCode>> CreateClaimCodes(const CsvSource& roster, int year, Time expires);
  // The same, reading the roster file once first.
  Result<std::vector<ClaimCode>> CreateClaimCodes(const std::filesystem::path& roster, int year,
                                                  Time expires);
  // Redeems a code: issues (or returns) the holder's digital card of the code's year and marks
  // the code used. kNotFound for an unknown code; kFailedPrecondition once expired, or used
  // longer than `retry_window` ago (within it the same card is returned again).
  Result<IssuedCard> RedeemClaimCode(std::string_view code, std::chrono::seconds retry_window);

  // How many holders of `year` have a mail address and no active digital card.
  Result<int64_t> CountClaimMailHolders(int year) const;
  // Up to `max_rows` of those holders with roster ids above `after`, in roster id order, with
  // their journal mark; stops after `max_to_mail` holders marked kNone or kFailed. Each of those
  // gets a claim code valid until `expires`: their earlier mailed code when it is unused and
  // still valid for at least half that time (so a resumed run mails the same code), else a new
  // one that replaces any earlier code (committed, audited "create claim codes", before it is
  // returned). A mailed code is derived from the ledger's key and a stored nonce and kept only
  // as a hash. `dry_run`: nothing is written and no codes are returned.
  Result<std::vector<ClaimMailHolder>> PrepareClaimMail(int year, int64_t after, size_t max_rows,
                                                        size_t max_to_mail, Time expires, bool dry_run);
  // Records journal marks, all in one committed transaction (not audited: the run is, by
  // RecordClaimMailRun). kInvalidArgument for kNone; kFailedPrecondition (nothing recorded) when
  // a holder to mark kSending is already marked kSending or kSent (another run has them).
  Result<> MarkClaimMail(std::span<const ClaimMailMark> marks);
  // Appends the audit entry "send claim mails" with `detail` (a JSON object).
  Result<> RecordClaimMailRun(const std::string& detail);

  // For the holder whose roster address is `email` (compared without case) and who holds an
  // active digital card (the newest card year's, when several): a sign-in token usable once
  // until `expires`; their earlier unused tokens stop working. nullopt when there is no such
  // holder (the caller answers the same either way). Audited without the address.
  Result<std::optional<SignInLink>> CreateSignInLink(std::string_view email, Time expires);
  // Spends a sign-in token: the holder's active digital card. kNotFound for an unknown token;
  // kFailedPrecondition once used or expired, or when the card is no longer active. Audited.
  Result<IssuedCard> RedeemSignInLink(std::string_view token);

  // Adds a credential and returns its secret (the only time it exists in clear).
  // kAlreadyExists when `name` is taken for that kind; kInvalidArgument for a bad name.
  Result<std::string> AddCredential(CredentialKind kind, std::string_view name);
  // The credential whose secret this is; kUnauthenticated otherwise.
  Result<Credential> Authenticate(CredentialKind kind, std::string_view secret) const;
  // The credential `id` of that kind while it exists (not removed); kNotFound otherwise.
  Result<Credential> FindCredential(CredentialKind kind, int64_t id) const;
  // Deletes the credential `name` of that kind (its secret stops authenticating); audited.
  // kNotFound when there is none.
  Result<> RemoveCredential(CredentialKind kind, std::string_view name);
  // Every credential, staff first, by name; never a secret or its hash.
  Result<std::vector<Credential>> ListCredentials() const;

 private:
  internal::Core& core_;
};

}  // namespace lk::ledger
