// The teacher's side's calls into the ledger (see internal/teacher_cards.h).
#include "api/internal/teacher_cards.h"

namespace lk::api::internal {

Result<Card> StoredCardWithToken(ServiceContext& ctx, std::string_view serial) {
  auto record = ctx.deps.ledger->cards().FindCard(serial);
  if (!record || !record->token.empty()) return record;
  Time now = ctx.deps.clock->Now();
  auto fresh = ctx.keys.load()->issuer->Issue(std::string(serial), record->year, now);
  if (!fresh) return std::unexpected(fresh.error());
  return ctx.deps.ledger->cards().AttachToken(serial, *fresh, now);  // first writer wins
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
  if (ctx.deps.google_api) {
    auto patched = ctx.deps.google_api->PatchObject(passgen::ObjectId(ctx.deps.google, std::string(serial)),
                                                    R"({"state":"INACTIVE"})");
    if (!patched && patched.error().code != Code::kNotFound)  // never saved: nothing to take back
      ctx.Warn(req, "object of moved card " + std::string(serial) +
                        " not set INACTIVE (google sync repairs it): " + patched.error().message);
  }
  return moved;
}

Result<Card> FindTeacherCard(ServiceContext& ctx, std::string_view serial) {
  return ctx.deps.ledger->cards().FindCard(serial);
}

}  // namespace lk::api::internal
