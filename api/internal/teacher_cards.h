#pragma once
// The teacher's side's one door into the ledger: redeem a claim code, read a card, and give a
// card its QR token the first time it is shown. The claim API, the pass routes and the pages
// reach the ledger's cards through these functions only, so a change of the Ledger interface
// changes this file and teacher_cards.cc.
#include <string_view>

#include "api/internal/service_context.h"

namespace lk::api::internal {

// The card `serial`, or the card of a later card year that took over its wallet entry (the
// entry's newest card, ledger Cards::RenewDigital), as stored, with its QR token (issued and attached now
// when it had none; the first writer wins, so every caller sees the same token). Ledger errors as they are.
Result<Card> StoredCardWithToken(ServiceContext& ctx, std::string_view serial);
// Redeems a claim code (case, spaces and dashes forgiven by the ledger): the holder's card and
// whether it is new. kNotFound: unknown code; kFailedPrecondition: expired or spent.
Result<ledger::IssuedCard> RedeemClaim(ServiceContext& ctx, std::string_view code);
// Moves the card `serial` to a new device (ledger Cards::ReplaceDigital, reason "moved to a new
// device"): the replacement, is_new false when an earlier call already moved it. This instance's
// verify answers `revoked` for the old card at once; a saved Google object of it is set
// INACTIVE when Google is configured (a failure is logged; `google sync` repairs it).
Result<ledger::IssuedCard> MoveCard(ServiceContext& ctx, const HttpRequest& req, std::string_view serial);
// A card by serial, as stored, or the newest card of its wallet entry when a later card year
// took it over (kNotFound when there is none).
Result<Card> FindTeacherCard(ServiceContext& ctx, std::string_view serial);

}  // namespace lk::api::internal
