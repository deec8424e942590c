// Teachers' routes: redeem a claim code for a card, download its Apple pass, follow its Google
// Wallet link. A card's routes take the card's own access token (from the claim answer).
#include "api/internal/teacher_cards.h"
#include "passgen/passgen.h"

namespace lk::api::internal {
namespace {
using json = nlohmann::json;

Result<Card> CardWithAccess(ServiceContext& ctx, const HttpRequest& req, const std::string& serial) {
  std::string token = BearerToken(req);
  if (token.empty())
    return Fail(Code::kUnauthenticated, "send the card's access token in 'Authorization: Bearer ...'");
  auto card = FindTeacherCard(ctx, serial);
  // An unknown serial and a wrong token look the same, so serials cannot be probed.
  if (!card && card.error().code != Code::kNotFound) return card;
  if (!card || card->auth_token.empty() || !ConstantTimeEqual(card->auth_token, token))
    return Fail(Code::kUnauthenticated, "the access token is not valid for this card");
  return card;
}

// Google's answers reach the teacher as a gateway problem, never as their own bad request; what
// Google said is logged, not shown.
Problem GoogleError(const Error& e) {
  Problem p(Error{Code::kUnavailable, "Google Wallet API: " + e.message});
  p.public_detail = "Google Wallet cannot be reached right now; try again in a moment";
  return p;
}

bool GoogleClassReady(ServiceContext& ctx, int year) {
  std::lock_guard lock(ctx.google_mu);
  return ctx.google_class_years.contains(year);
}

}  // namespace

Reply CardAnswer(ServiceContext& ctx, HttpResponse& res, const ledger::IssuedCard& card) {
  // Counted once the ledger has it, whether or not the rest of this answer succeeds (a retry
  // finds the card already issued).
  if (card.is_new) ctx.metrics.CardIssued();
  auto record = StoredCardWithToken(ctx, card.serial);
  if (!record) {
    // A token the signer cannot issue (a card year it refuses) names the year.
    if (record.error().code == Code::kInvalidArgument)
      return std::unexpected(Problem(record.error(), "year"));
    return std::unexpected(Problem(record.error()));
  }
  const std::string& token = record->token;
  std::string base = "/v1/cards/" + card.serial;
  WriteJson(res,
            {{"serial", card.serial},
             {"year", card.year},
             {"status", record->revoked ? "revoked" : "active"},
             {"token", token},
             {"access_token", card.auth_token},
             {"pass_url", base + "/pass.pkpass"},
             {"google_url", base + "/google"}},
            card.is_new ? 201 : 200);
  res.set_header("Cache-Control", "no-store");
  return {};
}

Reply ClaimCard(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  auto body = ParseBody(req, ctx.options.max_json_bytes, kClaimBody);
  if (!body) return std::unexpected(body.error());
  auto card = RedeemClaim(ctx, (*body)["claim_code"].get<std::string>());
  if (!card) {
    Problem p(card.error(), "claim_code");
    if (card.error().code == Code::kFailedPrecondition) p.status = 410;
    return std::unexpected(p);
  }
  return CardAnswer(ctx, res, *card);
}

Reply ApplePass(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  const std::string& serial = req.params.at(0);
  auto card = CardWithAccess(ctx, req, serial);
  if (!card) return std::unexpected(Problem(card.error(), "Authorization"));
  return AnswerApplePass(ctx, req, res, *card);
}

Reply AnswerApplePass(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, const Card& card_in) {
  const Card* card = &card_in;
  if (!ctx.deps.build_pass)
    return std::unexpected(Unavailable("Apple Wallet passes are not configured on this service"));
  if (card->token.empty() || !card->token_at)
    return std::unexpected(
        Problem(Error{Code::kFailedPrecondition, "the card has no QR token yet; claim it first"}));
  // Everything the bytes depend on: a strong validator for a deterministic build. The public URL
  // too: by default the pass's webServiceURL is derived from it.
  std::string etag = QuotedEtag(ctx.base_url + "\n" + card->serial + "\n" + std::to_string(card->update_tag) +
                                "\n" + card->token + "\n" + card->holder_name + "\n" + card->school + "\n" +
                                (card->revoked ? "void" : "ok"));
  res.set_header("ETag", etag);
  res.set_header("Cache-Control",
                 "private, max-age=" + std::to_string(ctx.options.pass_cache_max_age.count()));
  if (EtagMatches(req, etag)) {
    res.status = 304;
    return {};
  }
  auto bytes = ctx.passes.Get(etag);
  if (!bytes) {
    auto built = ctx.deps.build_pass(passgen::ShownCard(*card), *card->token_at);
    if (!built) return std::unexpected(Problem(built.error()));
    bytes = std::make_shared<const std::string>(std::move(*built));
    ctx.passes.Put(etag, bytes);
  }
  res.set_content(*bytes, "application/vnd.apple.pkpass");
  res.set_header("Content-Disposition", "attachment; filename=\"lerarenkaart-" + card->serial + ".pkpass\"");
  return {};
}

Reply GoogleLink(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  const std::string& serial = req.params.at(0);
  auto card = CardWithAccess(ctx, req, serial);
  if (!card) return std::unexpected(Problem(card.error(), "Authorization"));
  return AnswerGoogleLink(ctx, req, res, *card);
}

Reply AnswerGoogleLink(ServiceContext& ctx, const HttpRequest&, HttpResponse& res, const Card& card_in) {
  const Card* card = &card_in;
  const std::string& serial = card->serial;
  if (!ctx.deps.google_account || ctx.deps.google.issuer_id.empty())
    return std::unexpected(Unavailable("Google Wallet is not configured on this service (google.issuer_id)"));
  if (card->revoked)
    return std::unexpected(Problem(Error{Code::kFailedPrecondition, "card " + serial + " is revoked"}));
  Time now = ctx.deps.clock->Now();
  if (ctx.deps.google_api) {
    // Create (or bring up to date) the object the skinny link names; the class once per year.
    Card gc = passgen::ShownCard(*card);
    gc.revoked = false;
    if (!GoogleClassReady(ctx, card->year)) {
      auto cls =
          passgen::UpsertClass(*ctx.deps.google_api, ctx.deps.google, ctx.deps.google_design, card->year);
      if (!cls) return std::unexpected(Problem(GoogleError(cls.error())));
      std::lock_guard lock(ctx.google_mu);
      ctx.google_class_years.insert(card->year);
    }
    auto keys = ctx.keys.load();
    auto synced = passgen::SyncCard(*ctx.deps.google_api, ctx.deps.google, ctx.deps.google_design,
                                    *keys->issuer, *keys->verifier, ctx.deps.policy, gc, now);
    if (!synced) return std::unexpected(Problem(GoogleError(synced.error())));
    if (*synced == passgen::CardOutcome::kSkipped)  // the card year is over: nothing to save
      return std::unexpected(Problem(Error{Code::kFailedPrecondition, "card " + serial + " has expired"}));
  }
  auto link = passgen::SkinnySaveLink(*ctx.deps.google_account, ctx.deps.google, PassSerial(*card), now);
  if (!link) return std::unexpected(Problem(link.error()));
  WriteJson(res, {{"location", *link}}, 302);
  res.set_header("Location", *link);
  res.set_header("Cache-Control", "no-store");
  return {};
}

}  // namespace lk::api::internal
