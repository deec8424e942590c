// The route table: every (method, path template) the service answers, who may call it, how large
// a body it reads, and its handler. Matching is by decoded path segments, exactly (no trailing
// slash, case-sensitive); a {parameter} matches one segment of [A-Za-z0-9_-]{1,40}. Each handler
// lives in its audience's file: public_routes.cc, partner_routes.cc, teacher_routes.cc,
// staff_routes.cc (internal/service_context.h lists them by file).
#include <algorithm>
#include <string_view>

#include "api/internal/service_context.h"

namespace lk::api::internal {
namespace {

bool IsParamChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
// Apple's pass web service names passes by reverse-DNS type identifiers (pass.be.example).
bool IsWalletParamChar(char c) { return IsParamChar(c) || c == '.'; }

// Whether `segments` fit `path` (a template); fills `params`.
bool Fits(std::string_view path, const std::vector<std::string>& segments, std::vector<std::string>& params) {
  params.clear();
  if (path == "/") return segments.empty() || (segments.size() == 1 && segments[0].empty());
  size_t i = 0;
  const bool wallet = path.starts_with("/wallet/");
  const size_t max_param = wallet ? 100 : 40;
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (i >= segments.size()) return false;
    const std::string& seg = segments[i++];
    if (part.starts_with('{')) {
      if (seg.empty() || seg.size() > max_param || seg == "." || seg == ".." ||
          !std::all_of(seg.begin(), seg.end(), wallet ? IsWalletParamChar : IsParamChar))
        return false;
      params.push_back(seg);
    } else if (part != seg) {
      return false;
    }
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return i == segments.size();
}

}  // namespace

const std::vector<Route>& RouteTable() {
  static const std::vector<Route> kRoutes = {
      {"GET", "/healthz", Auth::kNone, BodyLimit::kNone, false, Healthz},
      {"GET", "/readyz", Auth::kNone, BodyLimit::kNone, false, Readyz},
      {"GET", "/metrics", Auth::kNone, BodyLimit::kNone, false, MetricsText},
      {"GET", "/openapi.json", Auth::kNone, BodyLimit::kNone, false, OpenApi},
      {"GET", "/.well-known/jwks.json", Auth::kNone, BodyLimit::kNone, false, Jwks},
      {"GET", "/v1/revocations", Auth::kNone, BodyLimit::kNone, false, Revocations},
      {"POST", "/v1/verify", Auth::kPartner, BodyLimit::kJson, false, VerifyToken},
      {"POST", "/v1/claims", Auth::kNone, BodyLimit::kJson, false, ClaimCard,
       &ServiceContext::claims_per_address},
      {"POST", "/v1/cards", Auth::kStaff, BodyLimit::kJson, false, IssueCard},
      {"POST", "/v1/cards/{serial}/revoke", Auth::kStaff, BodyLimit::kJson, false, RevokeCard},
      {"GET", "/v1/cards/{serial}/pass.pkpass", Auth::kCard, BodyLimit::kNone, false, ApplePass},
      {"GET", "/v1/cards/{serial}/google", Auth::kCard, BodyLimit::kNone, false, GoogleLink},
      {"POST", "/v1/imports/{kind}", Auth::kStaff, BodyLimit::kImport, true, Import},
      {"GET", "/v1/reports/adoption", Auth::kStaff, BodyLimit::kNone, true, AdoptionReport},
      {"GET", "/dashboard", Auth::kNone, BodyLimit::kNone, false, Dashboard, nullptr, true},
      // The staff console (console_routes.cc): signed in by the lk_console session cookie.
      {"GET", "/console", Auth::kNone, BodyLimit::kNone, true, ConsoleHome, nullptr, true},
      {"POST", "/console/signin", Auth::kNone, BodyLimit::kForm, false, ConsoleSignIn,
       &ServiceContext::claims_per_address, true},
      {"POST", "/console/signout", Auth::kNone, BodyLimit::kForm, false, ConsoleSignOut, nullptr, true},
      {"GET", "/console/adoption.csv", Auth::kNone, BodyLimit::kNone, true, ConsoleExport, nullptr, true},
      {"GET", "/console/adoption.xlsx", Auth::kNone, BodyLimit::kNone, true, ConsoleExport, nullptr, true},
      {"GET", "/console/cards", Auth::kNone, BodyLimit::kNone, false, ConsoleCards, nullptr, true},
      {"POST", "/console/cards/revoke", Auth::kNone, BodyLimit::kForm, false, ConsoleRevoke, nullptr, true},
      {"POST", "/console/claim-codes", Auth::kNone, BodyLimit::kForm, false, ConsoleClaimCode, nullptr, true},
      {"GET", "/console/system", Auth::kNone, BodyLimit::kNone, true, ConsoleSystem, nullptr, true},
      // Uploads are read only after the session is checked (Auth::kConsole, from the head).
      {"POST", "/console/imports", Auth::kConsole, BodyLimit::kImport, true, ConsoleImport, nullptr, true},
      // The teacher's pages (web_routes.cc): signed in by the lk_session cookie, not a bearer.
      {"GET", "/", Auth::kNone, BodyLimit::kNone, false, HomePage, nullptr, true},
      {"GET", "/claim", Auth::kNone, BodyLimit::kNone, false, ClaimPage, nullptr, true},
      {"POST", "/claim", Auth::kNone, BodyLimit::kForm, false, ClaimSubmit,
       &ServiceContext::claims_per_address, true},
      {"GET", "/link", Auth::kNone, BodyLimit::kNone, false, LinkPage, nullptr, true},
      {"POST", "/link", Auth::kNone, BodyLimit::kForm, false, LinkSubmit, &ServiceContext::links_per_address,
       true},
      {"GET", "/link/signin", Auth::kNone, BodyLimit::kNone, false, SignInPage, nullptr, true},
      {"POST", "/link/signin", Auth::kNone, BodyLimit::kForm, false, SignInSubmit,
       &ServiceContext::claims_per_address, true},
      {"GET", "/card", Auth::kNone, BodyLimit::kNone, false, CardPage, nullptr, true},
      {"GET", "/card/pass.pkpass", Auth::kNone, BodyLimit::kNone, false, CardPass, nullptr, true},
      {"GET", "/card/google", Auth::kNone, BodyLimit::kNone, false, CardGoogle, nullptr, true},
      {"GET", "/card/move", Auth::kNone, BodyLimit::kNone, false, MovePage, nullptr, true},
      {"POST", "/card/move", Auth::kNone, BodyLimit::kForm, false, MoveSubmit, nullptr, true},
      {"POST", "/signout", Auth::kNone, BodyLimit::kForm, false, SignOut, nullptr, true},
      {"GET", "/static/site.css", Auth::kNone, BodyLimit::kNone, false, Stylesheet, nullptr, true},
      {"GET", "/static/badges/{wallet}", Auth::kNone, BodyLimit::kNone, false, BadgeImage, nullptr, true},
      // The partner's desk (desk_routes.cc): signed in by the lk_desk cookie after the partner key.
      {"GET", "/desk", Auth::kNone, BodyLimit::kNone, false, DeskPage, nullptr, true},
      {"POST", "/desk/signin", Auth::kNone, BodyLimit::kForm, false, DeskSignIn,
       &ServiceContext::claims_per_address, true},
      {"POST", "/desk/scan", Auth::kNone, BodyLimit::kForm, false, DeskScan, nullptr, true},
      {"POST", "/desk/signout", Auth::kNone, BodyLimit::kForm, false, DeskSignOut, nullptr, true},
      {"GET", "/desk/sw.js", Auth::kNone, BodyLimit::kNone, false, DeskWorker, nullptr, true},
      {"GET", "/static/desk.js", Auth::kNone, BodyLimit::kNone, false, DeskScript, nullptr, true},
      {"GET", "/static/jsqr.js", Auth::kNone, BodyLimit::kNone, false, JsqrScript, nullptr, true},
      {"GET", "/static/jsqr-license.txt", Auth::kNone, BodyLimit::kNone, false, JsqrLicense, nullptr, true},
      // Apple's pass web service (wallet_routes.cc), under the passes' webServiceURL.
      {"POST",
       "/wallet/v1/devices/{deviceLibraryIdentifier}/registrations/{passTypeIdentifier}/{serialNumber}",
       Auth::kCard, BodyLimit::kJson, false, RegisterDevice},
      {"DELETE",
       "/wallet/v1/devices/{deviceLibraryIdentifier}/registrations/{passTypeIdentifier}/{serialNumber}",
       Auth::kCard, BodyLimit::kNone, false, UnregisterDevice},
      {"GET", "/wallet/v1/devices/{deviceLibraryIdentifier}/registrations/{passTypeIdentifier}", Auth::kNone,
       BodyLimit::kNone, false, UpdatedPasses},
      {"GET", "/wallet/v1/passes/{passTypeIdentifier}/{serialNumber}", Auth::kCard, BodyLimit::kNone, false,
       LatestPass},
      {"POST", "/wallet/v1/log", Auth::kNone, BodyLimit::kJson, false, WalletLog,
       &ServiceContext::wallet_log_per_address},
  };
  return kRoutes;
}

const Route* MatchRoute(std::string_view method, const std::vector<std::string>& segments,
                        std::vector<std::string>& params, std::string& allow) {
  if (method == "HEAD") method = "GET";
  const Route* found = nullptr;
  bool get = false, post = false, del = false;
  std::vector<std::string> scratch;
  for (const Route& r : RouteTable()) {
    if (!Fits(r.path, segments, scratch)) continue;
    std::string_view m = r.method;
    (m == "GET" ? get : m == "POST" ? post : del) = true;
    if (!found && method == r.method) {
      found = &r;
      params = scratch;
    }
  }
  allow = get ? "GET, HEAD" : "";
  if (post) allow += allow.empty() ? "POST" : ", POST";
  if (del) allow += allow.empty() ? "DELETE" : ", DELETE";
  return found;
}

}  // namespace lk::api::internal

namespace lk::api {

std::vector<std::pair<std::string, std::string>> Routes() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const internal::Route& r : internal::RouteTable()) out.emplace_back(r.method, r.path);
  return out;
}

}  // namespace lk::api
