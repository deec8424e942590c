// The teacher's pages (web/ renders them): the welcome page, the claim form, the card with its
// QR code and wallet buttons, the pass and the Google link of the signed-in card, moving the card
// to a new phone, sign out, the
// stylesheet and the badge artwork. Every failure of a page route is a page (WritePageProblem).
//
// Signing in: a successful claim creates a TeacherSession and sets `lk_session` (HttpOnly,
// SameSite=Lax, Secure when the public URL is https) holding only the session's random id.
// CSRF: the claim form is a double submit (a random `lk_csrf` cookie, SameSite=Strict, and the
// same value in a hidden field); sign out and moving the card carry the session's own token; and
// any POST a browser marks `Sec-Fetch-Site: cross-site` is refused.
//
// Moving the card (lost or new phone): GET /card/move asks for confirmation, POST /card/move
// revokes the card and issues its replacement (MoveCard), and the session follows the card.
#include <boost/url/parse.hpp>
#include <cctype>
#include <cstdio>
#include <filesystem>

#include "api/internal/pages.h"
#include "api/internal/teacher_cards.h"
#include "mail/claim_mail.h"
#include "mail/signin_mail.h"

namespace lk::api::internal {
namespace {

constexpr int kMaxMovesPerSession = 5;
constexpr std::string_view kSessionCookie = "lk_session", kCsrfCookie = "lk_csrf", kLangCookie = "lang";
}  // namespace

bool Https(const ServiceContext& ctx) { return ctx.base_url.starts_with("https://"); }

std::string Cookie(const ServiceContext& ctx, std::string_view name, std::string_view value,
                   std::string_view attrs) {
  return std::string(name) + "=" + std::string(value) + "; Path=/; " + std::string(attrs) +
         (Https(ctx) ? "; Secure" : "");
}

web::Lang PageLang(const ServiceContext& ctx, const HttpRequest& req, HttpResponse& res) {
  if (auto asked = web::ParseLang(req.param("lang").value_or(""))) {
    res.headers.emplace_back(
        "Set-Cookie", Cookie(ctx, kLangCookie, web::LangCode(*asked), "Max-Age=31536000; SameSite=Lax"));
    return *asked;
  }
  return web::NegotiateLang(CookieValue(req, kLangCookie), req.header("Accept-Language"));
}

Reply Page(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, std::string_view page,
           web::Lang lang, web::Values values, int status, const char* csp) {
  if (!values.text.contains("switch")) values.text["switch"] = req.path + "?";
  auto html = ctx.site->Render(page, lang, values);
  if (!html) return std::unexpected(Problem(html.error()));
  res.status = status;
  res.set_content(std::move(*html), "text/html; charset=utf-8");
  res.set_header("Cache-Control", "no-store");
  res.set_header("Vary", "Accept-Language, Cookie");
  res.set_header("Content-Security-Policy", csp);
  return {};
}

void Redirect(HttpResponse& res, std::string location) {
  res.status = 303;
  res.set_header("Location", std::move(location));
  res.set_header("Cache-Control", "no-store");
}

std::map<std::string, std::string> FormFields(std::string_view body) {
  std::map<std::string, std::string> out;
  std::string target = "/?" + std::string(body);
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return out;
  for (auto p : url->params(boost::urls::encoding_opts(/*space_as_plus=*/true))) out.emplace(p.key, p.value);
  return out;
}

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

namespace {

// The session of this device, if it has a live one (with its id). A store that cannot be read
// sets `failure` (and the answer is nullopt).
std::optional<std::pair<std::string, TeacherSession>> SessionOf(ServiceContext& ctx, const HttpRequest& req,
                                                                Reply& failure) {
  std::string id = CookieValue(req, kSessionCookie);
  if (id.empty()) return std::nullopt;
  auto s = ctx.sessions->Find(id);
  if (!s) {
    failure = std::unexpected(Problem(s.error()));
    return std::nullopt;
  }
  if (!*s) return std::nullopt;
  return std::pair{id, std::move(**s)};
}

// This device's form token (the double-submit `lk_csrf` cookie), set when it has none.
std::string FormToken(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res) {
  std::string csrf = CookieValue(req, kCsrfCookie);
  if (csrf.size() < 16 || csrf.size() > 64) {
    csrf = Base64UrlEncode(RandomBytes(24));
    res.headers.emplace_back("Set-Cookie", Cookie(ctx, kCsrfCookie, csrf, "HttpOnly; SameSite=Strict"));
  }
  return csrf;
}

// A POSTed form is this device's: not cross-site, and its token matches the cookie.
bool OwnForm(const HttpRequest& req, const std::string& csrf) {
  const std::string cookie = CookieValue(req, kCsrfCookie);
  return !CrossSite(req) && !cookie.empty() && ConstantTimeEqual(cookie, csrf);
}

// Signs this device in to `card` (ending a session it had) and sends it to its card page.
Reply SignIn(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, const ledger::IssuedCard& card) {
  Reply failure;
  if (auto old = SessionOf(ctx, req, failure))
    if (auto r = ctx.sessions->End(old->first); !r) return std::unexpected(Problem(r.error()));
  if (!failure) return failure;
  auto id = ctx.sessions->Create(card.serial);
  if (!id) return std::unexpected(Problem(id.error()));
  res.headers.emplace_back("Set-Cookie",
                           Cookie(ctx, kSessionCookie, *id,
                                  "Max-Age=" + std::to_string(ctx.options.teacher_session_lifetime.count()) +
                                      "; HttpOnly; SameSite=Lax"));
  Redirect(res, "/card");
  return {};
}

// The claim form, with `code` prefilled and `error` (a strings key) shown when set.
Reply ClaimForm(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, web::Lang lang,
                const std::string& code, std::string_view error, int status) {
  std::string csrf = FormToken(ctx, req, res);
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
  auto s = SessionOf(ctx, req, failure);
  if (!s) {
    if (failure) Redirect(res, "/");
    return std::nullopt;
  }
  auto card = StoredCardWithToken(ctx, s->second.serial);
  if (!card) {
    if (card.error().code == Code::kNotFound) {
      if (auto r = ctx.sessions->End(s->first); !r) failure = std::unexpected(Problem(r.error()));
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
  ctx.sessions = NewLedgerSessions(ctx.deps.ledger->sessions(), ledger::SessionKind::kTeacher,
                                   ctx.options.teacher_session_lifetime, 1'000'000);
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
  Reply failure;
  if (SessionOf(ctx, req, failure)) {
    Redirect(res, "/card");
    return {};
  }
  if (!failure) return failure;
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
  return SignIn(ctx, req, res, *card);
}

// --- "Send me a new link" -------------------------------------------------------------------
// /link mails a one-time sign-in link to the roster address of a card holder; the answer is the
// same whether or not the address is known (no enumeration), and the mail goes out on the mail
// thread (so neither does the time of the answer tell). The link's page shows a button that
// POSTs the token: a mail scanner that opens links does not spend it.
namespace {

Reply LinkForm(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, web::Lang lang,
               const std::string& email, std::string_view error, int status) {
  web::Values v;
  v.text["email"] = email;
  v.text["csrf"] = FormToken(ctx, req, res);
  v.text["switch"] = "/link?";
  if (!error.empty()) {
    v.flags.insert("error");
    v.text["error_text"] = ctx.site->Text(lang, error);
  }
  return Page(ctx, req, res, "link", lang, std::move(v), status);
}

Reply SignInForm(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, web::Lang lang,
                 const std::string& token, std::string_view error, int status) {
  web::Values v;
  v.text["token"] = token;
  v.text["csrf"] = FormToken(ctx, req, res);
  v.text["switch"] = token.empty() ? "/link/signin?" : "/link/signin?token=" + QueryEscape(token) + "&";
  if (!error.empty()) {
    v.flags.insert("error");
    v.text["error_text"] = ctx.site->Text(lang, error);
  }
  res.set_header("Referrer-Policy", "no-referrer");
  return Page(ctx, req, res, "signin", lang, std::move(v), status);
}

mail::Language MailLanguage(web::Lang lang) {
  return lang == web::Lang::kFr   ? mail::Language::kFr
         : lang == web::Lang::kEn ? mail::Language::kEn
                                  : mail::Language::kNl;
}

}  // namespace

Reply LinkPage(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  return LinkForm(ctx, req, res, lang, "", ctx.deps.mailer ? "" : "link.error.off", 200);
}

Reply LinkSubmit(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  auto form = FormFields(req.body);
  std::string email(Trim(form["email"]));
  if (email.size() > 254) email.resize(254);
  if (!OwnForm(req, form["csrf"])) return LinkForm(ctx, req, res, lang, email, "link.error.form", 403);
  if (!ctx.deps.mailer) return LinkForm(ctx, req, res, lang, email, "link.error.off", 503);
  if (email.empty()) return LinkForm(ctx, req, res, lang, email, "link.error.empty", 400);
  // The lookup, the link and the mail happen on the mail thread: this answer is the same for
  // every address, and as fast.
  const std::string request_id = req.id;
  auto job = [&ctx, email, fallback = MailLanguage(lang), request_id](mail::Mailer& mailer) {
    auto warn = [&](const std::string& what) {
      std::fprintf(
          stderr, "%s\n",
          nlohmann::json({{"level", "warn"}, {"request_id", request_id}, {"msg", what}}).dump().c_str());
    };
    const Time now = ctx.deps.clock->Now();
    auto link = ctx.deps.ledger->access().CreateSignInLink(email, now + ctx.options.signin_link_lifetime);
    if (!link) return warn("sign-in link: " + link.error().message);
    if (!*link) return;  // not a card holder's address: nothing to send, nothing to say
    const ledger::SignInLink& l = **link;
    mail::SignInMailOptions o{
        ctx.base_url, ctx.deps.mail_from, ctx.deps.mail_contact,
        std::chrono::duration_cast<std::chrono::minutes>(ctx.options.signin_link_lifetime)};
    auto message = mail::ComposeSignInMail(
        o, {l.email, l.display_name, mail::ParseLanguage(l.language, fallback).value_or(fallback), l.token},
        *ctx.deps.clock);
    if (!message) return warn("sign-in mail: " + message.error().message);
    if (auto sent = mailer.Send(*message); !sent)  // its error names the address: not logged
      warn("a sign-in mail was not delivered (code " +
           std::to_string(static_cast<int>(sent.error().error.code)) + ")");
  };
  if (!ctx.PostMail(std::move(job))) ctx.Warn(req, "the sign-in mail queue is full");
  return Page(ctx, req, res, "link_sent", lang, {});
}

Reply SignInPage(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  std::string token = req.param("token").value_or("");
  if (token.empty() || token.size() > 64)
    return SignInForm(ctx, req, res, lang, "", "signin.error.unknown", 404);
  return SignInForm(ctx, req, res, lang, token, "", 200);
}

Reply SignInSubmit(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  auto form = FormFields(req.body);
  std::string token = form["token"].substr(0, 64);
  if (!OwnForm(req, form["csrf"])) return SignInForm(ctx, req, res, lang, token, "signin.error.form", 403);
  auto card = ctx.deps.ledger->access().RedeemSignInLink(token);
  if (!card) {
    switch (card.error().code) {
      case Code::kNotFound:
        return SignInForm(ctx, req, res, lang, token, "signin.error.unknown", 404);
      case Code::kFailedPrecondition:
        return SignInForm(ctx, req, res, lang, token, "signin.error.spent", 410);
      default:
        return std::unexpected(Problem(card.error()));
    }
  }
  return SignIn(ctx, req, res, *card);
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
  v.text["school"] = !card->school_name.empty() ? card->school_name
                     : card->school.empty()     ? "—"
                                                : card->school;
  v.text["year"] = std::to_string(card->year);
  v.text["csrf"] = session.csrf;
  v.markup["qr"] = std::move(*qr);
  if (card->revoked) v.flags.insert("revoked");
  if (!card->replaced_by.empty()) v.flags.insert("moved_away");  // another device moved it
  if (!card->revoked && !session.moved_from.empty() && req.param("moved") == "1") v.flags.insert("moved");
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

// The confirmation before moving the card, with `error` (a strings key) shown when set.
Reply MoveForm(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, web::Lang lang,
               const Card& card, const TeacherSession& session, std::string_view error, int status) {
  web::Values v;
  v.text["csrf"] = session.csrf;
  v.text["serial"] = card.serial;
  v.text["year"] = std::to_string(card.year);
  if (!error.empty()) {
    v.flags.insert("error");
    v.text["error_text"] = ctx.site->Text(lang, error);
  }
  if (card.revoked) v.flags.insert("revoked");  // the sentence says what to do; no button
  return Page(ctx, req, res, "move", lang, std::move(v), status);
}

Reply MovePage(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  Reply failure;
  TeacherSession session;
  auto card = SignedInCard(ctx, req, res, failure, &session);
  if (!card) return failure;
  if (card->revoked) {  // nothing to move: the card page says why
    Redirect(res, "/card");
    return {};
  }
  return MoveForm(ctx, req, res, lang, *card, session, "", 200);
}

// Moves the signed-in card to a new device; the session follows it to the replacement. The form
// carries the session's CSRF token and the serial it was shown for: a second submit of the same
// form (the card already moved) lands on the new card without moving it again.
Reply MoveSubmit(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  Reply failure;
  auto s = SessionOf(ctx, req, failure);
  if (!s) {
    if (!failure) return failure;
    Redirect(res, "/");
    return {};
  }
  auto& [id, session] = *s;
  auto form = FormFields(req.body);
  const std::string serial = form["card"];
  if (!serial.empty() && serial == session.moved_from && ConstantTimeEqual(form["csrf"], session.csrf)) {
    Redirect(res, "/card?moved=1");  // submitted twice: already moved
    return {};
  }
  auto card = SignedInCard(ctx, req, res, failure);
  if (!card) return failure;
  if (CrossSite(req) || !ConstantTimeEqual(form["csrf"], session.csrf) || serial != card->serial)
    return MoveForm(ctx, req, res, lang, *card, session, "move.error.form", 403);
  // A revoked card does not move, also not one another device moved already (its replacement is
  // not this device's to take).
  if (card->revoked) return MoveForm(ctx, req, res, lang, *card, session, "move.error.revoked", 409);
  // Every move adds a card and an audit entry: a signed-in device moves its card a few times at
  // most (a claim, which needs a new code, starts a new count).
  if (session.moves >= kMaxMovesPerSession)
    return MoveForm(ctx, req, res, lang, *card, session, "move.error.too_many", 429);
  auto moved = MoveCard(ctx, req, card->serial);
  if (!moved) {
    if (moved.error().code == Code::kFailedPrecondition)
      return MoveForm(ctx, req, res, lang, *card, session, "move.error.revoked", 409);
    return std::unexpected(Problem(moved.error()));
  }
  auto rebound = ctx.sessions->Rebind(id, moved->serial);
  if (!rebound) return std::unexpected(Problem(rebound.error()));
  if (!*rebound) {  // expired meanwhile: sign in again
    Redirect(res, "/");
    return {};
  }
  Redirect(res, "/card?moved=1");
  return {};
}

Reply SignOut(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  Reply failure;
  auto s = SessionOf(ctx, req, failure);
  if (!s) {
    if (!failure) return failure;
    Redirect(res, "/");
    return {};
  }
  auto form = FormFields(req.body);
  if (CrossSite(req) || !ConstantTimeEqual(form["csrf"], s->second.csrf))
    return std::unexpected(
        Problem(Error{Code::kPermissionDenied, "the sign-out form is not this session's"}, "csrf", 403));
  if (auto r = ctx.sessions->End(s->first); !r) return std::unexpected(Problem(r.error()));
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
