// The service: routing, authentication, limits, problem bodies, access logs, and the handlers.
// Handlers return Reply; every failure becomes an application/problem+json body in WriteProblem,
// and StatusFor is the one place where lk::Code becomes an HTTP status.
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <list>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include "api/api.h"
#include "api/internal/card_status.h"
#include "api/internal/http_server.h"
#include "api/internal/jws.h"
#include "api/internal/request_body.h"
#include "api/internal/limits.h"
#include "reports/reports.h"

namespace lk::api {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using internal::JwsSigner;
using internal::Metrics;
using internal::RateLimiter;

// A failure with what the problem body needs beyond lk::Error.
struct Problem {
  Error error;
  std::string field;      // the request field or parameter at fault, if any
  int status = 0;         // 0: from StatusFor(error.code)
  int64_t retry_after = 0;
  Problem(Error e) : error(std::move(e)) {}  // NOLINT: implicit from lk::Error on purpose
  Problem(Error e, std::string f, int s = 0) : error(std::move(e)), field(std::move(f)), status(s) {}
};
using Reply = std::expected<void, Problem>;
std::unexpected<Problem> Bad(std::string field, std::string detail) {
  return std::unexpected(Problem(Error{Code::kInvalidArgument, std::move(detail)}, std::move(field)));
}

// The one mapping from lk::Code to HTTP.
int StatusFor(Code code) {
  switch (code) {
    case Code::kInvalidArgument: return 400;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists: return 409;
    case Code::kFailedPrecondition: return 409;
    case Code::kUnauthenticated: return 401;
    case Code::kPermissionDenied: return 403;
    case Code::kResourceExhausted: return 429;
    case Code::kUnavailable: return 503;
    case Code::kInternal: return 500;
    case Code::kDataLoss: return 500;
  }
  return 500;
}

const char* TitleFor(int status) {
  switch (status) {
    case 400: return "Bad request";
    case 401: return "Authentication required";
    case 403: return "Forbidden";
    case 404: return "Not found";
    case 405: return "Method not allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Request body too large";
    case 415: return "Unsupported media type";
    case 429: return "Too many requests";
    case 503: return "Service unavailable";
    default: return status >= 500 ? "Internal error" : "Request failed";
  }
}

std::string SlugFor(int status) {
  std::string t = TitleFor(status);
  std::string s;
  for (char c : t) s += c == ' ' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Per-request context for the access log: set by the pre-routing hook and the route wrapper,
// read by the logger, all on the thread that serves the request.
struct RequestContext {
  std::string id;
  std::string route = "unmatched";
  int route_index = -1;  // into RouteTable(); -1 when unmatched
  std::chrono::steady_clock::time_point start;
};
thread_local RequestContext tl_request;

// A fresh request id: 20 Crockford base32 characters (100 bits) from a per-thread generator
// seeded once from the system CSPRNG. Ids need to be unique, not secret; this keeps a CSPRNG
// call (and OpenSSL's locks) off every request.
std::string RequestId() {
  static constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  struct Xorshift128Plus {
    uint64_t s[2];
    Xorshift128Plus() {
      std::string seed = RandomBytes(sizeof s);
      std::memcpy(s, seed.data(), sizeof s);
      s[0] |= 1;  // never the all-zero state
    }
    uint64_t Next() {
      uint64_t a = s[0];
      const uint64_t b = s[1];
      s[0] = b;
      a ^= a << 23;
      s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
      return s[1] + b;
    }
  };
  thread_local Xorshift128Plus gen;
  uint64_t hi = gen.Next(), lo = gen.Next();
  std::string id(20, '0');
  for (int i = 0; i < 10; ++i) id[i] = kCrockford[(hi >> (5 * i)) & 31];
  for (int i = 0; i < 10; ++i) id[10 + i] = kCrockford[(lo >> (5 * i)) & 31];
  return id;
}

void WriteProblem(httplib::Response& res, const Problem& p) {
  int status = p.status ? p.status : StatusFor(p.error.code);
  if (status >= 500) std::fprintf(stderr, "{\"level\":\"error\",\"request_id\":%s,\"error\":%s}\n",
                                  json(tl_request.id).dump().c_str(),
                                  json(p.error.message).dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  json body = {{"type", "https://lerarenkaart.be/problems/" + SlugFor(status)},
               {"title", TitleFor(status)},
               {"status", status},
               {"detail", status >= 500 ? "an internal error occurred; quote the request id" : p.error.message}};
  if (!p.field.empty()) body["field"] = p.field;
  if (!tl_request.id.empty()) body["request_id"] = tl_request.id;
  res.status = status;
  if (p.retry_after > 0) res.set_header("Retry-After", std::to_string(p.retry_after));
  if (status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"lerarenkaart\"");
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/problem+json");
}

void WriteJson(httplib::Response& res, const json& body, int status = 200) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

// `s` as a JSON string, as nlohmann::json dumps it (printable ASCII is copied; the rest, rare
// here, goes through nlohmann).
void AppendJsonString(std::string& out, std::string_view s) {
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'; })) {
    out += '"';
    out += s;
    out += '"';
    return;
  }
  out += json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
}

// Strict JSON bodies (api/internal/request_body.h), failures as problems.
std::expected<json, Problem> ParseBody(const httplib::Request& req, size_t max_bytes,
                                       std::span<const internal::FieldSpec> fields) {
  auto body = internal::ParseJsonBody(req.body, max_bytes, fields);
  if (body) return std::move(*body);
  if (body.error().status == 413)
    return std::unexpected(Problem(Error{Code::kResourceExhausted, body.error().detail}, "", 413));
  return Bad(body.error().field, body.error().detail);
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

std::string BearerToken(const httplib::Request& req) {
  std::string h = req.get_header_value("Authorization");
  if (h.size() > 7 && (h.starts_with("Bearer ") || h.starts_with("bearer "))) return h.substr(7);
  return "";
}

std::string CookieValue(const httplib::Request& req, std::string_view name) {
  std::string cookies = req.get_header_value("Cookie");
  size_t pos = 0;
  while (pos < cookies.size()) {
    size_t end = cookies.find(';', pos);
    if (end == std::string::npos) end = cookies.size();
    std::string_view part(cookies.data() + pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.starts_with(name) && part.size() > name.size() && part[name.size()] == '=')
      return std::string(part.substr(name.size() + 1));
    pos = end + 1;
  }
  return "";
}

std::string QuotedEtag(std::string_view bytes, size_t n = 32) {
  return "\"" + HexEncode(Sha256(bytes)).substr(0, n) + "\"";
}

// If-None-Match: "*" or a list of (weak or strong) tags; weak comparison.
bool EtagMatches(const httplib::Request& req, const std::string& etag) {
  std::string inm = req.get_header_value("If-None-Match");
  if (inm.empty()) return false;
  if (inm == "*") return true;
  auto strip = [](std::string_view t) {
    if (t.starts_with("W/")) t.remove_prefix(2);
    return t;
  };
  std::string_view want = strip(etag);
  size_t pos = 0;
  while (pos < inm.size()) {
    size_t end = inm.find(',', pos);
    if (end == std::string::npos) end = inm.size();
    std::string_view tag(inm.data() + pos, end - pos);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (strip(tag) == want) return true;
    pos = end + 1;
  }
  return false;
}

enum class Auth { kNone, kPartner, kStaff, kCard, kStaffOrCookie };

struct Route {
  const char* method;
  const char* path;     // OpenAPI path template
  const char* pattern;  // httplib regex
  Auth auth;
  // Served on the connection layer's fast path (internal/http_server.h) when the request is
  // plain: an exact path without parameters, and a handler that reads no query parameters and
  // no request headers but kFastHeaders.
  bool fast = false;
};

// The request headers the fast routes' handlers (and the pre-routing hook) read.
const std::vector<std::string> kFastHeaders = {"Authorization", "If-None-Match", "X-Request-Id"};

const std::vector<Route>& RouteTable() {
  static const std::vector<Route> kRoutes = {
      {"GET", "/healthz", "/healthz", Auth::kNone, true},
      {"GET", "/metrics", "/metrics", Auth::kNone, true},
      {"GET", "/openapi.json", "/openapi.json", Auth::kNone, true},
      {"GET", "/.well-known/jwks.json", "/\\.well-known/jwks\\.json", Auth::kNone, true},
      {"GET", "/v1/revocations", "/v1/revocations", Auth::kNone, true},
      {"POST", "/v1/verify", "/v1/verify", Auth::kPartner, true},
      {"POST", "/v1/claims", "/v1/claims", Auth::kNone},
      {"POST", "/v1/cards", "/v1/cards", Auth::kStaff},
      {"POST", "/v1/cards/{serial}/revoke", "/v1/cards/([A-Za-z0-9_-]{1,40})/revoke", Auth::kStaff},
      {"GET", "/v1/cards/{serial}/pass.pkpass", "/v1/cards/([A-Za-z0-9_-]{1,40})/pass\\.pkpass", Auth::kCard},
      {"GET", "/v1/cards/{serial}/google", "/v1/cards/([A-Za-z0-9_-]{1,40})/google", Auth::kCard},
      {"POST", "/v1/imports/{kind}", "/v1/imports/([a-z]{1,20})", Auth::kStaff},
      {"GET", "/v1/reports/adoption", "/v1/reports/adoption", Auth::kStaff},
      {"GET", "/dashboard", "/dashboard", Auth::kStaffOrCookie},
  };
  return kRoutes;
}

// Built passes by strong ETag; bounded, least recently used out first.
class PassCache {
 public:
  explicit PassCache(size_t capacity) : capacity_(capacity) {}
  std::shared_ptr<const std::string> Get(const std::string& etag) {
    std::lock_guard lock(mu_);
    auto it = map_.find(etag);
    if (it == map_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second.second);
    return it->second.first;
  }
  void Put(const std::string& etag, std::shared_ptr<const std::string> bytes) {
    std::lock_guard lock(mu_);
    if (map_.count(etag)) return;
    order_.push_front(etag);
    map_[etag] = {std::move(bytes), order_.begin()};
    if (map_.size() > capacity_) {
      map_.erase(order_.back());
      order_.pop_back();
    }
  }

 private:
  size_t capacity_;
  std::mutex mu_;
  std::list<std::string> order_;
  std::map<std::string, std::pair<std::shared_ptr<const std::string>, std::list<std::string>::iterator>> map_;
};

class ServiceImpl final : public Service {
 public:
  ServiceImpl(ServiceOptions o, ServiceDeps d)
      : options_(std::move(o)),
        deps_(std::move(d)),
        metrics_(Routes()),
        per_address_(options_.per_address),
        per_key_(options_.per_key),
        claims_per_address_(options_.claims_per_address),
        passes_(512),
        card_status_(kRevocationMaxStaleness, kMaxKnownSerials) {}
  ~ServiceImpl() override { Stop(); }

  Result<> Init() {
    if (!deps_.clock || !deps_.ledger || !deps_.keyring)
      return Fail(Code::kInvalidArgument, "the service needs a clock, a ledger and a keyring");
    if (auto r = ReloadKeys(*deps_.keyring); !r) return r;
    deps_.keyring = nullptr;  // everything needed is in keys_; the caller's keyring may go
    openapi_ = OpenApiDocument();
    openapi_etag_ = QuotedEtag(openapi_);
    RefreshRevoked();  // a failure here only means scans ask the ledger until a refresh succeeds
    Configure();
    return {};
  }

  Result<> Bind() {
    int port = options_.port == 0 ? server_.bind_to_any_port(options_.host) : (server_.bind_to_port(options_.host, options_.port) ? options_.port : -1);
    if (port <= 0)
      return Fail(Code::kUnavailable, "cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                                          " (address in use or not available)");
    port_ = port;
    if (listen_fd_ >= 0) ::listen(listen_fd_, 1024);  // Linux updates the backlog of a listening socket
    base_url_ = options_.public_base_url;
    if (base_url_.empty()) base_url_ = "http://" + options_.host + ":" + std::to_string(port_);
    while (base_url_.ends_with('/')) base_url_.pop_back();
    refresher_ = std::thread([this] { RefreshLoop(); });
    listener_ = std::thread([this] { server_.listen_after_bind(); });
    // The listener is ready once is_running() holds; wait briefly so Start returns a live service.
    for (int i = 0; i < 500 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return {};
  }

  Result<> ReloadKeys(const signing::Keyring& keyring) override {
    Time now = deps_.clock->Now();
    auto k = std::make_shared<KeyState>();
    k->verifier = signing::TokenVerifier::Create(keyring.Published(now), deps_.policy);
    k->jwks = keyring.Published(now).ToJwks();
    k->jwks_etag = QuotedEtag(k->jwks);
    auto issuer = signing::TokenIssuer::Create(keyring, deps_.policy);
    if (!issuer) return std::unexpected(issuer.error());
    k->issuer = std::move(*issuer);
    auto jws = JwsSigner::FromPem(keyring.ActivePrivateKeyPem(), k->issuer->kid());
    if (!jws) return std::unexpected(jws.error());
    k->revocation_signer = std::move(*jws);
    keys_.store(std::move(k));
    return {};
  }

  int port() const override { return port_; }
  const std::string& base_url() const override { return base_url_; }

  void Stop() override {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    // Closes the listening socket; the accept loop then drains the connections: idle keep-alive
    // ones close at once, queued and running requests finish (see internal/http_server.h).
    server_.stop();
    if (listener_.joinable()) listener_.join();
    {
      std::lock_guard refresh_lock(refresh_mu_);
      refresh_stop_ = true;
    }
    refresh_cv_.notify_all();
    if (refresher_.joinable()) refresher_.join();
    deps_.ledger.reset();  // every acknowledged write was committed before its response
  }

 private:
  using Handler = Reply (ServiceImpl::*)(const httplib::Request&, httplib::Response&, const std::string& subject);

  void Configure() {
    server_.set_worker_threads(std::max(0, options_.threads));
    server_.set_payload_max_length(std::max(options_.max_json_bytes, options_.max_import_bytes));
    server_.set_read_timeout(options_.read_timeout.count(), 0);
    server_.set_write_timeout(options_.write_timeout.count(), 0);
    server_.set_keep_alive_timeout(options_.keep_alive_timeout.count());
    server_.set_keep_alive_max_count(1000);
    server_.set_tcp_nodelay(true);
    // httplib listens with a backlog of 5, so a burst of new connections waits for SYN
    // retransmits (1 s). Remember the listening socket to widen the backlog after binding.
    server_.set_socket_options([this](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      listen_fd_ = sock;
    });  // headers and body go out in separate writes: no 40 ms Nagle stalls
    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      return PreRoute(req, res) ? httplib::Server::HandlerResponse::Handled : httplib::Server::HandlerResponse::Unhandled;
    });
    // Errors httplib produces itself (404 for unknown routes, 413, 400 for bad HTTP): give them
    // problem bodies. Responses that already have one are left alone.
    server_.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
      HandleError(req, res);
      return httplib::Server::HandlerResponse::Handled;
    }));
    server_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      WriteProblem(res, Problem(Error{Code::kInternal, "unhandled exception"}));
    });
    server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) { LogRequest(req, res); });

    static const std::map<std::string, Handler> kHandlers = {
        {"GET /healthz", &ServiceImpl::Healthz},
        {"GET /metrics", &ServiceImpl::MetricsText},
        {"GET /openapi.json", &ServiceImpl::OpenApi},
        {"GET /.well-known/jwks.json", &ServiceImpl::Jwks},
        {"GET /v1/revocations", &ServiceImpl::Revocations},
        {"POST /v1/verify", &ServiceImpl::VerifyToken},
        {"POST /v1/claims", &ServiceImpl::ClaimCard},
        {"POST /v1/cards", &ServiceImpl::IssueCard},
        {"POST /v1/cards/{serial}/revoke", &ServiceImpl::RevokeCard},
        {"GET /v1/cards/{serial}/pass.pkpass", &ServiceImpl::ApplePass},
        {"GET /v1/cards/{serial}/google", &ServiceImpl::GoogleLink},
        {"POST /v1/imports/{kind}", &ServiceImpl::Import},
        {"GET /v1/reports/adoption", &ServiceImpl::AdoptionReport},
        {"GET /dashboard", &ServiceImpl::Dashboard},
    };
    handlers_.clear();
    for (const Route& r : RouteTable()) {
      handlers_.push_back(kHandlers.at(std::string(r.method) + " " + r.path));
      auto fn = [this, &r](const httplib::Request& req, httplib::Response& res) { RunRoute(r, req, res); };
      if (std::string_view(r.method) == "GET") server_.Get(r.pattern, fn);
      else server_.Post(r.pattern, fn);
    }
    if (options_.fast_paths) {
      internal::HttpServer::FastRoute fast;
      fast.wants = [](std::string_view method, std::string_view path) { return FastRoute(method, path) != nullptr; };
      fast.headers = kFastHeaders;
      // What httplib's process_request does for a routed request: the pre-routing hook, the
      // route, the error handler for a bodiless error, the logger.
      fast.handle = [this](const httplib::Request& req, httplib::Response& res) {
        const Route* r = FastRoute(req.method, req.path);
        try {
          if (!PreRoute(req, res)) RunRoute(*r, req, res);
        } catch (...) {
          res = httplib::Response();
          WriteProblem(res, Problem(Error{Code::kInternal, "unhandled exception"}));
        }
        if (res.status == -1) res.status = 200;
        if (res.status >= 400 && res.body.empty()) HandleError(req, res);
        LogRequest(req, res);
      };
      server_.set_fast_route(std::move(fast));
    }
  }

  // The fast route for `method` and `path` (exact), or null.
  static const Route* FastRoute(std::string_view method, std::string_view path) {
    for (const Route& r : RouteTable())
      if (r.fast && path == r.path && method == r.method) return &r;
    return nullptr;
  }

  // Before routing: the request id, and the per-address rate limit. True when it answered.
  bool PreRoute(const httplib::Request& req, httplib::Response& res) {
    tl_request.start = std::chrono::steady_clock::now();
    tl_request.route = "unmatched";
    tl_request.route_index = -1;
    const std::string& id = req.get_header_value("X-Request-Id");
    bool ok = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
    tl_request.id = ok ? id : RequestId();
    res.set_header("X-Request-Id", tl_request.id);
    if (req.path != "/healthz" && req.path != "/metrics") {
      if (int64_t wait = per_address_.Take(req.remote_addr); wait > 0) {
        Problem p(Error{Code::kResourceExhausted, "too many requests from this address; retry after " +
                                                      std::to_string(wait) + " s"});
        p.retry_after = wait;
        WriteProblem(res, p);
        return true;
      }
    }
    return false;
  }

  // A routed request: authentication, then the route's handler; failures as problem bodies.
  void RunRoute(const Route& r, const httplib::Request& req, httplib::Response& res) {
    tl_request.route = r.path;
    tl_request.route_index = static_cast<int>(&r - RouteTable().data());
    Handler h = handlers_[tl_request.route_index];
    Reply reply;
    try {
      std::string subject;
      reply = Authenticate(r, req, subject);
      if (reply) reply = (this->*h)(req, res, subject);
    } catch (const std::exception& e) {
      reply = std::unexpected(Problem(Error{Code::kInternal, std::string("exception: ") + e.what()}));
    }
    if (!reply) WriteProblem(res, reply.error());
  }

  // Gives a bodiless error response a problem body: 404 for unknown paths, 405 (with Allow)
  // for a known path asked with another method, 413, 400 for bad HTTP.
  static void HandleError(const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    Problem p(Error{Code::kInvalidArgument, ""}, "", res.status);
    if (res.status == 404) {
      std::string allow = AllowedMethods(req.path);
      if (allow.empty()) {
        p.error = {Code::kNotFound, "no route for " + req.method + " " + req.path};
      } else {
        p.status = res.status = 405;
        p.error.message = req.path + " does not accept " + req.method + " (allowed: " + allow + ")";
        res.set_header("Allow", allow);
      }
    } else if (res.status == 413) {
      p.error = {Code::kResourceExhausted, "the request body is larger than the service accepts"};
    } else {
      p.error.message = TitleFor(res.status);
    }
    WriteProblem(res, p);
  }

  // The methods the routes matching `path` accept ("GET, HEAD" for a GET route, as httplib
  // answers HEAD with the GET handler), or "" when no route matches it.
  static std::string AllowedMethods(const std::string& path) {
    static const std::vector<std::regex> kPatterns = [] {
      std::vector<std::regex> v;
      for (const Route& r : RouteTable()) v.emplace_back(r.pattern);
      return v;
    }();
    bool get = false, post = false;
    for (size_t i = 0; i < kPatterns.size(); ++i)
      if (std::regex_match(path, kPatterns[i])) (std::string_view(RouteTable()[i].method) == "GET" ? get : post) = true;
    std::string allow = get ? "GET, HEAD" : "";
    if (post) allow += allow.empty() ? "POST" : ", POST";
    return allow;
  }

  void LogRequest(const httplib::Request& req, const httplib::Response& res) {
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tl_request.start).count();
    metrics_.Request(tl_request.route_index, req.method, res.status, seconds);
    if (!options_.access_log) return;
    // Only the route template: paths can carry serials, queries can carry tokens.
    json line = {{"ts", FormatRfc3339(deps_.clock->Now())},
                 {"request_id", tl_request.id},
                 {"method", req.method},
                 {"route", tl_request.route},
                 {"status", res.status},
                 {"duration_ms", std::round(seconds * 1e5) / 100},
                 {"bytes", res.body.size()}};
    std::string s = line.dump() + "\n";
    std::fwrite(s.data(), 1, s.size(), stderr);
  }

  // Checks the credential a route needs; `subject` names it for the per-key rate limit.
  Reply Authenticate(const Route& r, const httplib::Request& req, std::string& subject) {
    if (r.auth == Auth::kNone || r.auth == Auth::kCard) return {};
    std::string secret = BearerToken(req);
    if (r.auth == Auth::kStaffOrCookie && secret.empty()) {
      secret = req.get_param_value("token");
      if (secret.empty()) secret = CookieValue(req, "lk_staff");
    }
    if (secret.empty())
      return std::unexpected(Problem(Error{Code::kUnauthenticated, std::string("this endpoint needs ") +
                                                                       (r.auth == Auth::kPartner ? "a partner API key" : "a staff token") +
                                                                       " in 'Authorization: Bearer ...'"},
                                     "Authorization"));
    auto kind = r.auth == Auth::kPartner ? ledger::CredentialKind::kPartner : ledger::CredentialKind::kStaff;
    std::string cache_key = std::string(ledger::CredentialKindName(kind)) + ":" + Sha256(secret);
    if (auto cached = CachedCredential(cache_key)) {
      subject = *cached;
      return TakeKeyToken(subject);
    }
    auto cred = deps_.ledger->Authenticate(kind, secret);
    if (!cred) {
      if (cred.error().code == Code::kUnauthenticated)
        return std::unexpected(Problem(Error{Code::kUnauthenticated, std::string("the ") +
                                                                         (kind == ledger::CredentialKind::kPartner ? "partner API key" : "staff token") +
                                                                         " is not valid"},
                                       "Authorization"));
      return std::unexpected(Problem(cred.error()));
    }
    subject = std::string(ledger::CredentialKindName(kind)) + ":" + std::to_string(cred->id);
    RememberCredential(cache_key, subject);
    return TakeKeyToken(subject);
  }

  // Successful authentications are remembered for a few seconds (by the secret's hash), so a
  // busy partner does not cost a ledger query per scan. Failures are never cached.
  std::optional<std::string> CachedCredential(const std::string& key) {
    std::lock_guard lock(auth_cache_mu_);
    auto it = auth_cache_.find(key);
    if (it == auth_cache_.end() || std::chrono::steady_clock::now() > it->second.second) return std::nullopt;
    return it->second.first;
  }
  void RememberCredential(const std::string& key, const std::string& subject) {
    std::lock_guard lock(auth_cache_mu_);
    if (auth_cache_.size() > 4096) auth_cache_.clear();
    auth_cache_[key] = {subject, std::chrono::steady_clock::now() + std::chrono::seconds(10)};
  }

  Reply TakeKeyToken(const std::string& subject) {
    if (int64_t wait = per_key_.Take(subject); wait > 0) {
      Problem p(Error{Code::kResourceExhausted, "too many requests for this credential; retry after " + std::to_string(wait) + " s"});
      p.retry_after = wait;
      return std::unexpected(p);
    }
    return {};
  }

  // --- public --------------------------------------------------------------------------------
  Reply Healthz(const httplib::Request&, httplib::Response& res, const std::string&) {
    WriteJson(res, {{"status", "ok"}, {"ledger", deps_.ledger->backend()}});
    res.set_header("Cache-Control", "no-store");
    return {};
  }

  Reply MetricsText(const httplib::Request&, httplib::Response& res, const std::string&) {
    res.set_content(metrics_.Render(), "text/plain; version=0.0.4; charset=utf-8");
    res.set_header("Cache-Control", "no-store");
    return {};
  }

  Reply Cached(const httplib::Request& req, httplib::Response& res, const std::string& body, const std::string& etag,
               const char* type, const char* cache_control) {
    res.set_header("ETag", etag);
    res.set_header("Cache-Control", cache_control);
    if (EtagMatches(req, etag)) {
      res.status = 304;
      return {};
    }
    res.set_content(body, type);
    return {};
  }

  Reply OpenApi(const httplib::Request& req, httplib::Response& res, const std::string&) {
    return Cached(req, res, openapi_, openapi_etag_, "application/json", "public, max-age=3600");
  }

  Reply Jwks(const httplib::Request& req, httplib::Response& res, const std::string&) {
    auto keys = keys_.load();
    return Cached(req, res, keys->jwks, keys->jwks_etag, "application/jwk-set+json", "public, max-age=3600, must-revalidate");
  }

  // The card years whose tokens can still be valid now.
  std::vector<int> ValidYears(Time now) const {
    int current = int(BrusselsDate(now).year());
    std::vector<int> years;
    for (int y : {current - 1, current, current + 1})
      if (signing::CardYearValidity(y, deps_.policy).expires > now) years.push_back(y);
    return years;
  }

  Reply Revocations(const httplib::Request& req, httplib::Response& res, const std::string&) {
    auto years = ValidYears(deps_.clock->Now());
    auto revoked = deps_.ledger->RevokedSerials(years.front(), years.back());
    if (!revoked) return std::unexpected(Problem(revoked.error()));
    json by_year = json::object();
    for (int y : years) by_year[std::to_string(y)] = json::array();
    for (auto& [serial, year] : *revoked) by_year[std::to_string(year)].push_back(serial);
    json payload = {{"iss", deps_.policy.issuer}, {"typ", "revocations"}, {"years", years}, {"revoked", by_year}};
    std::string text = payload.dump();
    // Weak: ECDSA signatures are randomised, so equal lists may have different bytes.
    auto keys = keys_.load();
    std::string etag = "W/" + QuotedEtag(text + keys->issuer->kid());
    res.set_header("ETag", etag);
    res.set_header("Cache-Control", "public, max-age=60");
    if (EtagMatches(req, etag)) {
      res.status = 304;
      return {};
    }
    std::string jws;
    {
      std::lock_guard lock(revocations_mu_);
      if (revocations_etag_ != etag) {
        auto signed_doc = keys->revocation_signer->Sign(text, "lk-revocations+jwt");
        if (!signed_doc) return std::unexpected(Problem(signed_doc.error()));
        revocations_etag_ = etag;
        revocations_jws_ = std::move(*signed_doc);
      }
      jws = revocations_jws_;
    }
    res.set_content(jws, "application/jwt");
    return {};
  }

  // The revoked serials of the card years that can still be valid, into card_status_.
  void RefreshRevoked() {
    auto started = std::chrono::steady_clock::now();
    auto years = ValidYears(deps_.clock->Now());
    auto revoked = deps_.ledger->RevokedSerials(years.front(), years.back());
    if (!revoked) {
      // Logged once per failure streak; scans fall back to the ledger after the staleness bound.
      if (!refresh_failing_.exchange(true))
        std::fprintf(stderr, "{\"level\":\"error\",\"event\":\"revocation_refresh\",\"error\":%s}\n",
                     json(revoked.error().message).dump(-1, ' ', false, json::error_handler_t::replace).c_str());
      return;
    }
    refresh_failing_ = false;
    card_status_.ReplaceRevoked(*revoked, years.front(), years.back(), started);
  }

  void RefreshLoop() {
    std::unique_lock lock(refresh_mu_);
    while (!refresh_cv_.wait_for(lock, kRevocationRefresh, [this] { return refresh_stop_; })) {
      lock.unlock();
      RefreshRevoked();
      lock.lock();
    }
  }

  // --- partners ------------------------------------------------------------------------------
  Reply VerifyToken(const httplib::Request& req, httplib::Response& res, const std::string&) {
    // The usual body, {"token":"..."}, is read without building a JSON document; every other
    // body (and every error) goes through the strict parser.
    std::optional<json> parsed;
    std::optional<std::string_view> plain;
    if (req.body.size() <= options_.max_json_bytes) plain = internal::PlainVerifyToken(req.body);
    if (!plain) {
      auto body = ParseBody(req, options_.max_json_bytes, internal::kVerifyBody);
      if (!body) return std::unexpected(body.error());
      parsed = std::move(*body);
    }
    std::string_view token = plain ? *plain : std::string_view((*parsed)["token"].get_ref<const std::string&>());
    Time now = deps_.clock->Now();
    signing::Verdict v;
    if (token.size() > signing::kMaxTokenBytes) v.reason = "too_long";
    else v = keys_.load()->verifier->Verify(token, now);
    std::string status = "active", reason = v.reason;
    if (!v.valid) {
      status = v.reason == "expired" ? "expired" : "invalid";
    } else {
      int year = v.year.value_or(0);
      auto cached = card_status_.Lookup(v.serial, year, std::chrono::steady_clock::now());
      bool revoked = cached == internal::CardStatusCache::Status::kRevoked;
      if (!cached) {
        auto card = deps_.ledger->FindCard(v.serial);
        if (!card && card.error().code == Code::kNotFound) {
          status = "invalid";
          reason = "unknown_serial";
        } else if (!card) {
          return std::unexpected(Problem(card.error()));
        } else {
          revoked = card->revoked;
          if (revoked) card_status_.MarkRevoked(card->serial, card->year);
          else card_status_.RememberIssued(card->serial, card->year);
        }
      }
      if (revoked) {
        status = "revoked";
        reason = "revoked";
      }
    }
    metrics_.Verification(status == "active"    ? Metrics::Outcome::kActive
                          : status == "revoked" ? Metrics::Outcome::kRevoked
                          : status == "expired" ? Metrics::Outcome::kExpired
                                                : Metrics::Outcome::kInvalid);
    // The bytes nlohmann::json would write for {"valid", "status", "reason", "serial", "year"}
    // (members in name order, no spaces).
    std::string out = R"({"reason":)";
    AppendJsonString(out, reason);
    out += R"(,"serial":)";
    if (v.serial.empty()) out += "null";
    else AppendJsonString(out, v.serial);
    out += R"(,"status":)";
    AppendJsonString(out, status);
    out += status == "active" ? R"(,"valid":true,"year":)" : R"(,"valid":false,"year":)";
    out += v.year ? std::to_string(*v.year) : "null";
    out += '}';
    static const std::string kJsonType = "application/json";
    res.status = 200;
    res.set_content(out.data(), out.size(), kJsonType);
    res.set_header("Cache-Control", "no-store");
    return {};
  }

  // --- teachers ------------------------------------------------------------------------------
  // The answer to a claim or a staff issue: the card, its QR token (issued once and kept).
  Reply CardAnswer(httplib::Response& res, const ledger::IssuedCard& card) {
    auto record = deps_.ledger->FindCard(card.serial);
    if (!record) return std::unexpected(Problem(record.error()));
    std::string token = record->token;
    if (token.empty()) {
      Time now = deps_.clock->Now();
      auto fresh = keys_.load()->issuer->Issue(card.serial, card.year, now);
      if (!fresh) return std::unexpected(Problem(fresh.error(), "year"));
      auto attached = deps_.ledger->AttachToken(card.serial, *fresh, now);  // first writer wins
      if (!attached) return std::unexpected(Problem(attached.error()));
      token = attached->token;
    }
    if (card.is_new) metrics_.CardIssued();
    std::string base = "/v1/cards/" + card.serial;
    WriteJson(res,
              {{"serial", card.serial},
               {"year", card.year},
               {"status", record->revoked ? "revoked" : "active"},
               {"token", token},
               {"access_token", card.auth_token},
               {"pass_url", base + "/pass.pkpass"},
               {"google_url", base + "/google"}},
              card.is_new ? 201 : 200);
    res.set_header("Cache-Control", "no-store");
    return {};
  }

  Reply ClaimCard(const httplib::Request& req, httplib::Response& res, const std::string&) {
    if (int64_t wait = claims_per_address_.Take(req.remote_addr); wait > 0) {
      Problem p(Error{Code::kResourceExhausted, "too many claim attempts from this address; retry after " + std::to_string(wait) + " s"});
      p.retry_after = wait;
      return std::unexpected(p);
    }
    auto body = ParseBody(req, options_.max_json_bytes, internal::kClaimBody);
    if (!body) return std::unexpected(body.error());
    auto card = deps_.ledger->RedeemClaimCode((*body)["claim_code"].get<std::string>(), options_.claim_retry_window);
    if (!card) {
      Problem p(card.error(), "claim_code");
      if (card.error().code == Code::kFailedPrecondition) p.status = 410;
      return std::unexpected(p);
    }
    return CardAnswer(res, *card);
  }

  Result<ledger::CardRecord> CardWithAccess(const httplib::Request& req, const std::string& serial) {
    std::string token = BearerToken(req);
    if (token.empty())
      return Fail(Code::kUnauthenticated, "send the card's access token in 'Authorization: Bearer ...'");
    auto card = deps_.ledger->FindCard(serial);
    // An unknown serial and a wrong token look the same, so serials cannot be probed.
    if (!card && card.error().code != Code::kNotFound) return card;
    if (!card || card->auth_token.empty() || !ConstantTimeEqual(card->auth_token, token))
      return Fail(Code::kUnauthenticated, "the access token is not valid for this card");
    return card;
  }

  Reply ApplePass(const httplib::Request& req, httplib::Response& res, const std::string&) {
    std::string serial = req.matches[1];
    auto card = CardWithAccess(req, serial);
    if (!card) return std::unexpected(Problem(card.error(), "Authorization"));
    if (!deps_.build_pass)
      return std::unexpected(Problem(Error{Code::kUnavailable, "Apple Wallet passes are not configured on this service"}));
    if (card->token.empty() || !card->token_at)
      return std::unexpected(Problem(Error{Code::kFailedPrecondition, "the card has no QR token yet; claim it first"}));
    // Everything the bytes depend on: a strong validator for a deterministic build.
    std::string etag = QuotedEtag(card->serial + "\n" + std::to_string(card->update_tag) + "\n" + card->token + "\n" +
                                  card->holder_name + "\n" + card->school_number + "\n" + (card->revoked ? "void" : "ok"));
    res.set_header("ETag", etag);
    res.set_header("Cache-Control", "private, max-age=" + std::to_string(options_.pass_cache_max_age.count()));
    if (EtagMatches(req, etag)) {
      res.status = 304;
      return {};
    }
    auto bytes = passes_.Get(etag);
    if (!bytes) {
      PassCard c;
      c.serial = card->serial;
      c.year = card->year;
      c.holder_name = card->holder_name.empty() ? "Lerarenkaart" : card->holder_name;
      c.school = card->school_number.empty() ? "-" : "School " + card->school_number;
      c.token = card->token;
      c.voided = card->revoked;
      c.auth_token = card->auth_token;
      auto built = deps_.build_pass(c, *card->token_at);
      if (!built) return std::unexpected(Problem(built.error()));
      bytes = std::make_shared<const std::string>(std::move(*built));
      passes_.Put(etag, bytes);
    }
    res.set_content(*bytes, "application/vnd.apple.pkpass");
    res.set_header("Content-Disposition", "attachment; filename=\"lerarenkaart-" + card->serial + ".pkpass\"");
    return {};
  }

  Reply GoogleLink(const httplib::Request& req, httplib::Response& res, const std::string&) {
    std::string serial = req.matches[1];
    auto card = CardWithAccess(req, serial);
    if (!card) return std::unexpected(Problem(card.error(), "Authorization"));
    if (!deps_.google_account || deps_.google.issuer_id.empty())
      return std::unexpected(Problem(Error{Code::kUnavailable, "Google Wallet is not configured on this service (google.issuer_id)"}));
    if (card->revoked)
      return std::unexpected(Problem(Error{Code::kFailedPrecondition, "card " + serial + " is revoked"}));
    Time now = deps_.clock->Now();
    if (deps_.google_api) {
      // Create (or bring up to date) the object the skinny link names; the class once per year.
      passgen::GoogleCard gc = passgen::LedgerCard(card->serial, card->year, card->holder_name, card->school_number,
                                                   /*revoked=*/false);
      if (!GoogleClassReady(card->year)) {
        auto cls = passgen::UpsertClass(*deps_.google_api, deps_.google, deps_.google_design, card->year);
        if (!cls) return std::unexpected(Problem(GoogleError(cls.error())));
        std::lock_guard lock(google_mu_);
        google_class_years_.insert(card->year);
      }
      auto keys = keys_.load();
      auto synced = passgen::SyncCard(*deps_.google_api, deps_.google, deps_.google_design, *keys->issuer, *keys->verifier,
                                      deps_.policy, gc, now);
      if (!synced) return std::unexpected(Problem(GoogleError(synced.error())));
      if (*synced == passgen::CardOutcome::kSkipped)  // the card year is over: nothing to save
        return std::unexpected(Problem(Error{Code::kFailedPrecondition, "card " + serial + " has expired"}));
    }
    auto link = passgen::SkinnySaveLink(*deps_.google_account, deps_.google, card->serial, now);
    if (!link) return std::unexpected(Problem(link.error()));
    res.status = 302;
    res.set_header("Location", *link);
    res.set_header("Cache-Control", "no-store");
    WriteJson(res, {{"location", *link}}, 302);
    return {};
  }

  // --- staff ---------------------------------------------------------------------------------
  Reply IssueCard(const httplib::Request& req, httplib::Response& res, const std::string&) {
    auto body = ParseBody(req, options_.max_json_bytes, internal::kIssueBody);
    if (!body) return std::unexpected(body.error());
    int year = body->contains("year") ? (*body)["year"].get<int>() : int(BrusselsDate(deps_.clock->Now()).year());
    auto card = deps_.ledger->IssueDigital((*body)["staff_id"].get<std::string>(), year);
    if (!card) return std::unexpected(Problem(card.error(), card.error().code == Code::kNotFound ? "staff_id" : "year"));
    return CardAnswer(res, *card);
  }

  Reply RevokeCard(const httplib::Request& req, httplib::Response& res, const std::string&) {
    std::string serial = req.matches[1];
    auto body = ParseBody(req, options_.max_json_bytes, internal::kRevokeBody);
    if (!body) return std::unexpected(body.error());
    auto r = deps_.ledger->Revoke(serial, (*body)["reason"].get<std::string>());
    if (!r) return std::unexpected(Problem(r.error(), r.error().code == Code::kInvalidArgument ? "reason" : "serial"));
    // This instance's own scans see the revocation at once (others within the refresh bound).
    if (auto card = deps_.ledger->FindCard(serial)) card_status_.MarkRevoked(serial, card->year);
    else RefreshRevoked();
    if (deps_.google_api) {
      // A saved Google object shows the card as inactive. A failure is logged and left for
      // `google sync` to repair: the revocation itself stands.
      auto patched = deps_.google_api->PatchObject(passgen::ObjectId(deps_.google, serial), R"({"state":"INACTIVE"})");
      if (!patched && patched.error().code != Code::kNotFound)  // never saved: nothing to take back
        std::fprintf(stderr, "{\"level\":\"warning\",\"request_id\":%s,\"google\":%s}\n", json(tl_request.id).dump().c_str(),
                     json("object of revoked card " + serial + " not set INACTIVE (google sync repairs it): " +
                          patched.error().message)
                         .dump(-1, ' ', false, json::error_handler_t::replace)
                         .c_str());
    }
    WriteJson(res, {{"serial", serial}, {"status", "revoked"}});
    return {};
  }

  Reply Import(const httplib::Request& req, httplib::Response& res, const std::string&) {
    std::string kind = req.matches[1];
    static const char* kKinds[] = {"roster", "subscriptions", "starters", "library", "published"};
    if (std::none_of(std::begin(kKinds), std::end(kKinds), [&](const char* k) { return kind == k; }))
      return std::unexpected(Problem(Error{Code::kNotFound, "unknown import kind '" + kind +
                                                                "' (roster, subscriptions, starters, library, published)"},
                                     "kind"));
    int year = 0;
    if (kind != "published") {
      std::string y = req.get_param_value("year");
      if (y.empty()) return Bad("year", "the query parameter 'year' is required for a " + kind + " import");
      if (y.size() != 4 || y.find_first_not_of("0123456789") != std::string::npos)
        return Bad("year", "'year' must be a card year such as 2026, not '" + y + "'");
      year = std::stoi(y);
    }
    // The ledger imports files; a private directory keeps the upload's name meaningful in errors.
    fs::path dir = fs::temp_directory_path() / ("lk-import-" + RandomBase32(16));
    std::error_code ec;
    fs::create_directory(dir, ec);
    fs::permissions(dir, fs::perms::owner_all, ec);
    fs::path file = dir / (kind + ".csv");
    struct Cleanup {
      fs::path d;
      ~Cleanup() {
        std::error_code e;
        fs::remove_all(d, e);
      }
    } cleanup{dir};
    if (auto w = WriteFileAtomic(file, req.body); !w) return std::unexpected(Problem(w.error()));
    Result<ledger::ImportSummary> sum;
    if (kind == "roster") sum = deps_.ledger->ImportRoster(file, year);
    else if (kind == "published") sum = deps_.ledger->ImportPublished(file);
    else {
      ledger::Channel channel = kind == "subscriptions" ? ledger::Channel::kSubscription
                                : kind == "starters"    ? ledger::Channel::kStarter
                                                        : ledger::Channel::kLibrary;
      sum = deps_.ledger->ImportChannel(channel, file, year);
    }
    if (!sum) return std::unexpected(Problem(sum.error(), "body"));
    WriteJson(res, {{"kind", kind}, {"rows", sum->rows}, {"added", sum->added}, {"present", sum->present}});
    return {};
  }

  Result<reports::Report> BuildReport(const httplib::Request& req, Problem* field_error) {
    reports::ReportOptions o;
    auto param = [&](const char* name, const char* dflt) {
      std::string v = req.get_param_value(name);
      return v.empty() ? std::string(dflt) : v;
    };
    auto period = reports::ParsePeriod(param("period", "calendar"));
    if (!period) return *field_error = Problem(period.error(), "period"), std::unexpected(period.error());
    auto by = reports::ParseDimension(param("by", "none"));
    if (!by) return *field_error = Problem(by.error(), "by"), std::unexpected(by.error());
    o.period = *period;
    o.by = *by;
    if (std::string years = req.get_param_value("years"); !years.empty()) {
      auto range = reports::ParseYears(years);
      if (!range) return *field_error = Problem(range.error(), "years"), std::unexpected(range.error());
      o.first_year = range->first;
      o.last_year = range->second;
    }
    ledger::CountsQuery q;
    q.period = o.period == reports::Period::kSchool ? ledger::Period::kSchool : ledger::Period::kCalendar;
    q.by = static_cast<ledger::Dimension>(static_cast<int>(o.by));
    q.first_year = o.first_year;
    q.last_year = o.last_year;
    auto counts = deps_.ledger->Counts(q);
    if (!counts) return std::unexpected(counts.error());
    auto published = deps_.ledger->Published();
    if (!published) return std::unexpected(published.error());
    std::vector<reports::CountsRow> rows;
    for (auto& c : *counts)
      rows.push_back({c.period, c.group, c.eligible, c.subscription, c.starter, c.library, c.digital, c.holders,
                      c.digital_only, c.physical_only, c.both});
    std::vector<reports::PublishedRow> pub;
    for (auto& p : *published)
      pub.push_back({p.label, p.year, p.eligible, p.subscribers, p.starters, p.library, p.holders, p.printed_share});
    auto report = reports::BuildAdoptionReport(rows, pub, o);
    if (!report && report.error().code == Code::kInvalidArgument) *field_error = Problem(report.error(), "years");
    return report;
  }

  Reply AdoptionReport(const httplib::Request& req, httplib::Response& res, const std::string&) {
    std::string fmt = req.get_param_value("format");
    auto format = reports::ParseFormat(fmt.empty() ? "json" : fmt);
    if (!format) return std::unexpected(Problem(format.error(), "format"));
    Problem field_error(Error{});
    auto report = BuildReport(req, &field_error);
    if (!report) return std::unexpected(field_error.field.empty() ? Problem(report.error()) : field_error);
    static const std::map<reports::Format, const char*> kTypes = {
        {reports::Format::kTable, "text/plain; charset=utf-8"},
        {reports::Format::kCsv, "text/csv; charset=utf-8"},
        {reports::Format::kJson, "application/json"},
        {reports::Format::kHtml, "text/html; charset=utf-8"}};
    res.set_content(reports::Render(*report, *format), kTypes.at(*format));
    res.set_header("Cache-Control", "private, no-cache");
    return {};
  }

  Reply Dashboard(const httplib::Request& req, httplib::Response& res, const std::string&) {
    // A browser logs in once with ?token=: the token moves into an HttpOnly cookie and out of
    // the address bar (and out of history and Referer headers).
    if (std::string token = req.get_param_value("token"); !token.empty()) {
      bool https = base_url_.starts_with("https://");
      res.set_header("Set-Cookie", "lk_staff=" + token + "; Path=/dashboard; HttpOnly; SameSite=Strict" +
                                       (https ? "; Secure" : "") + "; Max-Age=28800");
      std::string target = "/dashboard";
      std::string query;
      for (const char* p : {"period", "by", "years"})
        if (req.has_param(p)) query += (query.empty() ? "?" : "&") + std::string(p) + "=" + req.get_param_value(p);
      res.status = 303;
      res.set_header("Location", target + query);
      res.set_header("Cache-Control", "no-store");
      return {};
    }
    Problem field_error(Error{});
    auto report = BuildReport(req, &field_error);
    if (!report) return std::unexpected(field_error.field.empty() ? Problem(report.error()) : field_error);
    res.set_content(reports::RenderHtml(*report), "text/html; charset=utf-8");
    res.set_header("Cache-Control", "private, no-cache");
    res.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    return {};
  }

  ServiceOptions options_;
  ServiceDeps deps_;
  internal::HttpServer server_;
  std::thread listener_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::string base_url_;
  std::mutex stop_mu_;
  bool stopped_ = false;

  Metrics metrics_;
  RateLimiter per_address_, per_key_, claims_per_address_;
  // The token keys: replaced whole by ReloadKeys; a request uses the set it loaded at its start.
  struct KeyState {
    std::unique_ptr<signing::TokenVerifier> verifier;
    std::unique_ptr<signing::TokenIssuer> issuer;
    std::unique_ptr<JwsSigner> revocation_signer;
    std::string jwks, jwks_etag;
  };
  std::atomic<std::shared_ptr<const KeyState>> keys_;
  std::vector<Handler> handlers_;  // by index into RouteTable()
  std::string openapi_, openapi_etag_;
  std::mutex revocations_mu_;
  std::mutex auth_cache_mu_;
  std::map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>> auth_cache_;
  std::string revocations_etag_, revocations_jws_;

  PassCache passes_;
  std::mutex google_mu_;
  std::set<int> google_class_years_;  // classes brought up to date by this process

  bool GoogleClassReady(int year) {
    std::lock_guard lock(google_mu_);
    return google_class_years_.contains(year);
  }
  // Google's answers reach the teacher as a gateway problem, never as their own bad request.
  static Error GoogleError(const Error& e) {
    return {Code::kUnavailable, "Google Wallet API: " + e.message};
  }

  // Verify answers revocation from memory: refreshed every kRevocationRefresh, trusted for at
  // most kRevocationMaxStaleness (then every scan asks the ledger until a refresh succeeds).
  static constexpr std::chrono::seconds kRevocationRefresh{1}, kRevocationMaxStaleness{2};
  static constexpr size_t kMaxKnownSerials = size_t{1} << 18;
  internal::CardStatusCache card_status_;
  std::thread refresher_;
  std::mutex refresh_mu_;
  std::condition_variable refresh_cv_;
  bool refresh_stop_ = false;
  std::atomic<bool> refresh_failing_{false};
};

}  // namespace

std::vector<std::pair<std::string, std::string>> Routes() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Route& r : RouteTable()) out.emplace_back(r.method, r.path);
  return out;
}

Result<std::unique_ptr<Service>> Service::Start(ServiceOptions options, ServiceDeps deps) {
  if (options.port < 0 || options.port > 65535)
    return Fail(Code::kInvalidArgument, "listen port " + std::to_string(options.port) + " is out of range (0-65535)");
  auto s = std::make_unique<ServiceImpl>(std::move(options), std::move(deps));
  if (auto r = s->Init(); !r) return std::unexpected(r.error());
  if (auto r = s->Bind(); !r) return std::unexpected(r.error());
  return std::unique_ptr<Service>(std::move(s));
}

}  // namespace lk::api
