#pragma once
// The HTTP service: teachers claim cards and download passes, partners verify scanned tokens,
// staff issue, revoke, import and read reports, and anyone reads the public keys, the signed
// revocation list, the OpenAPI description, health and metrics. Stateless apart from the ledger,
// so several instances on one PostgreSQL ledger behave as one service.
// Thread safety: Start and Stop are called from one thread; requests run on a fixed set of threads
// (ServiceOptions::threads) over non-blocking sockets (see internal/http_server.h for the limits
// every request meets before any of its body is read).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/base.h"
#include "base/card.h"
#include "ledger/ledger.h"
#include "mail/mail.h"
#include "passgen/google_wallet.h"
#include "signing/signing.h"
#include "wallet/wallet.h"

namespace lk::api {

struct RateLimit {
  double per_second = 0;  // sustained rate; 0 disables the limit
  double burst = 0;       // bucket size (requests allowed at once)
};

struct ServiceOptions {
  std::string host = "127.0.0.1";              // listen address
  int port = 8080;                             // 0 = an ephemeral port (see Service::port())
  std::string public_base_url;                 // absolute URL clients use; default http://host:port
  size_t max_json_bytes = 64 * 1024;           // JSON request bodies larger than this: 413
  size_t max_import_bytes = 64 * 1024 * 1024;  // CSV import bodies (staff only) larger than this: 413
  size_t max_head_bytes = 16 * 1024;           // request line and header fields: 431 above
  size_t max_header_fields = 64;               // 431 above
  // read: a head from its first byte, and a body (plus a second per 16 KiB received);
  // write: an answer (plus a second per 16 KiB); keep_alive: an idle connection.
  std::chrono::seconds read_timeout{10}, write_timeout{10}, keep_alive_timeout{5};
  // Request threads; 0 = max(4, 2 x cores). Connections hold no thread while they wait on the
  // network; a request holds one while its handler runs.
  int threads = 0;
  int max_heavy_requests = 0;               // imports and reports at once; 0 = max(1, threads / 2); then 503
  size_t max_connections = 4096;            // in all; also bounded by the open-file limit
  size_t max_connections_per_address = 64;  // per client address (IPv6: per /64); then 503
  // Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR blocks); their own
  // connections are not capped per address. Empty: X-Forwarded-For is ignored.
  std::vector<std::string> trusted_proxies;
  RateLimit per_address{200, 400};              // every request, by client address (/64)
  RateLimit per_key{1000, 2000};                // authenticated requests, by credential
  RateLimit claims_per_address{10.0 / 60, 10};  // POST /v1/claims, by client address (/64)
  std::chrono::seconds claim_retry_window{std::chrono::minutes(10)};  // a used code answers again
  std::chrono::seconds pass_cache_max_age{300};                       // Cache-Control of passes
  // How long a signed revocation list is valid (its exp - iat); at most 7 days.
  std::chrono::seconds revocation_list_lifetime{std::chrono::hours(72)};
  bool access_log = true;  // one JSON line per request on stderr
  // The teacher's pages (docs/web.md): how long a device stays signed in after a claim, the
  // largest form body, and the official wallet badge artwork (SVG or PNG; "" = a plain button).
  std::chrono::seconds teacher_session_lifetime{std::chrono::hours(24 * 180)};
  size_t max_form_bytes = 2048;
  std::string apple_badge_file, google_badge_file;
  // Apple's pass web service (docs/wallet-service.md) answers under this path: the path of the
  // passes' webServiceURL. Extra slashes after it are forgiven (.../wallet//v1/...).
  std::string wallet_path = "/wallet/";
  RateLimit wallet_log_per_address{1, 20};  // POST .../v1/log, by client address
  // "Send me a new link" (/link): how long a mailed sign-in link works, and how many a client
  // address may ask for (3 at once, then one per 200 s).
  std::chrono::seconds signin_link_lifetime{std::chrono::minutes(15)};
  RateLimit links_per_address{3.0 / 600, 3};
  // The partner's desk (docs/desk.md): how long a desk stays signed in, and the age of the
  // revocation list beyond which the page warns while verifying offline.
  std::chrono::seconds desk_session_lifetime{std::chrono::hours(24 * 30)};
  std::chrono::seconds desk_max_list_age{std::chrono::hours(24)};
  // The staff console (docs/console.md): how long a signed-in browser stays signed in.
  std::chrono::seconds console_session_lifetime{std::chrono::hours(8)};
};

// Builds the signed .pkpass bytes of a card as a wallet shows it (passgen::ShownCard; passgen
// behind it, wired in app/). Must be deterministic: equal inputs give equal bytes, because the
// service serves them under a strong ETag.
using PassBuilderFn = std::function<Result<std::string>(const Card& card, Time signing_time)>;

// Everything the service talks to. The service takes the ledger; the rest must outlive it.
struct ServiceDeps {
  const Clock* clock = nullptr;
  std::unique_ptr<ledger::Ledger> ledger;
  const signing::Keyring* keyring =
      nullptr;  // token keys: JWKS, card tokens, the revocation list (used by Start only)
  signing::TokenPolicy policy;
  PassBuilderFn build_pass;                                 // empty: pass downloads answer 503
  const signing::ServiceAccount* google_account = nullptr;  // null or empty issuer: Google answers 503
  passgen::GoogleWalletConfig google;
  passgen::GoogleCardDesign google_design;
  passgen::WalletApi* google_api = nullptr;  // when set, objects are created before redirecting
  // The passes' type identifier: the pass web service answers for it only ("" = 503).
  std::string pass_type_identifier;
  // When set, the service runs a wallet::UpdatePusher that pushes every pass change to the
  // devices registered for it (started with the service, stopped before the ledger closes).
  push::ApnsClient* apns = nullptr;
  wallet::PusherOptions pusher;
  // The sign-in mails of /link, sent by one thread of the service (the only user of `mailer`),
  // never while a request waits. Null: /link says links cannot be mailed.
  mail::Mailer* mailer = nullptr;
  mail::Address mail_from;   // the sender of those mails
  std::string mail_contact;  // who to contact, in the mail; "" = mail_from
};

class Service {
 public:
  // Binds the listening socket and starts serving on background threads. Fails with
  // kUnavailable when the address cannot be bound, kInvalidArgument on bad options or deps.
  static Result<std::unique_ptr<Service>> Start(ServiceOptions options, ServiceDeps deps);
  virtual ~Service() = default;  // stops first if still running
  // Switches to `keyring`'s token keys (JWKS, the verifier's key set, the signing key of new
  // card tokens and of the revocation list) for requests that start afterwards; on failure the
  // old keys stay. The service keeps what it needs: `keyring` may go afterwards. Thread-safe.
  virtual Result<> ReloadKeys(const signing::Keyring& keyring) = 0;
  virtual int port() const = 0;  // the bound port
  virtual const std::string& base_url() const = 0;
  // Graceful: stops accepting, lets requests in flight finish, then closes the ledger. Idempotent.
  virtual void Stop() = 0;
};

// Every (method, path template) the service routes, e.g. {"POST", "/v1/cards/{serial}/revoke"}.
std::vector<std::pair<std::string, std::string>> Routes();
// The OpenAPI 3 description served at /openapi.json (written by hand; a test compares it with Routes()).
std::string OpenApiDocument();

}  // namespace lk::api
