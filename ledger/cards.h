#pragma once
// Cards: digital cards issued, any card revoked, found by serial, given its QR token, and the
// revocation list. Thread-safe: a Cards may be shared between threads; writes are serialised
// with the rest of the ledger's, and one card per holder per year holds under concurrent callers.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/base.h"
#include "base/card.h"
#include "ledger/channel.h"

namespace lk::ledger {
namespace internal {
struct Core;
}

// A card as issued (serial, year, revoked, auth_token, update_tag filled) and whether this call
// created it.
struct IssuedCard : Card {
  bool is_new = false;  // false: the holder already had this year's digital card
};

// What the signed revocation list is made of, read in one snapshot (see Cards::Revocations).
struct RevocationSnapshot {
  // Audit sequence number of the newest revocation of any card year, 0 if none: it never
  // decreases (audit entries are never removed, revocations never undone), every process on the
  // ledger reads the same, and it changes exactly when a card is revoked.
  int64_t sequence = 0;
  std::vector<std::pair<std::string, int>> revoked;  // (serial, card year) of the asked years, ordered
};

// Where the active digital cards of the card year before `year` stand with the new card year
// (Cards::RenewalStatus).
struct RenewalCounts {
  int64_t to_renew = 0;       // on the roster of `year`, no digital card of `year` yet
  int64_t renewed = 0;        // their wallet entry holds their card of `year` (RenewDigital)
  int64_t own_card = 0;       // hold a digital card of `year` in another wallet entry (claimed it)
  int64_t not_on_roster = 0;  // not on the roster of `year`: they keep the earlier card until it expires
};

// Signs the QR token of a new card (serial, card year); called inside RenewDigital's write.
using TokenSigner = std::function<Result<std::string>(const std::string& serial, int year)>;

class Cards {
 public:
  explicit Cards(internal::Core& core) : core_(core) {}  // `core` must outlive this

  // The digital card of `staff_id` for `year`, created on first call (one per holder per year,
  // also under concurrent callers). kNotFound when the person is not on that year's roster.
  Result<IssuedCard> IssueDigital(std::string_view staff_id, int year);
  // The same for many staff in one transaction, in input order; all or nothing.
  Result<std::vector<IssuedCard>> IssueDigitalBatch(const std::vector<std::string>& staff_ids, int year);
  // Marks a card revoked (kNotFound for an unknown serial, kFailedPrecondition if already revoked).
  Result<> Revoke(std::string_view serial, std::string_view reason);
  // Moves a holder's digital card to a new device: revokes the active digital card `serial` with
  // `reason` and issues a replacement with a new serial and access token for the same card year,
  // in one transaction and one audit entry. The replacement keeps the card's issue date and
  // school year (the holder held a card all along), so no count changes. Idempotent: when
  // `serial` was already replaced, returns the holder's current card with is_new false (a form
  // submitted twice moves the card once). kNotFound: unknown serial; kFailedPrecondition: not a
  // digital card, or revoked for another reason; kInvalidArgument: empty reason.
  Result<IssuedCard> ReplaceDigital(std::string_view serial, std::string_view reason);

  // The new card year in the same wallet entry. For at most `limit` holders of an active digital
  // card of card year `year` - 1 (not moved away) who are on the roster of `year` and hold no
  // digital card of `year`, issues their card of `year`: a card of its own (new serial, issued
  // today, counted in `year`; the earlier card stays active and counted in its year) with the
  // earlier card's access token, its QR token from `sign` (attached at `at`) and the earlier
  // card's wallet entry (Card::wallet_serial), so the Apple pass keeps its serialNumber and the
  // Google object its id. One write with one audit entry ("renew digital") and a queued push of
  // each entry. Returns the new cards (serial, year, wallet_serial, auth_token, token, token_at,
  // update_tag), in holder order; empty when nobody is left to renew, so calling it until it
  // returns none renews everyone, and a call cut short loses nothing. `cursor` (optional, opaque:
  // "" at first, then passed back as it was left) makes each call start after the previous
  // one's holders, so that a run over a whole year reads each holder once.
  // kInvalidArgument for a year out of range; `sign`'s error aborts the write.
  Result<std::vector<Card>> RenewDigital(int year, size_t limit, const TokenSigner& sign, Time at,
                                         std::string* cursor = nullptr);
  // How the active digital cards of `year` - 1 stand with card year `year` (read-only).
  Result<RenewalCounts> RenewalStatus(int year) const;

  // A card by serial (kNotFound if none), every field but language and issued_on filled; school
  // is the school number; replaced_by names the card that replaced it, if one did; wallet_serial
  // and renewed_by its wallet entry (RenewDigital).
  Result<Card> FindCard(std::string_view serial) const;
  // Every card of staff member `staff_id` in any card year and channel, newest year first, with
  // serial, year, channel, revoked (and reason), holder_name, school, issued_on and update_tag
  // filled; issues nothing. Empty when they hold none. kInvalidArgument for an empty id.
  Result<std::vector<Card>> FindCardsOfStaff(std::string_view staff_id) const;
  // Stores the card's QR token unless one is already stored; returns the card as stored.
  Result<Card> AttachToken(std::string_view serial, std::string_view token, Time at);
  // (serial, card year) of every revoked card of card years first..last, ordered.
  Result<std::vector<std::pair<std::string, int>>> RevokedSerials(int first_year, int last_year) const;
  // The same with the sequence number of the newest revocation, from one statement (one
  // snapshot, so the list and its number agree). Reads only the revoked cards (an index of
  // them), so it stays cheap enough to call every second.
  Result<RevocationSnapshot> Revocations(int first_year, int last_year) const;
  // Calls `fn` for every digital card of card year `year`, ordered by serial, with serial, year,
  // holder_name, school (number), school_name, revoked, issued_on, wallet_serial and renewed_by
  // filled. Read-only.
  // REQUIRES: `fn` does not call this ledger (it holds the ledger's lock, or one of its read
  // connections, while it runs).
  Result<> ForEachDigitalCard(int year, const std::function<void(const Card&)>& fn) const;

 private:
  internal::Core& core_;
};

}  // namespace lk::ledger
