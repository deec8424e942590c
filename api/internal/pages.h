#pragma once
// Private to api/: what the page routes share (the teacher's pages in web_routes.cc, the
// partner's desk in desk_routes.cc): the page language, rendering a page with its headers,
// cookies, redirects and form bodies. Stateless functions; thread-safe.
#include <map>
#include <string>
#include <string_view>

#include "api/internal/service_context.h"

namespace lk::api::internal {

// The Content-Security-Policy of pages without script (every teacher's page).
inline constexpr const char* kPageCsp =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'";

bool Https(const ServiceContext& ctx);  // the public URL is https: cookies get Secure
// "name=value; Path=/; attrs" (+ "; Secure" behind https), for Set-Cookie.
std::string Cookie(const ServiceContext& ctx, std::string_view name, std::string_view value,
                   std::string_view attrs);
// The page language; an explicit ?lang= is remembered in the `lang` cookie for a year.
web::Lang PageLang(const ServiceContext& ctx, const HttpRequest& req, HttpResponse& res);
// Renders `page` with `status`, no-store, and `csp`; `values.text["switch"]` is the language
// links' prefix (default: this path and "?").
Reply Page(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, std::string_view page,
           web::Lang lang, web::Values values, int status = 200, const char* csp = kPageCsp);
void Redirect(HttpResponse& res, std::string location);  // 303, no-store
// The fields of an application/x-www-form-urlencoded body ('+' is a space), first value wins.
std::map<std::string, std::string> FormFields(std::string_view body);
// `s` percent-encoded for a query value (unreserved characters kept).
std::string QueryEscape(std::string_view s);
// A POST the browser marks `Sec-Fetch-Site: cross-site` (refused by every form route).
bool CrossSite(const HttpRequest& req);

}  // namespace lk::api::internal
