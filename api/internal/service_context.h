#pragma once
// Private to api/: what the route handlers of every audience share (the service's options and
// dependencies, keys, caches, limits and metrics), the problem vocabulary every failure becomes,
// and the route table. The handlers themselves live in one file per audience:
// public_routes.cc, partner_routes.cc, teacher_routes.cc, staff_routes.cc.
// Thread safety: a ServiceContext is shared by all request threads; its members are either
// immutable after Init or synchronised as their comments say.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <expected>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/api.h"
#include "api/internal/card_status.h"
#include "api/internal/http_server.h"
#include "api/internal/limits.h"
#include "api/internal/request_body.h"
#include "api/internal/teacher_sessions.h"
#include "api/internal/verification_tally.h"
#include "scan/scan.h"
#include "signing/revocation_list.h"
#include "web/web.h"

namespace lk::api::internal {

// A failure with what the problem body needs beyond lk::Error.
// For statuses of 500 and above the client never sees error.message (it can name hosts, files
// and users of the ledger): it is logged with the request id, and the client gets `public_detail`,
// or a sentence for the status when that is empty.
struct Problem {
  Error error;
  std::string field;  // the request field or parameter at fault, if any
  int status = 0;     // 0: from StatusFor(error.code)
  int64_t retry_after = 0;
  std::string public_detail;                 // what a client may read of a 5xx
  nlohmann::json members = nullptr;          // an object: more members of a 4xx body ("errors")
  Problem(Error e) : error(std::move(e)) {}  // NOLINT: implicit from lk::Error on purpose
  Problem(Error e, std::string f, int s = 0) : error(std::move(e)), field(std::move(f)), status(s) {}
};
// A 503 whose message is meant for the client (a service that is not configured, say).
Problem Unavailable(std::string detail);
using Reply = std::expected<void, Problem>;
std::unexpected<Problem> Bad(std::string field, std::string detail);
// A 429 (or 503 with `status`) asking to come back after `seconds`.
std::unexpected<Problem> Busy(std::string detail, int64_t seconds, int status = 429);

// The one mapping from lk::Code to an HTTP status.
int StatusFor(Code code);
// An RFC 9457 problem body (application/problem+json) carrying the request's id. Failures of
// 500 and above are logged with their message; the client sees a sentence without internals.
void WriteProblem(const HttpRequest& req, HttpResponse& res, const Problem& p);
void WriteJson(HttpResponse& res, const nlohmann::json& body, int status = 200);
// Strict JSON bodies (request_body.h), failures as problems naming the field.
std::expected<nlohmann::json, Problem> ParseBody(const HttpRequest& req, size_t max_bytes,
                                                 std::span<const FieldSpec> fields);
bool ConstantTimeEqual(std::string_view a, std::string_view b);
// The token of "Authorization: Bearer <token>", or "".
std::string BearerToken(const HttpRequest& req);
std::string CookieValue(const HttpRequest& req, std::string_view name);
std::string QuotedEtag(std::string_view bytes, size_t n = 32);
// If-None-Match: "*" or a list of (weak or strong) tags; weak comparison.
bool EtagMatches(const HttpRequest& req, std::string_view etag);
// Sets ETag and Cache-Control, and answers 304 when the client holds `etag`; otherwise the body.
void AnswerCached(const HttpRequest& req, HttpResponse& res, const std::string& body, const std::string& etag,
                  std::string_view type, std::string_view cache_control);

// Built passes by strong ETag; bounded, least recently used out first. Thread-safe.
class PassCache {
 public:
  explicit PassCache(size_t capacity) : capacity_(capacity) {}
  std::shared_ptr<const std::string> Get(const std::string& etag);
  void Put(const std::string& etag, std::shared_ptr<const std::string> bytes);

 private:
  size_t capacity_;
  std::mutex mu_;
  std::list<std::string> order_;
  std::map<std::string, std::pair<std::shared_ptr<const std::string>, std::list<std::string>::iterator>> map_;
};

struct ServiceContext {
  ServiceContext(ServiceOptions o, ServiceDeps d);

  ServiceOptions options;
  ServiceDeps deps;
  std::string base_url;  // set once listening
  std::string openapi, openapi_etag;

  // The token keys: replaced whole by ReloadKeys; a request uses the set it loaded at its start.
  struct KeyState {
    std::unique_ptr<signing::TokenVerifier> verifier;
    std::unique_ptr<signing::TokenIssuer> issuer;
    std::unique_ptr<signing::RevocationSigner> revocation_signer;
    std::string jwks, jwks_etag;
  };
  std::atomic<std::shared_ptr<const KeyState>> keys;

  Metrics metrics;
  RateLimiter per_address, per_key, claims_per_address, links_per_address, wallet_log_per_address;
  // Work for the mail thread, the only user of deps.mailer (at most kMaxOutbox jobs; guarded by
  // outbox_mu): looking a sign-in address up, making the link and mailing it all happen there,
  // so that neither the answer nor its time says whether an address is known.
  static constexpr size_t kMaxOutbox = 1000;
  std::mutex outbox_mu;
  std::condition_variable outbox_cv;
  std::deque<std::function<void(mail::Mailer&)>> outbox;
  bool outbox_stop = false;
  // Queues a job for the mail thread; false when there is no mailer or the queue is full.
  bool PostMail(std::function<void(mail::Mailer&)> job);
  PassCache passes{512};

  // Verify answers revocation from memory: refreshed every kRevocationRefresh, trusted for at
  // most kRevocationMaxStaleness (then every scan asks the ledger until a refresh succeeds).
  static constexpr std::chrono::seconds kRevocationRefresh{1}, kRevocationMaxStaleness{2};
  static constexpr size_t kMaxKnownSerials = size_t{1} << 18;
  CardStatusCache card_status{kRevocationMaxStaleness, kMaxKnownSerials};
  std::atomic<bool> refresh_failing{false};

  // The last signed revocation list, what it was signed for (sequence, years, key) and when
  // (guarded by revocations_mu). Re-signed when any of these changes, or after an hour.
  std::mutex revocations_mu;
  std::string revocations_for, revocations_jws, revocations_etag;
  Time revocations_signed_at{};

  // The teacher's pages: templates (immutable), signed-in devices, the badge artwork (set by Init).
  std::unique_ptr<const web::Site> site;
  std::unique_ptr<TeacherSessions> sessions;
  // The staff console's signed-in browsers (console_routes.cc): the same store, holding the staff
  // credential's id where a teacher's holds a serial.
  std::unique_ptr<TeacherSessions> console_sessions;
  struct Badge {
    std::string bytes, type, etag;
  } apple_badge, google_badge;
  bool google_configured() const { return deps.google_account && !deps.google.issuer_id.empty(); }

  // The partner's desk (desk_routes.cc): signed-in desks (a session's `serial` holds the partner's
  // subject, "partner:ID"), and when each partner's credential was last seen in the ledger
  // (guarded by desk_mu), so that a removed key signs its desks out within kDeskRecheck.
  std::unique_ptr<TeacherSessions> desk_sessions;
  static constexpr std::chrono::seconds kDeskRecheck{10};
  std::mutex desk_mu;
  std::map<int64_t, Instant> desk_partner_seen;
  std::string desk_script, desk_script_etag, jsqr_script, jsqr_etag, jsqr_license, desk_worker,
      desk_worker_etag;

  // Partner use per day and outcome, written to the ledger every kTallyFlush (ledger::Usage).
  VerificationTally tally;
  static constexpr std::chrono::seconds kTallyFlush{10};
  // Writes the tally to the ledger; on failure keeps it for the next try.
  void FlushTally();

  // Google classes brought up to date by this process (guarded by google_mu).
  std::mutex google_mu;
  std::set<int> google_class_years;

  // Pushes pass changes to registered devices (null: no push configured). Set by Start.
  wallet::UpdatePusher* pusher = nullptr;
  // The segments of options.wallet_path ("/wallet/" -> {"wallet"}), set by Init.
  std::vector<std::string> wallet_prefix;

  // The card years whose tokens can still be valid at `now`.
  std::vector<int> ValidYears(Time now) const;
  // The revoked serials of those years, from the ledger into card_status.
  void RefreshRevoked();
  // Logs one warning line (JSON) for request `req`.
  void Warn(const HttpRequest& req, std::string_view what) const;
};

// The answer to a claim or a staff issue: the card and its QR token (issued once and kept).
Reply CardAnswer(ServiceContext& ctx, HttpResponse& res, const ledger::IssuedCard& card);
// The Apple pass of `card` (ETag, 304) and the redirect to its Google save link; the caller has
// authenticated the request for this card (access token or teacher session).
Reply AnswerApplePass(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, const Card& card);
Reply AnswerGoogleLink(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, const Card& card);

// The verdict on a scanned token, shared by POST /v1/verify and the desk page: the signature and
// claims (signing::TokenVerifier), then the card in the ledger (unknown, revoked; revocations
// known within about a second). `status` is the API's (active, revoked, expired, invalid),
// `reason` the verifier's word or "revoked" / "unknown_serial", `outcome` what a desk acts on.
// Counts the scan for `partner_id` (0: nobody) in ctx.tally and the metrics.
struct ScanVerdict {
  std::string status, reason, serial;
  std::optional<int> year;
  scan::Outcome outcome = scan::Outcome::kDamaged;
};
std::expected<ScanVerdict, Problem> JudgeScannedToken(ServiceContext& ctx, std::string_view token,
                                                      int64_t partner_id);
// The credential id of a partner subject ("partner:12" -> 12); 0 for anything else.
int64_t PartnerId(std::string_view subject);

// --- Routes --------------------------------------------------------------------------------
enum class Auth { kNone, kPartner, kStaff, kCard, kConsole };
enum class BodyLimit { kNone, kJson, kImport, kForm };
using HandlerFn = Reply (*)(ServiceContext&, HttpRequest&, HttpResponse&);
struct Route {
  const char* method;  // GET routes answer HEAD too
  // OpenAPI path template: {name} matches one segment of [A-Za-z0-9_-]{1,40}; under /wallet/
  // (Apple's identifiers) of [A-Za-z0-9._-]{1,100}.
  const char* path;
  Auth auth;
  BodyLimit body;
  bool heavy;  // long-running (imports, reports): bounded in number at once
  HandlerFn handler;
  // A rate limit of its own, by client address, taken before the body is read (null: none).
  RateLimiter ServiceContext::*limit = nullptr;
  bool page = false;  // a teacher's page: failures are answered as HTML pages, not problem+json
};
// Every route, in the order of Routes() and the metrics.
const std::vector<Route>& RouteTable();
// The route for `method` (HEAD as GET) and the decoded path `segments`, with its parameters in
// `params`; null when none matches. `allow` gets the methods the path does accept ("" if none).
const Route* MatchRoute(std::string_view method, const std::vector<std::string>& segments,
                        std::vector<std::string>& params, std::string& allow);

// The handlers, by audience, each in its audience's file.
// public_routes.cc: no credential.
Reply Healthz(ServiceContext&, HttpRequest&, HttpResponse&);
Reply Readyz(ServiceContext&, HttpRequest&, HttpResponse&);
Reply MetricsText(ServiceContext&, HttpRequest&, HttpResponse&);
Reply OpenApi(ServiceContext&, HttpRequest&, HttpResponse&);
Reply Jwks(ServiceContext&, HttpRequest&, HttpResponse&);
Reply Revocations(ServiceContext&, HttpRequest&, HttpResponse&);
// partner_routes.cc: a partner API key.
Reply VerifyToken(ServiceContext&, HttpRequest&, HttpResponse&);
// teacher_routes.cc: a claim code, then the card's access token.
Reply ClaimCard(ServiceContext&, HttpRequest&, HttpResponse&);
Reply ApplePass(ServiceContext&, HttpRequest&, HttpResponse&);
Reply GoogleLink(ServiceContext&, HttpRequest&, HttpResponse&);
// staff_routes.cc: a staff token (the dashboard also takes its cookie).
Reply IssueCard(ServiceContext&, HttpRequest&, HttpResponse&);
Reply RevokeCard(ServiceContext&, HttpRequest&, HttpResponse&);
Reply Import(ServiceContext&, HttpRequest&, HttpResponse&);
Reply AdoptionReport(ServiceContext&, HttpRequest&, HttpResponse&);
Reply Dashboard(ServiceContext&, HttpRequest&, HttpResponse&);
// Apple's pass web service (wallet_routes.cc): "Authorization: ApplePass <authenticationToken>".
Reply RegisterDevice(ServiceContext&, HttpRequest&, HttpResponse&);
Reply UnregisterDevice(ServiceContext&, HttpRequest&, HttpResponse&);
Reply UpdatedPasses(ServiceContext&, HttpRequest&, HttpResponse&);
Reply LatestPass(ServiceContext&, HttpRequest&, HttpResponse&);
Reply WalletLog(ServiceContext&, HttpRequest&, HttpResponse&);
// A wallet request's path segments as the route table names them: options.wallet_path (with
// any empty segments after it dropped) becomes "wallet". Other paths are left alone.
void NormalizeWalletPath(const ServiceContext& ctx, std::vector<std::string>& segments);
// Revokes card `serial` for `reason` and tells this instance's scans and a saved Google object
// (a failure there is logged for `google sync`); the ledger's errors as they come.
Result<> RevokeEverywhere(ServiceContext& ctx, const HttpRequest& req, const std::string& serial,
                          const std::string& reason);
// Imports `bytes` as a `kind` file ("roster", "subscriptions", "starters", "library" or
// "published", the last without a year), named "<kind>.csv" in errors and the audit entry.
// REQUIRES: `kind` is one of those.
Result<ledger::ImportSummary> RunImport(ServiceContext& ctx, const std::string& kind, int year,
                                        std::string bytes);
// The staff console (console_routes.cc): signed in by the lk_console session cookie.
Reply ConsoleHome(ServiceContext&, HttpRequest&, HttpResponse&);
Reply ConsoleSignIn(ServiceContext&, HttpRequest&, HttpResponse&);
Reply ConsoleSignOut(ServiceContext&, HttpRequest&, HttpResponse&);
Reply ConsoleExport(ServiceContext&, HttpRequest&, HttpResponse&);
Reply ConsoleCards(ServiceContext&, HttpRequest&, HttpResponse&);
Reply ConsoleRevoke(ServiceContext&, HttpRequest&, HttpResponse&);
Reply ConsoleClaimCode(ServiceContext&, HttpRequest&, HttpResponse&);
Reply ConsoleSystem(ServiceContext&, HttpRequest&, HttpResponse&);
Reply ConsoleImport(ServiceContext&, HttpRequest&, HttpResponse&);
// Whether the request carries a live console session (checked before a route's body is read).
bool ConsoleSignedIn(ServiceContext& ctx, const HttpRequest& req);
// Makes the console's session store (called once by Init, after InitPages).
Result<> InitConsole(ServiceContext& ctx);
// The teacher's pages (web_routes.cc).
Reply HomePage(ServiceContext&, HttpRequest&, HttpResponse&);
Reply ClaimPage(ServiceContext&, HttpRequest&, HttpResponse&);
Reply ClaimSubmit(ServiceContext&, HttpRequest&, HttpResponse&);
Reply LinkPage(ServiceContext&, HttpRequest&, HttpResponse&);
Reply LinkSubmit(ServiceContext&, HttpRequest&, HttpResponse&);
Reply SignInPage(ServiceContext&, HttpRequest&, HttpResponse&);
Reply SignInSubmit(ServiceContext&, HttpRequest&, HttpResponse&);
Reply CardPage(ServiceContext&, HttpRequest&, HttpResponse&);
Reply CardPass(ServiceContext&, HttpRequest&, HttpResponse&);
Reply CardGoogle(ServiceContext&, HttpRequest&, HttpResponse&);
Reply MovePage(ServiceContext&, HttpRequest&, HttpResponse&);
Reply MoveSubmit(ServiceContext&, HttpRequest&, HttpResponse&);
Reply SignOut(ServiceContext&, HttpRequest&, HttpResponse&);
Reply Stylesheet(ServiceContext&, HttpRequest&, HttpResponse&);
Reply BadgeImage(ServiceContext&, HttpRequest&, HttpResponse&);
// The partner's desk (desk_routes.cc).
Reply DeskPage(ServiceContext&, HttpRequest&, HttpResponse&);
Reply DeskSignIn(ServiceContext&, HttpRequest&, HttpResponse&);
Reply DeskScan(ServiceContext&, HttpRequest&, HttpResponse&);
Reply DeskSignOut(ServiceContext&, HttpRequest&, HttpResponse&);
Reply DeskScript(ServiceContext&, HttpRequest&, HttpResponse&);
Reply JsqrScript(ServiceContext&, HttpRequest&, HttpResponse&);
Reply JsqrLicense(ServiceContext&, HttpRequest&, HttpResponse&);
Reply DeskWorker(ServiceContext&, HttpRequest&, HttpResponse&);
Result<> InitDesk(ServiceContext& ctx);
// Whether a failure of `req` is answered as an HTML page: a page route, or an unmatched GET
// outside the JSON API (/v1/, /.well-known/).
bool WantsPage(const HttpRequest& req);
// The failure as a page in the request's language (404: the not-found page), with its status.
void WritePageProblem(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, const Problem& p);
// Loads the templates and the badge files, makes the session store (called once by Init).
Result<> InitPages(ServiceContext& ctx);

}  // namespace lk::api::internal
