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
  AnswerCached(req, res, keys->jwks, keys->jwks_etag, "application/jwk-set+json", "public, max-age=3600, must-revalidate");
  return {};
}

Reply Revocations(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  auto years = ctx.ValidYears(ctx.deps.clock->Now());
  auto revoked = ctx.deps.ledger->RevokedSerials(years.front(), years.back());
  if (!revoked) return std::unexpected(Problem(revoked.error()));
  json by_year = json::object();
  for (int y : years) by_year[std::to_string(y)] = json::array();
  for (auto& [serial, year] : *revoked) by_year[std::to_string(year)].push_back(serial);
  json payload = {{"iss", ctx.deps.policy.issuer}, {"typ", "revocations"}, {"years", years}, {"revoked", by_year}};
  std::string text = payload.dump();
  // Weak: ECDSA signatures are randomised, so equal lists may have different bytes.
  auto keys = ctx.keys.load();
  std::string etag = "W/" + QuotedEtag(text + keys->issuer->kid());
  res.set_header("ETag", etag);
  res.set_header("Cache-Control", "public, max-age=60");
  if (EtagMatches(req, etag)) {
    res.status = 304;
    return {};
  }
  std::string jws;
  {
    std::lock_guard lock(ctx.revocations_mu);
    if (ctx.revocations_etag != etag) {
      auto signed_doc = keys->revocation_signer->Sign(text, "lk-revocations+jwt");
      if (!signed_doc) return std::unexpected(Problem(signed_doc.error()));
      ctx.revocations_etag = etag;
      ctx.revocations_jws = std::move(*signed_doc);
    }
    jws = ctx.revocations_jws;
  }
  res.set_content(std::move(jws), "application/jwt");
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
  auto started = std::chrono::steady_clock::now();
  auto years = ValidYears(deps.clock->Now());
  auto revoked = deps.ledger->RevokedSerials(years.front(), years.back());
  if (!revoked) {
    // Logged once per failure streak; scans fall back to the ledger after the staleness bound.
    if (!refresh_failing.exchange(true))
      std::fprintf(stderr, "{\"level\":\"error\",\"event\":\"revocation_refresh\",\"error\":%s}\n",
                   json(revoked.error().message).dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    return;
  }
  refresh_failing = false;
  card_status.ReplaceRevoked(*revoked, years.front(), years.back(), started);
}

void ServiceContext::Warn(const HttpRequest& req, std::string_view what) const {
  std::fprintf(stderr, "{\"level\":\"warning\",\"request_id\":%s,\"message\":%s}\n",
               json(req.id).dump().c_str(),
               json(std::string(what)).dump(-1, ' ', false, json::error_handler_t::replace).c_str());
}

}  // namespace lk::api::internal
