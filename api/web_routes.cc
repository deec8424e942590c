// The teacher's pages (web/ renders them): the welcome page, the claim form, the card with its
// QR code and wallet buttons, the pass and the Google link of the signed-in card, sign out, the
// stylesheet and the badge artwork. Every failure of a page route is a page (WritePageProblem).
//
// Signing in: a successful claim creates a TeacherSession and sets `lk_session` (HttpOnly,
// SameSite=Lax, Secure when the public URL is https) holding only the session's random id.
// CSRF: the claim form is a double submit (a random `lk_csrf` cookie, SameSite=Strict, and the
// same value in a hidden field); sign out carries the session's own token; and any POST a
// browser marks `Sec-Fetch-Site: cross-site` is refused.
#include <boost/url/parse.hpp>
#include <cctype>
#include <filesystem>

#include "api/internal/teacher_cards.h"

namespace lk::api::internal {
namespace {

constexpr std::string_view kSessionCookie = "lk_session", kCsrfCookie = "lk_csrf", kLangCookie = "lang";
constexpr const char* kPageCsp =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'";

bool Https(const ServiceContext& ctx) { return ctx.base_url.starts_with("https://"); }

std::string Cookie(const ServiceContext& ctx, std::string_view name, std::string_view value,
                   std::string_view attrs) {
  return std::string(name) + "=" + std::string(value) + "; Path=/; " + std::string(attrs) +
         (Https(ctx) ? "; Secure" : "");
}

// The page language; an explicit ?lang= is remembered in the `lang` cookie for a year.
web::Lang PageLang(const ServiceContext& ctx, const HttpRequest& req, HttpResponse& res) {
  if (auto asked = web::ParseLang(req.param("lang").value_or(""))) {
    res.headers.emplace_back(
        "Set-Cookie", Cookie(ctx, kLangCookie, web::LangCode(*asked), "Max-Age=31536000; SameSite=Lax"));
    return *asked;
  }
  return web::NegotiateLang(CookieValue(req, kLangCookie), req.header("Accept-Language"));
}

// Renders `page` with `status`; `values.text["switch"]` is the language links' prefix.
Reply Page(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, std::string_view page,
           web::Lang lang, web::Values values, int status = 200) {
  if (!values.text.contains("switch")) values.text["switch"] = req.path + "?";
  auto html = ctx.site->Render(page, lang, values);
  if (!html) return std::unexpected(Problem(html.error()));
  res.status = status;
  res.set_content(std::move(*html), "text/html; charset=utf-8");
  res.set_header("Cache-Control", "no-store");
  res.set_header("Vary", "Accept-Language, Cookie");
  res.set_header("Content-Security-Policy", kPageCsp);
  return {};
}

void Redirect(HttpResponse& res, std::string location) {
  res.status = 303;
  res.set_header("Location", std::move(location));
  res.set_header("Cache-Control", "no-store");
}

// The session of this device, if it has a live one (with its id).
std::optional<std::pair<std::string, TeacherSession>> SessionOf(ServiceContext& ctx, const HttpRequest& req) {
  std::string id = CookieValue(req, kSessionCookie);
  if (id.empty()) return std::nullopt;
  auto s = ctx.sessions->Find(id);
  if (!s) return std::nullopt;
  return std::pair{id, std::move(*s)};
}

// The fields of an application/x-www-form-urlencoded body ('+' is a space), first value wins.
std::map<std::string, std::string> FormFields(std::string_view body) {
  std::map<std::string, std::string> out;
  std::string target = "/?" + std::string(body);
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return out;
  for (auto p : url->params(boost::urls::encoding_opts(/*space_as_plus=*/true))) out.emplace(p.key, p.value);
  return out;
}

// `s` percent-encoded for a query value (unreserved characters kept).
std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += {'%', kHex[c >> 4], kHex[c & 15]};
  }
  return out;
}

bool CrossSite(const HttpRequest& req) { return req.header("Sec-Fetch-Site") == "cross-site"; }

// The claim form, with `code` prefilled and `error` (a strings key) shown when set.
Reply ClaimForm(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, web::Lang lang,
                const std::string& code, std::string_view error, int status) {
  std::string csrf = CookieValue(req, kCsrfCookie);
  if (csrf.size() < 16 || csrf.size() > 64) {
    csrf = Base64UrlEncode(RandomBytes(24));
    res.headers.emplace_back("Set-Cookie", Cookie(ctx, kCsrfCookie, csrf, "HttpOnly; SameSite=Strict"));
  }
  web::Values v;
  v.text["code"] = code;
  v.text["csrf"] = csrf;
  v.text["switch"] = code.empty() || code.size() > 64 ? "/claim?" : "/claim?code=" + QueryEscape(code) + "&";
  if (!error.empty()) {
    v.flags.insert("error");
    v.text["error_text"] = ctx.site->Text(lang, error);
  }
  return Page(ctx, req, res, "claim", lang, std::move(v), status);
}

// The signed-in card, or a redirect to / (and the session ended when its card is gone).
std::optional<Card> SignedInCard(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res,
                                 Reply& failure, TeacherSession* session = nullptr) {
  auto s = SessionOf(ctx, req);
  if (!s) {
    Redirect(res, "/");
    return std::nullopt;
  }
  auto card = StoredCardWithToken(ctx, s->second.serial);
  if (!card) {
    if (card.error().code == Code::kNotFound) {
      ctx.sessions->End(s->first);
      Redirect(res, "/");
    } else {
      failure = std::unexpected(Problem(card.error()));
    }
    return std::nullopt;
  }
  if (session) *session = s->second;
  return std::move(*card);
}

}  // namespace

Result<> InitPages(ServiceContext& ctx) {
  auto site = web::Site::Load();
  if (!site) return std::unexpected(site.error());
  ctx.site = std::move(*site);
  ctx.sessions = NewInMemoryTeacherSessions(*ctx.deps.clock, ctx.options.teacher_session_lifetime);
  auto load = [](const std::string& file, ServiceContext::Badge& badge, const char* key) -> Result<> {
    if (file.empty()) return {};
    auto bytes = ReadFile(file);
    if (!bytes) return Fail(Code::kInvalidArgument, std::string(key) + ": " + bytes.error().message);
    std::string ext = std::filesystem::path(file).extension().string();
    if (ext == ".svg")
      badge.type = "image/svg+xml";
    else if (ext == ".png")
      badge.type = "image/png";
    else
      return Fail(Code::kInvalidArgument, std::string(key) + ": '" + file + "' must be an .svg or .png file");
    badge.bytes = std::move(*bytes);
    badge.etag = QuotedEtag(badge.bytes);
    return {};
  };
  if (auto r = load(ctx.options.apple_badge_file, ctx.apple_badge, "[web] apple_badge"); !r) return r;
  return load(ctx.options.google_badge_file, ctx.google_badge, "[web] google_badge");
}

bool WantsPage(const HttpRequest& req) {
  if (req.route >= 0) return RouteTable()[req.route].page;
  if (req.method != "GET" && req.method != "HEAD") return false;
  return req.path != "/v1" && !req.path.starts_with("/v1/") && !req.path.starts_with("/.well-known/");
}

void WritePageProblem(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, const Problem& p) {
  int status = p.status ? p.status : StatusFor(p.error.code);
  if (status >= 500) ctx.Warn(req, p.error.message);
  web::Lang lang = web::NegotiateLang(CookieValue(req, kLangCookie), req.header("Accept-Language"));
  web::Values v;
  std::string_view page = "error";
  if (status == 404)
    page = "not_found";
  else if (status == 429)
    v.text["detail"] = ctx.site->Text(lang, "error.busy");
  else if (status == 401)  // the console's uploads, refused before their body is read
    v.text["detail"] = ctx.site->Text(lang, "console.error.signed_out");
  else if (status == 413)
    v.text["detail"] = ctx.site->Text(lang, "error.too_large");
  else if (status >= 500)
    v.text["detail"] = ctx.site->Text(lang, "error.unavailable");
  else
    v.text["detail"] = ctx.site->Text(lang, "error.wallet");
  if (p.retry_after > 0) res.set_header("Retry-After", std::to_string(p.retry_after));
  if (!ctx.site || !Page(ctx, req, res, page, lang, std::move(v), status)) {
    res.status = status;
    res.set_content("", "text/plain; charset=utf-8");
  }
}

Reply HomePage(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  if (SessionOf(ctx, req)) {
    Redirect(res, "/card");
    return {};
  }
  return Page(ctx, req, res, "home", lang, {});
}

Reply ClaimPage(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  std::string code = req.param("code").value_or("");
  if (code.size() > 64) code.clear();
  return ClaimForm(ctx, req, res, lang, code, "", 200);
}

Reply ClaimSubmit(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  auto form = FormFields(req.body);
  std::string code = form["code"].substr(0, 64), csrf = form["csrf"], cookie = CookieValue(req, kCsrfCookie);
  if (CrossSite(req) || cookie.empty() || !ConstantTimeEqual(cookie, csrf))
    return ClaimForm(ctx, req, res, lang, code, "claim.error.form", 403);
  if (Trim(code).empty()) return ClaimForm(ctx, req, res, lang, code, "claim.error.empty", 400);
  auto card = RedeemClaim(ctx, code);
  if (!card) {
    switch (card.error().code) {
      case Code::kNotFound:
        return ClaimForm(ctx, req, res, lang, code, "claim.error.unknown", 404);
      case Code::kInvalidArgument:
        return ClaimForm(ctx, req, res, lang, code, "claim.error.unknown", 400);
      case Code::kFailedPrecondition:
        return ClaimForm(ctx, req, res, lang, code, "claim.error.spent", 410);
      default:
        return std::unexpected(Problem(card.error()));
    }
  }
  if (card->is_new) ctx.metrics.CardIssued();
  // A session that signed in before (another card, or this one) is replaced.
  if (auto old = SessionOf(ctx, req)) ctx.sessions->End(old->first);
  std::string id = ctx.sessions->Create(card->serial);
  res.headers.emplace_back("Set-Cookie",
                           Cookie(ctx, kSessionCookie, id,
                                  "Max-Age=" + std::to_string(ctx.options.teacher_session_lifetime.count()) +
                                      "; HttpOnly; SameSite=Lax"));
  Redirect(res, "/card");
  return {};
}

Reply CardPage(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  Reply failure;
  TeacherSession session;
  auto card = SignedInCard(ctx, req, res, failure, &session);
  if (!card) return failure;
  auto qr = web::QrSvg(card->token, ctx.site->Text(lang, "card.qr_label"));
  if (!qr) return std::unexpected(Problem(qr.error()));
  web::Values v;
  v.text["name"] = card->holder_name.empty() ? "—" : card->holder_name;
  v.text["school"] = card->school.empty() ? "—" : card->school;
  v.text["year"] = std::to_string(card->year);
  v.text["csrf"] = session.csrf;
  v.markup["qr"] = std::move(*qr);
  if (card->revoked) v.flags.insert("revoked");
  if (ctx.google_configured()) v.flags.insert("google");
  if (!ctx.apple_badge.bytes.empty()) v.flags.insert("apple_badge");
  if (!ctx.google_badge.bytes.empty()) v.flags.insert("google_badge");
  return Page(ctx, req, res, "card", lang, std::move(v));
}

Reply CardPass(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  Reply failure;
  auto card = SignedInCard(ctx, req, res, failure);
  if (!card) return failure;
  return AnswerApplePass(ctx, req, res, *card);
}

Reply CardGoogle(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  if (!ctx.google_configured())
    return std::unexpected(Problem(Error{Code::kNotFound, "Google Wallet is not configured"}));
  Reply failure;
  auto card = SignedInCard(ctx, req, res, failure);
  if (!card) return failure;
  auto r = AnswerGoogleLink(ctx, req, res, *card);
  if (r) {  // a browser follows the Location; the JSON body is for API clients
    res.status = 303;
    res.set_content("", "text/plain; charset=utf-8");
  }
  return r;
}

Reply SignOut(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  auto s = SessionOf(ctx, req);
  if (!s) {
    Redirect(res, "/");
    return {};
  }
  auto form = FormFields(req.body);
  if (CrossSite(req) || !ConstantTimeEqual(form["csrf"], s->second.csrf))
    return std::unexpected(
        Problem(Error{Code::kPermissionDenied, "the sign-out form is not this session's"}, "csrf", 403));
  ctx.sessions->End(s->first);
  res.headers.emplace_back("Set-Cookie",
                           Cookie(ctx, kSessionCookie, "", "Max-Age=0; HttpOnly; SameSite=Lax"));
  Redirect(res, "/");
  return {};
}

Reply Stylesheet(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  std::string css(ctx.site->Stylesheet());
  AnswerCached(req, res, css, QuotedEtag(css), "text/css; charset=utf-8", "public, max-age=3600");
  return {};
}

Reply BadgeImage(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  const std::string& which = req.params.at(0);
  const ServiceContext::Badge* b = which == "apple"    ? &ctx.apple_badge
                                   : which == "google" ? &ctx.google_badge
                                                       : nullptr;
  if (!b || b->bytes.empty())
    return std::unexpected(Problem(Error{Code::kNotFound, "no badge '" + which + "'"}));
  AnswerCached(req, res, b->bytes, b->etag, b->type, "public, max-age=86400");
  return {};
}

}  // namespace lk::api::internal
