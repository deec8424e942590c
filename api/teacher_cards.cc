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

Result<Card> FindTeacherCard(ServiceContext& ctx, std::string_view serial) {
  return ctx.deps.ledger->cards().FindCard(serial);
}

}  // namespace lk::api::internal
