// The partner's desk (docs/desk.md): a partner signs in once with their partner key, then checks
// cards by handheld scanner, paste or (with JavaScript) camera, online through the same verdict
// as POST /v1/verify (JudgeScannedToken) or, offline, in the browser (web/static/desk.js).
//
// Signing in: POST /desk/signin checks the partner key against the ledger and creates a desk
// session; the `lk_desk` cookie (HttpOnly, SameSite=Strict, Secure behind https) holds only its
// random id, never the key. A removed key ends its desks' sessions within kDeskRecheck.
// CSRF: the sign-in form is a double submit (the `lk_csrf` cookie); scans and sign out carry the
// session's own token; a POST marked `Sec-Fetch-Site: cross-site` is refused.
#include "api/internal/pages.h"
#include "web/scanner_keyboard.h"

namespace lk::api::internal {
namespace {

constexpr std::string_view kDeskCookie = "lk_desk", kCsrfCookie = "lk_csrf";
// Scripts only from this service (desk.js, jsqr.js, the service worker), no inline script, no
// eval; fetches only to this service (the verdict, the JWK Set, the revocation list).
constexpr const char* kDeskCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "worker-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

struct Desk {
  std::string id;
  TeacherSession session;  // `serial` holds the partner's subject, "partner:ID"
  int64_t partner_id = 0;
};

// The signed-in desk of this browser, if any. The partner's credential is looked up again at
// most every kDeskRecheck; once it is gone, the session ends. A session store that cannot be read
// or written sets `failure`.
std::optional<Desk> DeskOf(ServiceContext& ctx, const HttpRequest& req, Reply& failure) {
  std::string id = CookieValue(req, kDeskCookie);
  if (id.empty()) return std::nullopt;
  auto found = ctx.desk_sessions->Find(id);
  if (!found) {
    failure = std::unexpected(Problem(found.error()));
    return std::nullopt;
  }
  auto& s = *found;
  if (!s) return std::nullopt;
  int64_t partner = PartnerId(s->serial);
  if (partner <= 0) return std::nullopt;
  Instant now = ctx.deps.clock->Monotonic();
  {
    std::lock_guard lock(ctx.desk_mu);
    auto it = ctx.desk_partner_seen.find(partner);
    if (it != ctx.desk_partner_seen.end() && now - it->second < ServiceContext::kDeskRecheck)
      return Desk{id, std::move(*s), partner};
  }
  auto cred = ctx.deps.ledger->access().FindCredential(ledger::CredentialKind::kPartner, partner);
  if (!cred && cred.error().code == Code::kNotFound) {
    if (auto r = ctx.desk_sessions->End(id); !r) failure = std::unexpected(Problem(r.error()));
    std::lock_guard lock(ctx.desk_mu);
    ctx.desk_partner_seen.erase(partner);
    return std::nullopt;
  }
  if (cred) {  // a ledger that cannot be read now keeps the desk signed in until it can
    std::lock_guard lock(ctx.desk_mu);
    if (ctx.desk_partner_seen.size() > 100'000) ctx.desk_partner_seen.clear();
    ctx.desk_partner_seen[partner] = now;
  }
  return Desk{id, std::move(*s), partner};
}

// The sign-in form, with `error` (a strings key) when set.
Reply SignInForm(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, web::Lang lang,
                 std::string_view error, int status) {
  std::string csrf = CookieValue(req, kCsrfCookie);
  if (csrf.size() < 16 || csrf.size() > 64) {
    csrf = Base64UrlEncode(RandomBytes(24));
    res.headers.emplace_back("Set-Cookie", Cookie(ctx, kCsrfCookie, csrf, "HttpOnly; SameSite=Strict"));
  }
  web::Values v;
  v.text["csrf"] = csrf;
  v.text["switch"] = "/desk?";
  if (!error.empty()) {
    v.flags.insert("error");
    v.text["error_text"] = ctx.site->Text(lang, error);
  }
  return Page(ctx, req, res, "desk_signin", lang, std::move(v), status);
}

std::string Fill(std::string_view text, std::optional<int> year) {
  std::string out(text);
  std::string y = year ? std::to_string(*year) : "";
  for (size_t at; (at = out.find("{year}")) != std::string::npos;) out.replace(at, 6, y);
  return out;
}

// The desk page: the scan form, and the verdict when there is one.
Reply DeskScreen(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, web::Lang lang,
                 const Desk& desk, const ScanVerdict* verdict, bool repaired, std::string_view notice,
                 int status = 200) {
  web::Values v;
  v.text["csrf"] = desk.session.csrf;
  v.text["switch"] = "/desk?";
  v.text["issuer"] = ctx.deps.policy.issuer;
  v.text["leeway"] = std::to_string(ctx.deps.policy.leeway.count());
  v.text["max_age"] = std::to_string(ctx.options.desk_max_list_age.count());
  v.flags.insert("desk");
  if (!notice.empty()) {
    v.flags.insert("notice");
    v.text["notice_text"] = ctx.site->Text(lang, notice);
  }
  if (!verdict) {
    v.text["verdict_class"] = "ready";
    v.text["heading"] = ctx.site->Text(lang, "desk.ready");
    v.text["reason"] = ctx.site->Text(lang, "desk.ready_hint");
    v.flags.insert("no_serial");
  } else {
    std::string outcome(scan::OutcomeName(verdict->outcome));
    bool valid = verdict->outcome == scan::Outcome::kValid;
    v.text["verdict_class"] = valid ? "valid" : "invalid";
    v.text["outcome"] = outcome;
    v.text["heading"] = Fill(ctx.site->Text(lang, valid ? "desk.valid" : "desk.invalid"), verdict->year);
    v.text["reason"] = Fill(ctx.site->Text(lang, "desk.reason." + outcome), verdict->year);
    bool vouched = valid || verdict->outcome == scan::Outcome::kRevoked ||
                   verdict->outcome == scan::Outcome::kExpired ||
                   verdict->outcome == scan::Outcome::kNotYetValid;
    if (vouched && !verdict->serial.empty())
      v.text["serial"] = verdict->serial;
    else
      v.flags.insert("no_serial");
    if (repaired) v.flags.insert("repaired");
  }
  res.set_header("Permissions-Policy", "camera=(self), microphone=(), geolocation=()");
  return Page(ctx, req, res, "desk", lang, std::move(v), status, kDeskCsp);
}

bool WantsJson(const HttpRequest& req) {
  return req.header("Accept").find("application/json") != std::string_view::npos;
}

Reply Script(const HttpRequest& req, HttpResponse& res, const std::string& body, const std::string& etag,
             std::string_view type) {
  // Revalidated on every use (a 304 is cheap); the service worker keeps its own copy for offline.
  AnswerCached(req, res, body, etag, type, "no-cache");
  return {};
}

}  // namespace

Result<> InitDesk(ServiceContext& ctx) {
  ctx.desk_sessions = NewLedgerSessions(ctx.deps.ledger->sessions(), ledger::SessionKind::kDesk,
                                        ctx.options.desk_session_lifetime, 1'000'000);
  auto file = [&](std::string_view path, std::string& body, std::string* etag) -> Result<> {
    body = std::string(ctx.site->File(path));
    if (body.empty()) return Fail(Code::kInternal, "web/" + std::string(path) + " is not embedded");
    if (etag) *etag = QuotedEtag(body);
    return {};
  };
  for (auto r : {file("static/desk.js", ctx.desk_script, &ctx.desk_script_etag),
                 file("static/desk-sw.js", ctx.desk_worker, &ctx.desk_worker_etag),
                 file("node_modules/jsqr/dist/jsQR.js", ctx.jsqr_script, &ctx.jsqr_etag),
                 file("node_modules/jsqr/LICENSE", ctx.jsqr_license, nullptr)})
    if (!r) return r;
  return {};
}

Reply DeskPage(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  Reply failure;
  auto desk = DeskOf(ctx, req, failure);
  if (!failure) return failure;
  if (!desk) return SignInForm(ctx, req, res, lang, "", 200);
  return DeskScreen(ctx, req, res, lang, *desk, nullptr, false, "");
}

Reply DeskSignIn(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  auto form = FormFields(req.body);
  std::string key(Trim(form["key"])), csrf = form["csrf"], cookie = CookieValue(req, kCsrfCookie);
  if (CrossSite(req) || cookie.empty() || !ConstantTimeEqual(cookie, csrf))
    return SignInForm(ctx, req, res, lang, "desk.signin.error.form", 403);
  if (key.empty()) return SignInForm(ctx, req, res, lang, "desk.signin.error.empty", 400);
  auto cred = ctx.deps.ledger->access().Authenticate(ledger::CredentialKind::kPartner, key);
  if (!cred) {
    if (cred.error().code == Code::kUnauthenticated)
      return SignInForm(ctx, req, res, lang, "desk.signin.error.unknown", 401);
    return std::unexpected(Problem(cred.error()));
  }
  Reply failure;
  if (auto old = DeskOf(ctx, req, failure))
    if (auto r = ctx.desk_sessions->End(old->id); !r) return std::unexpected(Problem(r.error()));
  if (!failure) return failure;
  auto id = ctx.desk_sessions->Create("partner:" + std::to_string(cred->id));
  if (!id) return std::unexpected(Problem(id.error()));
  {
    std::lock_guard lock(ctx.desk_mu);
    ctx.desk_partner_seen[cred->id] = ctx.deps.clock->Monotonic();
  }
  res.headers.emplace_back("Set-Cookie",
                           Cookie(ctx, kDeskCookie, *id,
                                  "Max-Age=" + std::to_string(ctx.options.desk_session_lifetime.count()) +
                                      "; HttpOnly; SameSite=Strict"));
  Redirect(res, "/desk");
  return {};
}

Reply DeskScan(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  Reply failure;
  auto desk = DeskOf(ctx, req, failure);
  if (!failure) return failure;
  if (!desk) {
    if (WantsJson(req))
      return std::unexpected(
          Problem(Error{Code::kUnauthenticated,
                        "this desk is not signed in: open /desk and sign in with the partner key"},
                  "", 401));
    Redirect(res, "/desk");
    return {};
  }
  auto form = FormFields(req.body);
  if (CrossSite(req) || !ConstantTimeEqual(form["csrf"], desk->session.csrf)) {
    if (WantsJson(req))
      return std::unexpected(Problem(
          Error{Code::kPermissionDenied, "the scan form is not this desk's: reload /desk"}, "csrf", 403));
    return DeskScreen(ctx, req, res, lang, *desk, nullptr, false, "desk.error.form", 403);
  }
  std::string token(Trim(form["token"]));
  if (token.empty()) {
    if (WantsJson(req)) return Bad("token", "scan or paste a card's QR code first");
    return DeskScreen(ctx, req, res, lang, *desk, nullptr, false, "desk.error.empty", 400);
  }
  bool repaired = false;
  if (!web::TokenShaped(token))
    if (auto fixed = web::RepairScannerLayout(token)) {
      token = std::move(fixed->token);
      repaired = true;
    }
  auto verdict = JudgeScannedToken(ctx, token, desk->partner_id);
  if (!verdict) return std::unexpected(verdict.error());
  if (WantsJson(req)) {
    nlohmann::json j = {
        {"outcome", scan::OutcomeName(verdict->outcome)},
        {"valid", verdict->outcome == scan::Outcome::kValid},
        {"serial", verdict->serial.empty() ? nlohmann::json(nullptr) : nlohmann::json(verdict->serial)},
        {"year", verdict->year ? nlohmann::json(*verdict->year) : nlohmann::json(nullptr)},
        {"repaired", repaired}};
    WriteJson(res, j);
    res.set_header("Cache-Control", "no-store");
    return {};
  }
  return DeskScreen(ctx, req, res, lang, *desk, &*verdict, repaired, "");
}

Reply DeskSignOut(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  Reply failure;
  auto desk = DeskOf(ctx, req, failure);
  if (!failure) return failure;
  if (!desk) {
    Redirect(res, "/desk");
    return {};
  }
  auto form = FormFields(req.body);
  if (CrossSite(req) || !ConstantTimeEqual(form["csrf"], desk->session.csrf))
    return std::unexpected(
        Problem(Error{Code::kPermissionDenied, "the sign-out form is not this desk's"}, "csrf", 403));
  if (auto r = ctx.desk_sessions->End(desk->id); !r) return std::unexpected(Problem(r.error()));
  res.headers.emplace_back("Set-Cookie",
                           Cookie(ctx, kDeskCookie, "", "Max-Age=0; HttpOnly; SameSite=Strict"));
  // The signed-out device keeps nothing for offline use: the service worker, its copies of the
  // page, keys and list, and the held list's sequence go too.
  res.set_header("Clear-Site-Data", "\"cache\", \"storage\"");
  Redirect(res, "/desk");
  return {};
}

Reply DeskScript(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  return Script(req, res, ctx.desk_script, ctx.desk_script_etag, "text/javascript; charset=utf-8");
}

Reply JsqrScript(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  return Script(req, res, ctx.jsqr_script, ctx.jsqr_etag, "text/javascript; charset=utf-8");
}

Reply JsqrLicense(ServiceContext& ctx, HttpRequest&, HttpResponse& res) {
  res.set_content(ctx.jsqr_license, "text/plain; charset=utf-8");
  res.set_header("Cache-Control", "public, max-age=86400");
  return {};
}

Reply DeskWorker(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  // Served under /desk/ but controls /desk itself; the worker may fetch this service only.
  res.set_header("Service-Worker-Allowed", "/desk");
  res.set_header("Content-Security-Policy", "default-src 'none'; connect-src 'self'");
  return Script(req, res, ctx.desk_worker, ctx.desk_worker_etag, "text/javascript; charset=utf-8");
}

}  // namespace lk::api::internal
