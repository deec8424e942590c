// The teacher's side's calls into the ledger (see internal/teacher_cards.h).
#include "api/internal/teacher_cards.h"

namespace lk::api::internal {

namespace {

// The card `serial`, or the card of a later card year that took over its wallet entry
// (Cards::RenewDigital): a teacher, a wallet and a save link always see the entry's newest card.
Result<Card> NewestInWallet(ServiceContext& ctx, std::string_view serial) {
  auto card = ctx.deps.ledger->cards().FindCard(serial);
  if (!card || card->renewed_by.empty()) return card;
  return ctx.deps.ledger->cards().FindCard(card->renewed_by);
}

}  // namespace

Result<Card> StoredCardWithToken(ServiceContext& ctx, std::string_view serial) {
  auto record = NewestInWallet(ctx, serial);
  if (!record || !record->token.empty()) return record;
  Time now = ctx.deps.clock->Now();
  auto fresh = ctx.keys.load()->issuer->Issue(record->serial, record->year, now);
  if (!fresh) return std::unexpected(fresh.error());
  return ctx.deps.ledger->cards().AttachToken(record->serial, *fresh, now);  // first writer wins
}

Result<ledger::IssuedCard> RedeemClaim(ServiceContext& ctx, std::string_view code) {
  return ctx.deps.ledger->access().RedeemClaimCode(code, ctx.options.claim_retry_window);
}

Result<ledger::IssuedCard> MoveCard(ServiceContext& ctx, const HttpRequest& req, std::string_view serial) {
  auto moved = ctx.deps.ledger->cards().ReplaceDigital(serial, "moved to a new device");
  if (!moved || !moved->is_new) return moved;
  ctx.metrics.CardIssued();
  ctx.card_status.MarkRevoked(serial, moved->year);
  ctx.card_status.RememberIssued(moved->serial, moved->year);
  auto old = ctx.deps.ledger->cards().FindCard(serial);
  if (ctx.deps.google_api && old && old->renewed_by.empty()) {
    auto patched = ctx.deps.google_api->PatchObject(passgen::ObjectId(ctx.deps.google, PassSerial(*old)),
                                                    R"({"state":"INACTIVE"})");
    if (!patched && patched.error().code != Code::kNotFound)  // never saved: nothing to take back
      ctx.Warn(req, "object of moved card " + std::string(serial) +
                        " not set INACTIVE (google sync repairs it): " + patched.error().message);
  }
  return moved;
}

Result<Card> FindTeacherCard(ServiceContext& ctx, std::string_view serial) {
  return NewestInWallet(ctx, serial);
}

}  // namespace lk::api::internal
