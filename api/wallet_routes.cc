// Apple's pass web service (docs/wallet-service.md): devices register for a pass's updates, ask
// which passes changed since their tag, fetch the latest pass, unregister, and send their logs.
// The pass routes take "Authorization: ApplePass <authenticationToken>", the card's own secret,
// compared in constant time; an unknown serial and a wrong token answer the same 401. The
// changed-since route has no credential (Apple's design: the device library identifier, known
// to the device alone, is the secret) and answers only serials and a tag.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "api/internal/teacher_cards.h"
#include "passgen/passgen.h"

namespace lk::api::internal {
namespace {
using json = nlohmann::json;

constexpr size_t kMaxLogEntries = 20, kMaxLogEntryBytes = 1000;
inline constexpr FieldSpec kRegisterBody[] = {{"pushToken", FieldType::kString, true}};

// "ApplePass <token>" (scheme case-insensitive), or "".
std::string ApplePassToken(const HttpRequest& req) {
  std::string_view h = req.header("Authorization");
  constexpr std::string_view kScheme = "applepass ";
  if (h.size() <= kScheme.size()) return "";
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(h[i])) != kScheme[i]) return "";
  return std::string(Trim(h.substr(kScheme.size())));
}

Reply CheckPassType(const ServiceContext& ctx, const std::string& pass_type) {
  if (ctx.deps.pass_type_identifier.empty())
    return std::unexpected(Unavailable("Apple Wallet passes are not configured on this service"));
  if (pass_type != ctx.deps.pass_type_identifier)
    return std::unexpected(Problem(
        Error{Code::kNotFound, "this service serves passes of type " + ctx.deps.pass_type_identifier}));
  return {};
}

// The digital card `serial` when the request carries its authenticationToken; 401 otherwise.
std::expected<Card, Problem> PassCard(ServiceContext& ctx, const HttpRequest& req,
                                      const std::string& serial) {
  std::string token = ApplePassToken(req);
  if (token.empty())
    return std::unexpected(
        Problem(Error{Code::kUnauthenticated,
                      "send the pass's authenticationToken in 'Authorization: ApplePass ...'"},
                "Authorization"));
  auto card = FindTeacherCard(ctx, serial);
  if (!card && card.error().code != Code::kNotFound) return std::unexpected(Problem(card.error()));
  if (!card || card->channel != Channel::kDigital || card->auth_token.empty() ||
      !ConstantTimeEqual(card->auth_token, token))
    return std::unexpected(
        Problem(Error{Code::kUnauthenticated, "the authenticationToken is not valid for this pass"},
                "Authorization"));
  return *card;
}

// IMF-fixdate (RFC 9110 5.6.7), the only form we send; nullopt for anything else.
std::optional<Time> ParseHttpDate(std::string_view s) {
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (s.size() != 29 || s.substr(3, 2) != ", " || s.substr(25) != " GMT") return std::nullopt;
  auto num = [&](size_t pos, size_t n) -> int {
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  size_t month = kMonths.find(s.substr(8, 3));
  int day = num(5, 2), year = num(12, 4), h = num(17, 2), m = num(20, 2), sec = num(23, 2);
  if (month == std::string_view::npos || month % 3 || day < 1 || year < 1970 || h < 0 || h > 23 || m < 0 ||
      m > 59 || sec < 0 || sec > 60 || s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[7] != ' ' ||
      s[11] != ' ')
    return std::nullopt;
  std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(unsigned(month / 3 + 1)),
                                  std::chrono::day(unsigned(day))};
  if (!ymd.ok()) return std::nullopt;
  return Time(std::chrono::sys_days(ymd).time_since_epoch() + std::chrono::hours(h) +
              std::chrono::minutes(m) + std::chrono::seconds(std::min(sec, 59)));
}

std::string FormatHttpDate(Time t) {
  std::time_t tt = static_cast<std::time_t>(t.time_since_epoch().count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

std::string LowerHex(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void NoContent(HttpResponse& res, int status) {
  res.status = status;
  res.body.clear();
  res.set_header("Cache-Control", "no-store");
}

}  // namespace

void NormalizeWalletPath(const ServiceContext& ctx, std::vector<std::string>& segments) {
  // Skip empty segments anywhere in a wallet path: clients join the base URL and "/v1/..."
  // without looking at the trailing slash (KDE's pass reader sends .../wallet//v1/...).
  std::vector<std::string> parts;
  parts.reserve(segments.size());
  for (const std::string& s : segments)
    if (!s.empty()) parts.push_back(s);
  const auto& prefix = ctx.wallet_prefix;
  if (parts.size() < prefix.size() + 2 || !std::equal(prefix.begin(), prefix.end(), parts.begin())) return;
  const std::string& v1 = parts[prefix.size()];
  const std::string& what = parts[prefix.size() + 1];
  if (v1 != "v1" || (what != "devices" && what != "passes" && what != "log")) return;
  std::vector<std::string> out = {"wallet"};
  out.insert(out.end(), parts.begin() + static_cast<std::ptrdiff_t>(prefix.size()), parts.end());
  segments = std::move(out);
}

Reply RegisterDevice(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  const std::string &device = req.params.at(0), &pass_type = req.params.at(1), &serial = req.params.at(2);
  if (auto r = CheckPassType(ctx, pass_type); !r) return r;
  auto card = PassCard(ctx, req, serial);
  if (!card) return std::unexpected(card.error());
  auto body = ParseBody(req, ctx.options.max_json_bytes, kRegisterBody);
  if (!body) return std::unexpected(body.error());
  const std::string& token = (*body)["pushToken"].get_ref<const std::string&>();
  if (!push::IsValidPushToken(token))
    return Bad("pushToken", "pushToken must be the device's push token: 32 to 200 hexadecimal digits");
  auto created = ctx.deps.ledger->pass_updates().Register(device, LowerHex(token), serial);
  if (!created) return std::unexpected(Problem(created.error(), "serialNumber"));
  NoContent(res, *created ? 201 : 200);
  return {};
}

Reply UnregisterDevice(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  const std::string &device = req.params.at(0), &pass_type = req.params.at(1), &serial = req.params.at(2);
  if (auto r = CheckPassType(ctx, pass_type); !r) return r;
  auto card = PassCard(ctx, req, serial);
  if (!card) return std::unexpected(card.error());
  auto removed = ctx.deps.ledger->pass_updates().Unregister(device, serial);
  if (!removed) return std::unexpected(Problem(removed.error()));
  NoContent(res, 200);
  return {};
}

Reply UpdatedPasses(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  const std::string &device = req.params.at(0), &pass_type = req.params.at(1);
  std::optional<int64_t> since;
  if (auto tag = req.param("passesUpdatedSince"); tag && !tag->empty()) {
    if (tag->size() > 18 || tag->find_first_not_of("0123456789") != std::string::npos)
      return Bad("passesUpdatedSince", "passesUpdatedSince must be a tag this service gave (digits), not '" +
                                           tag->substr(0, 40) + "'");
    since = std::stoll(*tag);
  }
  if (ctx.deps.pass_type_identifier.empty())
    return std::unexpected(Unavailable("Apple Wallet passes are not configured on this service"));
  if (pass_type != ctx.deps.pass_type_identifier) {
    NoContent(res, 204);
    return {};
  }
  auto updated = ctx.deps.ledger->pass_updates().UpdatedSince(device, since);
  if (!updated) return std::unexpected(Problem(updated.error()));
  if (updated->serials.empty()) {
    NoContent(res, 204);
    return {};
  }
  // lastUpdated must be a JSON string: a number silently stops a device's updates.
  WriteJson(res,
            {{"serialNumbers", updated->serials}, {"lastUpdated", std::to_string(updated->last_updated)}});
  res.set_header("Cache-Control", "no-store");
  return {};
}

Reply LatestPass(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  const std::string &pass_type = req.params.at(0), &serial = req.params.at(1);
  if (auto r = CheckPassType(ctx, pass_type); !r) return r;
  auto checked = PassCard(ctx, req, serial);
  if (!checked) return std::unexpected(checked.error());
  if (!ctx.deps.build_pass)
    return std::unexpected(Unavailable("Apple Wallet passes are not configured on this service"));
  auto stored = StoredCardWithToken(ctx, serial);
  if (!stored) return std::unexpected(Problem(stored.error()));
  const Card& card = *stored;
  if (card.token.empty() || !card.token_at)
    return std::unexpected(Problem(Error{Code::kFailedPrecondition, "the card has no QR token yet"}));
  // Last-Modified has whole seconds: it is sent only once its second is over, so a change made
  // later always has a later Last-Modified (else a change in the same second as a download
  // would answer that device 304 for good). The ETag covers everything the bytes depend on.
  auto changed = ctx.deps.ledger->pass_updates().ChangedAt(card.update_tag);
  if (!changed) return std::unexpected(Problem(changed.error()));
  const Time now = ctx.deps.clock->Now();
  const bool dated =
      std::chrono::floor<std::chrono::seconds>(*changed) < std::chrono::floor<std::chrono::seconds>(now);
  std::string etag = QuotedEtag(ctx.base_url + "\n" + card.serial + "\n" + std::to_string(card.update_tag) +
                                "\n" + card.token + "\n" + card.holder_name + "\n" + card.school + "\n" +
                                (card.revoked ? "void" : "ok"));
  res.set_header("ETag", etag);
  res.set_header("Cache-Control", "no-cache");
  if (dated) res.set_header("Last-Modified", FormatHttpDate(*changed));
  bool fresh = false;
  if (std::string_view inm = req.header("If-None-Match"); !inm.empty())
    fresh = EtagMatches(req, etag);  // If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
  else if (auto ims = ParseHttpDate(req.header("If-Modified-Since")); ims && dated)
    fresh = *changed <= *ims;
  if (fresh) {
    res.status = 304;
    return {};
  }
  auto bytes = ctx.passes.Get(etag);
  if (!bytes) {
    auto built = ctx.deps.build_pass(passgen::ShownCard(card), *card.token_at);
    if (!built) return std::unexpected(Problem(built.error()));
    bytes = std::make_shared<const std::string>(std::move(*built));
    ctx.passes.Put(etag, bytes);
  }
  res.set_content(*bytes, "application/vnd.apple.pkpass");
  return {};
}

Reply WalletLog(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  if (req.body.size() > ctx.options.max_json_bytes)
    return std::unexpected(Problem(Error{Code::kResourceExhausted, "the log body is too large"}, "", 413));
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("logs") || !body["logs"].is_array())
    return Bad("logs", "the body must be a JSON object {\"logs\": [\"...\", ...]}");
  const json& logs = body["logs"];
  size_t shown = 0;
  for (const json& entry : logs) {
    if (!entry.is_string()) return Bad("logs", "every entry of 'logs' must be a string");
    if (shown++ >= kMaxLogEntries) continue;
    std::string text = entry.get<std::string>();
    if (text.size() > kMaxLogEntryBytes) text.resize(kMaxLogEntryBytes);
    // Device text is hostile: logged as a JSON string (escaped, invalid UTF-8 replaced), capped.
    std::fprintf(
        stderr, "{\"level\":\"info\",\"event\":\"wallet_device_log\",\"request_id\":%s,\"log\":%s}\n",
        json(req.id).dump().c_str(), json(text).dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  }
  if (logs.size() > kMaxLogEntries)
    ctx.Warn(req, std::to_string(logs.size() - kMaxLogEntries) + " more device log entries not logged");
  NoContent(res, 200);
  return {};
}

}  // namespace lk::api::internal
