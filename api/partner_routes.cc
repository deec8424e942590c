// The partners' route: POST /v1/verify, a scanned token's verdict. The hot path of the service:
// the usual body is read without building a JSON document, revocation comes from memory, and
// the answer is written without nlohmann::json. JudgeScannedToken, the verdict itself, is shared
// with the desk page (desk_routes.cc).
#include <algorithm>

#include "api/internal/service_context.h"

namespace lk::api::internal {
namespace {
using json = nlohmann::json;

// `s` as a JSON string, as nlohmann::json dumps it (printable ASCII is copied; the rest, rare
// here, goes through nlohmann).
void AppendJsonString(std::string& out, std::string_view s) {
  if (std::all_of(s.begin(), s.end(),
                  [](char c) { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'; })) {
    out += '"';
    out += s;
    out += '"';
    return;
  }
  out += json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

int64_t PartnerId(std::string_view subject) {
  constexpr std::string_view kPrefix = "partner:";
  if (!subject.starts_with(kPrefix)) return 0;
  int64_t id = 0;
  for (char c : subject.substr(kPrefix.size())) {
    if (c < '0' || c > '9' || id > (int64_t{1} << 56)) return 0;
    id = id * 10 + (c - '0');
  }
  return id;
}

std::expected<ScanVerdict, Problem> JudgeScannedToken(ServiceContext& ctx, std::string_view token,
                                                      int64_t partner_id) {
  Time now = ctx.deps.clock->Now();
  signing::Verdict v;
  if (token.size() > signing::kMaxTokenBytes)
    v.reason = "too_large";
  else
    v = ctx.keys.load()->verifier->Verify(token, now);
  ScanVerdict out;
  out.status = "active";
  out.reason = v.reason;
  out.serial = v.serial;
  out.year = v.year;
  if (!v.valid) {
    out.status = v.reason == "expired" ? "expired" : "invalid";
  } else {
    int year = v.year.value_or(0);
    auto cached = ctx.card_status.Lookup(v.serial, year, ctx.deps.clock->Monotonic());
    bool revoked = cached == CardStatusCache::Status::kRevoked;
    if (!cached) {
      auto card = ctx.deps.ledger->cards().FindCard(v.serial);
      if (!card && card.error().code == Code::kNotFound) {
        out.status = "invalid";
        out.reason = "unknown_serial";
      } else if (!card) {
        return std::unexpected(Problem(card.error()));
      } else {
        revoked = card->revoked;
        if (revoked)
          ctx.card_status.MarkRevoked(card->serial, card->year);
        else
          ctx.card_status.RememberIssued(card->serial, card->year);
      }
    }
    if (revoked) {
      out.status = "revoked";
      out.reason = "revoked";
    }
  }
  out.outcome = scan::OutcomeForReason(out.reason);
  ctx.metrics.Verification(out.status == "active"    ? Metrics::Outcome::kActive
                           : out.status == "revoked" ? Metrics::Outcome::kRevoked
                           : out.status == "expired" ? Metrics::Outcome::kExpired
                                                     : Metrics::Outcome::kInvalid);
  if (partner_id > 0) ctx.tally.Count(partner_id, now, scan::OutcomeName(out.outcome));
  return out;
}

Reply VerifyToken(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  std::optional<json> parsed;
  std::optional<std::string_view> plain;
  if (req.body.size() <= ctx.options.max_json_bytes) plain = PlainVerifyToken(req.body);
  if (!plain) {
    auto body = ParseBody(req, ctx.options.max_json_bytes, kVerifyBody);
    if (!body) return std::unexpected(body.error());
    parsed = std::move(*body);
  }
  std::string_view token =
      plain ? *plain : std::string_view((*parsed)["token"].get_ref<const std::string&>());
  auto judged = JudgeScannedToken(ctx, token, PartnerId(req.subject));
  if (!judged) return std::unexpected(judged.error());
  const ScanVerdict& v = *judged;
  const std::string& status = v.status;
  const std::string& reason = v.reason;
  // The bytes nlohmann::json would write for {"valid", "status", "reason", "serial", "year"}
  // (members in name order, no spaces).
  std::string out = R"({"reason":)";
  AppendJsonString(out, reason);
  out += R"(,"serial":)";
  if (v.serial.empty())
    out += "null";
  else
    AppendJsonString(out, v.serial);
  out += R"(,"status":)";
  AppendJsonString(out, status);
  out += status == "active" ? R"(,"valid":true,"year":)" : R"(,"valid":false,"year":)";
  out += v.year ? std::to_string(*v.year) : "null";
  out += '}';
  res.status = 200;
  res.set_content(std::move(out), "application/json");
  res.set_header("Cache-Control", "no-store");
  return {};
}

}  // namespace lk::api::internal
