#pragma once
// Who may do what: claim codes that staff redeem for their digital card, and the credentials of
// the HTTP service (staff bearer tokens, partner API keys). Only hashes of codes and secrets are
// stored. Thread-safe; writes are serialised with the rest of the ledger's.
#include <chrono>
#include <cstdint>
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

  // Adds a credential and returns its secret (the only time it exists in clear).
  // kAlreadyExists when `name` is taken for that kind; kInvalidArgument for a bad name.
  Result<std::string> AddCredential(CredentialKind kind, std::string_view name);
  // The credential whose secret this is; kUnauthenticated otherwise.
  Result<Credential> Authenticate(CredentialKind kind, std::string_view secret) const;
  // Deletes the credential `name` of that kind (its secret stops authenticating); audited.
  // kNotFound when there is none.
  Result<> RemoveCredential(CredentialKind kind, std::string_view name);
  // Every credential, staff first, by name; never a secret or its hash.
  Result<std::vector<Credential>> ListCredentials() const;

 private:
  internal::Core& core_;
};

}  // namespace lk::ledger
