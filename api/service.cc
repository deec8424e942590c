// The service: admission (route, request id, rate limits, credentials, body caps) before any body
// is read, dispatch to the audiences' handlers, problem bodies for every failure, metrics and the
// access log. The connection layer is internal/http_server.h (the listener, http_server.cc, and
// each connection, http_connection.cc); the handlers are in
// public_routes.cc, partner_routes.cc, teacher_routes.cc and staff_routes.cc.
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>

#include "api/api.h"
#include "api/internal/service_context.h"

namespace lk::api {
namespace {
using json = nlohmann::json;
using internal::HttpRequest;
using internal::HttpResponse;
using internal::Problem;
using internal::Reply;
using internal::Route;
using internal::RouteTable;
using internal::ServiceContext;

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

// The client's X-Request-Id when it is a short plain token, else a fresh one.
std::string RequestIdFor(const HttpRequest& req) {
  std::string_view id = req.header("X-Request-Id");
  bool ok = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
  return ok ? std::string(id) : RequestId();
}

Code CodeForStatus(int status) {
  switch (status) {
    case 401:
      return Code::kUnauthenticated;
    case 404:
      return Code::kNotFound;
    case 413:
    case 429:
    case 431:
      return Code::kResourceExhausted;
    case 503:
      return Code::kUnavailable;
    default:
      return status >= 500 ? Code::kInternal : Code::kInvalidArgument;
  }
}

class ServiceImpl final : public Service, public internal::HttpHandler {
 public:
  ServiceImpl(ServiceOptions o, ServiceDeps d) : ctx_(std::move(o), std::move(d)) {}
  ~ServiceImpl() override { Stop(); }

  Result<> Init() {
    if (!ctx_.deps.clock || !ctx_.deps.ledger || !ctx_.deps.keyring)
      return Fail(Code::kInvalidArgument, "the service needs a clock, a ledger and a keyring");
    if (ctx_.options.revocation_list_lifetime <= std::chrono::seconds(0) ||
        ctx_.options.revocation_list_lifetime > signing::kMaxRevocationListLifetime)
      return Fail(Code::kInvalidArgument, "the revocation list's lifetime must be between 1 hour and 7 days");
    if (auto r = ReloadKeys(*ctx_.deps.keyring); !r) return r;
    ctx_.deps.keyring = nullptr;  // everything needed is in ctx_.keys; the caller's keyring may go
    auto trusted = internal::TrustedProxies::Parse(ctx_.options.trusted_proxies);
    if (!trusted) return std::unexpected(trusted.error());
    trusted_ = std::move(*trusted);
    if (auto r = internal::InitPages(ctx_); !r) return r;
    if (auto r = internal::InitDesk(ctx_); !r) return r;
    if (auto r = internal::InitConsole(ctx_); !r) return r;
    for (size_t pos = 0; pos < ctx_.options.wallet_path.size();) {
      size_t slash = ctx_.options.wallet_path.find('/', pos);
      if (slash == std::string::npos) slash = ctx_.options.wallet_path.size();
      if (slash > pos) ctx_.wallet_prefix.push_back(ctx_.options.wallet_path.substr(pos, slash - pos));
      pos = slash + 1;
    }
    if (ctx_.deps.apns) {
      pusher_ = std::make_unique<wallet::UpdatePusher>(*ctx_.deps.ledger, *ctx_.deps.apns, *ctx_.deps.clock,
                                                       ctx_.deps.pusher);
      ctx_.pusher = pusher_.get();
    }
    ctx_.openapi = OpenApiDocument();
    ctx_.openapi_etag = internal::QuotedEtag(ctx_.openapi);
    ctx_.RefreshRevoked();  // a failure here only means scans ask the ledger until a refresh succeeds
    return {};
  }

  Result<> Bind() {
    const ServiceOptions& o = ctx_.options;
    internal::HttpServerOptions so;
    so.host = o.host;
    so.port = o.port;
    so.threads = o.threads;
    so.limits.max_head_bytes = o.max_head_bytes;
    so.limits.max_header_fields = o.max_header_fields;
    so.limits.idle_timeout = o.keep_alive_timeout;
    so.limits.head_timeout = so.limits.body_timeout = o.read_timeout;
    so.limits.write_timeout = o.write_timeout;
    so.limits.max_connections = o.max_connections;
    so.limits.max_connections_per_address = o.max_connections_per_address;
    so.trusted_proxies = trusted_;
    so.default_headers = {{"X-Content-Type-Options", "nosniff"},
                          {"Referrer-Policy", "no-referrer"},
                          {"X-Frame-Options", "DENY"},
                          {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"}};
    if (o.public_base_url.starts_with("https://"))
      so.default_headers.emplace_back("Strict-Transport-Security", "max-age=31536000");
    int threads = o.threads > 0 ? o.threads : internal::HttpServer::DefaultThreads();
    max_heavy_ = o.max_heavy_requests > 0 ? o.max_heavy_requests : std::max(1, threads / 2);
    auto server = internal::HttpServer::Start(so, *this);
    if (!server) return std::unexpected(server.error());
    server_ = std::move(*server);
    ctx_.base_url = o.public_base_url;
    if (ctx_.base_url.empty()) ctx_.base_url = "http://" + o.host + ":" + std::to_string(server_->port());
    while (ctx_.base_url.ends_with('/')) ctx_.base_url.pop_back();
    refresher_ = std::thread([this] { RefreshLoop(); });
    if (pusher_) pusher_->Start();
    if (ctx_.deps.mailer) mail_thread_ = std::thread([this] { MailLoop(); });
    return {};
  }

  // Runs the queued mail jobs one by one (a failure is logged by the job, without the address:
  // the teacher can ask again); what is still queued at Stop is dropped.
  void MailLoop() {
    std::unique_lock lock(ctx_.outbox_mu);
    while (true) {
      ctx_.outbox_cv.wait(lock, [&] { return ctx_.outbox_stop || !ctx_.outbox.empty(); });
      if (ctx_.outbox_stop) return;
      auto job = std::move(ctx_.outbox.front());
      ctx_.outbox.pop_front();
      lock.unlock();
      job(*ctx_.deps.mailer);
      lock.lock();
    }
  }

  Result<> ReloadKeys(const signing::Keyring& keyring) override {
    Time now = ctx_.deps.clock->Now();
    auto k = std::make_shared<ServiceContext::KeyState>();
    k->verifier = signing::TokenVerifier::Create(keyring.Published(now), ctx_.deps.policy);
    k->jwks = keyring.Published(now).ToJwks();
    k->jwks_etag = internal::QuotedEtag(k->jwks);
    auto issuer = signing::TokenIssuer::Create(keyring, ctx_.deps.policy);
    if (!issuer) return std::unexpected(issuer.error());
    k->issuer = std::move(*issuer);
    auto revocations = signing::RevocationSigner::Create(keyring);
    if (!revocations) return std::unexpected(revocations.error());
    k->revocation_signer = std::move(*revocations);
    ctx_.keys.store(std::move(k));
    return {};
  }

  int port() const override { return server_ ? server_->port() : 0; }
  const std::string& base_url() const override { return ctx_.base_url; }

  void Stop() override {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    // Stops accepting; idle connections close at once; requests being read or handled finish.
    if (server_) server_->Stop();
    {
      std::lock_guard refresh_lock(refresh_mu_);
      refresh_stop_ = true;
    }
    refresh_cv_.notify_all();
    if (refresher_.joinable()) refresher_.join();
    if (pusher_) pusher_->Stop();  // a batch being pushed is finished or journalled first
    ctx_.pusher = nullptr;
    pusher_.reset();
    {
      std::lock_guard mail_lock(ctx_.outbox_mu);
      ctx_.outbox_stop = true;
    }
    ctx_.outbox_cv.notify_all();
    if (mail_thread_.joinable()) mail_thread_.join();
    ctx_.FlushTally();         // the partner use counted since the last write
    ctx_.deps.ledger.reset();  // every acknowledged write was committed before its response
  }

  // --- internal::HttpHandler ------------------------------------------------------------------
  std::optional<size_t> Admit(HttpRequest& req, HttpResponse& res) override {
    req.id = RequestIdFor(req);
    res.set_header("X-Request-Id", req.id);
    std::string allow;
    internal::NormalizeWalletPath(ctx_, req.segments);
    const Route* route = internal::MatchRoute(req.method, req.segments, req.params, allow);
    if (!route) {
      Problem p(Error{Code::kNotFound, "no route for " + std::string(req.method) + " " + req.path});
      if (!allow.empty()) {
        p.status = 405;
        p.error.message =
            req.path + " does not accept " + std::string(req.method) + " (allowed: " + allow + ")";
        res.set_header("Allow", allow);
      }
      return Answer(req, res, p);
    }
    req.route = static_cast<int>(route - RouteTable().data());
    const std::string& who = req.client.group;
    if (route->handler != internal::Healthz && route->handler != internal::Readyz &&
        route->handler != internal::MetricsText) {
      if (int64_t wait = ctx_.per_address.Take(who); wait > 0)
        return Answer(
            req, res,
            internal::Busy("too many requests from this address; retry after " + std::to_string(wait) + " s",
                           wait)
                .error());
    }
    if (route->limit) {
      if (int64_t wait = (ctx_.*route->limit).Take(who); wait > 0)
        return Answer(
            req, res,
            internal::Busy("too many attempts from this address; retry after " + std::to_string(wait) + " s",
                           wait)
                .error());
    }
    if (Reply auth = Authenticate(*route, req); !auth) return Answer(req, res, auth.error());
    switch (route->body) {
      case internal::BodyLimit::kNone:
        return 0;
      case internal::BodyLimit::kJson:
        return ctx_.options.max_json_bytes;
      case internal::BodyLimit::kImport:
        return ctx_.options.max_import_bytes;
      case internal::BodyLimit::kForm:
        return ctx_.options.max_form_bytes;
    }
    return 0;
  }

  void Handle(HttpRequest& req, HttpResponse& res) override {
    const Route& route = RouteTable()[req.route];
    Reply reply;
    bool heavy = route.heavy;
    if (heavy && heavy_.fetch_add(1) >= max_heavy_) {
      heavy_.fetch_sub(1);
      heavy = false;
      reply = internal::Busy("the service is busy with other imports and reports; retry in a few seconds", 5,
                             503);
    } else {
      try {
        reply = route.handler(ctx_, req, res);
      } catch (const std::exception& e) {
        reply = std::unexpected(Problem(Error{Code::kInternal, std::string("exception: ") + e.what()}));
      } catch (...) {
        reply = std::unexpected(Problem(Error{Code::kInternal, "unknown exception"}));
      }
    }
    if (heavy) heavy_.fetch_sub(1);
    if (!reply) Answer(req, res, reply.error());
  }

  void Refuse(HttpRequest& req, int status, std::string_view detail, HttpResponse& res) override {
    if (req.id.empty()) req.id = RequestId();
    Problem p(Error{CodeForStatus(status), std::string(detail)}, "", status);
    if (status == 503) p.retry_after = 1;
    Answer(req, res, p);
  }

  void Finished(const HttpRequest& req, const HttpResponse& res) override {
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - req.started).count();
    std::string_view method = internal::Metrics::MethodLabel(req.method);
    ctx_.metrics.Request(req.route, method, res.status, seconds);
    if (!ctx_.options.access_log) return;
    // Only the route template: paths can carry serials, queries can carry tokens.
    json line = {{"ts", FormatRfc3339(ctx_.deps.clock->Now())},
                 {"request_id", req.id},
                 {"method", method},
                 {"route", req.route >= 0 ? RouteTable()[req.route].path : "unmatched"},
                 {"status", res.status},
                 {"duration_ms", std::round(seconds * 1e5) / 100},
                 {"bytes", res.body.size()}};
    std::string s = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    std::fwrite(s.data(), 1, s.size(), stderr);
  }

 private:
  // Writes the problem (keeping the request id) and tells the server the request is answered.
  std::nullopt_t Answer(const HttpRequest& req, HttpResponse& res, const Problem& p) {
    std::string allow(res.header("Allow"));
    res = HttpResponse();
    res.set_header("X-Request-Id", req.id);
    if (!allow.empty()) res.set_header("Allow", allow);
    if (internal::WantsPage(req))
      internal::WritePageProblem(ctx_, req, res, p);
    else
      internal::WriteProblem(req, res, p);
    return std::nullopt;
  }

  // Checks the credential a route needs; sets req.subject for the per-key rate limit.
  Reply Authenticate(const Route& r, HttpRequest& req) {
    using internal::Auth;
    if (r.auth == Auth::kNone || r.auth == Auth::kCard) return {};
    if (r.auth == Auth::kConsole) {
      if (internal::ConsoleSignedIn(ctx_, req)) return {};
      return std::unexpected(
          Problem(Error{Code::kUnauthenticated, "sign in to the staff console first"}, "lk_console", 401));
    }
    std::string secret = internal::BearerToken(req);
    if (secret.empty())
      return std::unexpected(
          Problem(Error{Code::kUnauthenticated,
                        std::string("this endpoint needs ") +
                            (r.auth == Auth::kPartner ? "a partner API key" : "a staff token") +
                            " in 'Authorization: Bearer ...'"},
                  "Authorization"));
    auto kind = r.auth == Auth::kPartner ? ledger::CredentialKind::kPartner : ledger::CredentialKind::kStaff;
    std::string cache_key = std::string(ledger::CredentialKindName(kind)) + ":" + Sha256(secret);
    if (auto cached = CachedCredential(cache_key)) {
      req.subject = *cached;
      return TakeKeyToken(req.subject);
    }
    auto cred = ctx_.deps.ledger->access().Authenticate(kind, secret);
    if (!cred) {
      if (cred.error().code == Code::kUnauthenticated)
        return std::unexpected(
            Problem(Error{Code::kUnauthenticated,
                          std::string("the ") +
                              (kind == ledger::CredentialKind::kPartner ? "partner API key" : "staff token") +
                              " is not valid"},
                    "Authorization"));
      return std::unexpected(Problem(cred.error()));
    }
    req.subject = std::string(ledger::CredentialKindName(kind)) + ":" + std::to_string(cred->id);
    RememberCredential(cache_key, req.subject);
    return TakeKeyToken(req.subject);
  }

  // Successful authentications are remembered for a few seconds (by the secret's hash), so a
  // busy partner does not cost a ledger query per scan. Failures are never cached.
  std::optional<std::string> CachedCredential(const std::string& key) {
    std::lock_guard lock(auth_cache_mu_);
    auto it = auth_cache_.find(key);
    if (it == auth_cache_.end() || ctx_.deps.clock->Monotonic() > it->second.second) return std::nullopt;
    return it->second.first;
  }
  void RememberCredential(const std::string& key, const std::string& subject) {
    std::lock_guard lock(auth_cache_mu_);
    if (auth_cache_.size() > 4096) auth_cache_.clear();
    auth_cache_[key] = {subject, ctx_.deps.clock->Monotonic() + kCredentialCacheTime};
  }

  Reply TakeKeyToken(const std::string& subject) {
    if (int64_t wait = ctx_.per_key.Take(subject); wait > 0)
      return internal::Busy(
          "too many requests for this credential; retry after " + std::to_string(wait) + " s", wait);
    return {};
  }

  void RefreshLoop() {
    std::unique_lock lock(refresh_mu_);
    while (
        !refresh_cv_.wait_for(lock, ServiceContext::kRevocationRefresh, [this] { return refresh_stop_; })) {
      lock.unlock();
      ctx_.RefreshRevoked();
      if (++ticks_ % (ServiceContext::kTallyFlush / ServiceContext::kRevocationRefresh) == 0)
        ctx_.FlushTally();
      lock.lock();
    }
  }

  ServiceContext ctx_;
  internal::TrustedProxies trusted_;
  std::unique_ptr<internal::HttpServer> server_;
  std::mutex stop_mu_;
  bool stopped_ = false;
  int max_heavy_ = 1;
  std::atomic<int> heavy_{0};

  std::mutex auth_cache_mu_;
  static constexpr std::chrono::seconds kCredentialCacheTime{10};
  std::map<std::string, std::pair<std::string, Instant>> auth_cache_;

  std::unique_ptr<wallet::UpdatePusher> pusher_;
  std::thread refresher_, mail_thread_;
  std::mutex refresh_mu_;
  std::condition_variable refresh_cv_;
  bool refresh_stop_ = false;
  int64_t ticks_ = 0;  // refresh rounds, for the tally's less frequent writes
};

}  // namespace

namespace internal {
ServiceContext::ServiceContext(ServiceOptions o, ServiceDeps d)
    : options(std::move(o)),
      deps(std::move(d)),
      metrics(Routes()),
      per_address(options.per_address, *deps.clock),
      per_key(options.per_key, *deps.clock),
      claims_per_address(options.claims_per_address, *deps.clock),
      links_per_address(options.links_per_address, *deps.clock),
      wallet_log_per_address(options.wallet_log_per_address, *deps.clock) {}

bool ServiceContext::PostMail(std::function<void(mail::Mailer&)> job) {
  if (!deps.mailer) return false;
  {
    std::lock_guard lock(outbox_mu);
    if (outbox_stop || outbox.size() >= kMaxOutbox) return false;
    outbox.push_back(std::move(job));
  }
  outbox_cv.notify_one();
  return true;
}
}  // namespace internal

Result<std::unique_ptr<Service>> Service::Start(ServiceOptions options, ServiceDeps deps) {
  if (options.port < 0 || options.port > 65535)
    return Fail(Code::kInvalidArgument,
                "listen port " + std::to_string(options.port) + " is out of range (0-65535)");
  if (!deps.clock) return Fail(Code::kInvalidArgument, "the service needs a clock");
  auto s = std::make_unique<ServiceImpl>(std::move(options), std::move(deps));
  if (auto r = s->Init(); !r) return std::unexpected(r.error());
  if (auto r = s->Bind(); !r) return std::unexpected(r.error());
  return std::unique_ptr<Service>(std::move(s));
}

}  // namespace lk::api
