// Public routes: health, metrics, the OpenAPI description, the JWK Set and the signed revocation
// list. No credential; every answer is cacheable or tiny.
#include <cstdio>

#include "api/internal/service_context.h"

namespace lk::api::internal {
namespace {
using json = nlohmann::json;
}  // namespace

Reply Healthz(ServiceContext& ctx, HttpRequest&, HttpResponse& res) {
  WriteJson(res, {{"status", "ok"}, {"ledger", ctx.deps.ledger->backend()}});
  res.set_header("Cache-Control", "no-store");
  return {};
}

// Ready to serve: the ledger answers a read. Load balancers route around an instance that is not.
Reply Readyz(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  if (auto published = ctx.deps.ledger->counts().Published(); !published) {
    ctx.Warn(req, "not ready: " + published.error().message);
    return std::unexpected(Unavailable("the ledger cannot be read right now"));
  }
  WriteJson(res, {{"status", "ready"}, {"ledger", ctx.deps.ledger->backend()}});
  res.set_header("Cache-Control", "no-store");
  return {};
}

Reply MetricsText(ServiceContext& ctx, HttpRequest&, HttpResponse& res) {
  res.set_content(ctx.metrics.Render(), "text/plain; version=0.0.4; charset=utf-8");
  res.set_header("Cache-Control", "no-store");
  return {};
}

Reply OpenApi(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  AnswerCached(req, res, ctx.openapi, ctx.openapi_etag, "application/json", "public, max-age=3600");
  return {};
}

Reply Jwks(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  auto keys = ctx.keys.load();
  AnswerCached(req, res, keys->jwks, keys->jwks_etag, "application/jwk-set+json",
               "public, max-age=3600, must-revalidate");
  return {};
}

Reply Revocations(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  Time now = ctx.deps.clock->Now();
  auto years = ctx.ValidYears(now);
  auto snapshot = ctx.deps.ledger->cards().Revocations(years.front(), years.back());
  if (!snapshot) {
    // The ledger is out of reach: the list signed last is still the truth as of its iat, and
    // partners are better off with it (they see its age) than with nothing, until it expires.
    std::lock_guard lock(ctx.revocations_mu);
    if (ctx.revocations_jws.empty() ||
        now >= ctx.revocations_signed_at + ctx.options.revocation_list_lifetime)
      return std::unexpected(Problem(snapshot.error()));
    ctx.Warn(req, "serving the revocation list signed at " + FormatRfc3339(ctx.revocations_signed_at) +
                      ": the ledger cannot be read: " + snapshot.error().message);
    AnswerCached(req, res, ctx.revocations_jws, ctx.revocations_etag, "application/jwt",
                 "public, max-age=60");
    return {};
  }
  auto keys = ctx.keys.load();
  // What the list says apart from its times: a new signature is needed when this changes, or
  // when the signed one is an hour old (so a list fetched now is valid for most of its lifetime).
  std::string what = std::to_string(snapshot->sequence) + "/" + keys->revocation_signer->kid();
  for (int y : years) what += "/" + std::to_string(y);
  std::string jws, etag;
  {
    std::lock_guard lock(ctx.revocations_mu);
    if (ctx.revocations_for != what || now - ctx.revocations_signed_at >= std::chrono::hours(1)) {
      signing::RevocationList list{ctx.deps.policy.issuer, now,   now + ctx.options.revocation_list_lifetime,
                                   snapshot->sequence,     years, std::move(snapshot->revoked)};
      auto signed_list = keys->revocation_signer->Sign(list);
      if (!signed_list) return std::unexpected(Problem(signed_list.error()));
      ctx.revocations_for = what;
      ctx.revocations_jws = std::move(*signed_list);
      ctx.revocations_etag = "W/" + QuotedEtag(ctx.revocations_jws);
      ctx.revocations_signed_at = now;
    }
    jws = ctx.revocations_jws;
    etag = ctx.revocations_etag;
  }
  AnswerCached(req, res, jws, etag, "application/jwt", "public, max-age=60");
  return {};
}

std::vector<int> ServiceContext::ValidYears(Time now) const {
  int current = int(BrusselsDate(now).year());
  std::vector<int> years;
  for (int y : {current - 1, current, current + 1})
    if (signing::CardYearValidity(y, deps.policy).expires > now) years.push_back(y);
  return years;
}

void ServiceContext::RefreshRevoked() {
  Instant started = deps.clock->Monotonic();
  auto years = ValidYears(deps.clock->Now());
  auto revoked = deps.ledger->cards().RevokedSerials(years.front(), years.back());
  if (!revoked) {
    // Logged once per failure streak; scans fall back to the ledger after the staleness bound.
    if (!refresh_failing.exchange(true))
      std::fprintf(
          stderr, "{\"level\":\"error\",\"event\":\"revocation_refresh\",\"error\":%s}\n",
          json(revoked.error().message).dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    return;
  }
  refresh_failing = false;
  card_status.ReplaceRevoked(*revoked, years.front(), years.back(), started);
}

void ServiceContext::FlushTally() {
  if (!deps.ledger) return;
  auto counts = tally.Take();
  if (counts.empty()) return;
  if (auto r = deps.ledger->usage().Add(counts); !r) {
    tally.Restore(counts);  // tried again at the next flush
    std::fprintf(stderr, "{\"level\":\"error\",\"event\":\"usage_flush\",\"error\":%s}\n",
                 json(r.error().message).dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  }
}

void ServiceContext::Warn(const HttpRequest& req, std::string_view what) const {
  std::fprintf(stderr, "{\"level\":\"warning\",\"request_id\":%s,\"message\":%s}\n",
               json(req.id).dump().c_str(),
               json(std::string(what)).dump(-1, ' ', false, json::error_handler_t::replace).c_str());
}

}  // namespace lk::api::internal
