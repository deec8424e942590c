// `lerarenkaart serve`: the HTTP service, configured from [server] and [google] in the TOML
// file, then the environment, then flags; SIGTERM or SIGINT stop it gracefully.
#include <signal.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "api/api.h"
#include "app/commands.h"
#include "ledger/ledger.h"
#include "mail/mail.h"
#include "passgen/passgen.h"
#include "push/push.h"
#include "templates/templates.h"

namespace lk::app {
namespace {
namespace fs = std::filesystem;

struct ServeArgs {
  std::string listen, port_file, ledger_url, public_url;
  int threads = 0;
  bool dev = false;  // create missing development keys (never without it)
};

Result<std::pair<std::string, int>> ParseListen(const std::string& text, const std::string& where) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return Fail(Code::kInvalidArgument, where + ": '" + text + "' is not HOST:PORT (e.g. 127.0.0.1:8080)");
  std::string host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535)
    return Fail(Code::kInvalidArgument, where + ": port '" + port + "' is not a number from 0 to 65535");
  return std::pair{host, std::stoi(port)};
}

// [server] from the configuration file, then LK_* environment overrides ([google] is in Config).
Result<> LoadServerConfig(const std::string& file, api::ServiceOptions& o, std::string& listen) {
  if (!file.empty()) {
    toml::table t;
    try {
      t = toml::parse_file(file);
    } catch (const toml::parse_error& e) {
      return Fail(Code::kInvalidArgument,
                  file + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
    }
    auto bad = [&](const std::string& key, const char* want) {
      return Fail(Code::kInvalidArgument, file + ": '" + key + "' must be " + want);
    };
    auto str = [&](const char* key, std::string& out) -> Result<> {
      if (auto node = t.at_path(key)) {
        auto v = node.value<std::string>();
        if (!v) return bad(key, "a string");
        out = *v;
      }
      return {};
    };
    auto num = [&](const char* key, double lo, double hi, auto& out) -> Result<> {
      if (auto node = t.at_path(key)) {
        auto v = node.value<double>();
        if (!v || *v < lo || *v > hi)
          return bad(key,
                     ("a number from " + std::to_string(int64_t(lo)) + " to " + std::to_string(int64_t(hi)))
                         .c_str());
        out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
      }
      return {};
    };
    int64_t read_timeout = o.read_timeout.count(), write_timeout = o.write_timeout.count(),
            keep_alive = o.keep_alive_timeout.count();
    double claims_per_minute = o.claims_per_address.per_second * 60;
    double links_per_hour = o.links_per_address.per_second * 3600;
    int64_t revocation_hours =
        std::chrono::duration_cast<std::chrono::hours>(o.revocation_list_lifetime).count();
    int64_t session_days = std::chrono::duration_cast<std::chrono::days>(o.teacher_session_lifetime).count();
    int64_t desk_days = std::chrono::duration_cast<std::chrono::days>(o.desk_session_lifetime).count(),
            desk_list_hours = std::chrono::duration_cast<std::chrono::hours>(o.desk_max_list_age).count();
    for (auto r : {str("server.listen", listen), str("server.public_url", o.public_base_url),
                   num("server.threads", 1, 1024, o.threads),
                   num("server.max_json_bytes", 256, 1 << 24, o.max_json_bytes),
                   num("server.max_import_bytes", 1024, 1 << 30, o.max_import_bytes),
                   num("server.read_timeout_seconds", 1, 600, read_timeout),
                   num("server.write_timeout_seconds", 1, 600, write_timeout),
                   num("server.keep_alive_timeout_seconds", 1, 600, keep_alive),
                   num("server.max_head_bytes", 1024, 1 << 20, o.max_head_bytes),
                   num("server.max_header_fields", 8, 1000, o.max_header_fields),
                   num("server.max_connections", 16, 1 << 20, o.max_connections),
                   num("server.max_connections_per_address", 1, 1 << 20, o.max_connections_per_address),
                   num("server.max_heavy_requests", 1, 1024, o.max_heavy_requests),
                   num("server.rate_per_address", 0, 1e6, o.per_address.per_second),
                   num("server.burst_per_address", 1, 1e6, o.per_address.burst),
                   num("server.rate_per_key", 0, 1e6, o.per_key.per_second),
                   num("server.burst_per_key", 1, 1e6, o.per_key.burst),
                   num("server.claims_per_minute", 0, 1e6, claims_per_minute),
                   num("server.revocation_list_hours", 1, 168, revocation_hours),
                   num("server.claim_burst", 1, 1e6, o.claims_per_address.burst),
                   num("server.links_per_hour", 0, 1e6, links_per_hour),
                   num("server.link_burst", 1, 1e6, o.links_per_address.burst),
                   // The teacher's pages (docs/web.md).
                   str("web.apple_badge", o.apple_badge_file), str("web.google_badge", o.google_badge_file),
                   num("web.session_days", 1, 400, session_days),
                   num("web.max_form_bytes", 256, 65536, o.max_form_bytes),
                   // The partner's desk (docs/desk.md).
                   num("desk.session_days", 1, 400, desk_days),
                   num("desk.max_list_age_hours", 1, 168, desk_list_hours)})
      if (!r) return r;
    if (auto node = t.at_path("server.access_log")) {
      auto v = node.value<bool>();
      if (!v) return bad("server.access_log", "true or false");
      o.access_log = *v;
    }
    if (auto node = t.at_path("server.trusted_proxies")) {
      auto* list = node.as_array();
      if (!list)
        return bad("server.trusted_proxies", "a list of addresses or CIDR blocks, e.g. [\"10.0.0.0/8\"]");
      o.trusted_proxies.clear();
      for (auto& item : *list) {
        auto v = item.value<std::string>();
        if (!v) return bad("server.trusted_proxies", "a list of strings");
        o.trusted_proxies.push_back(*v);
      }
    }
    o.read_timeout = std::chrono::seconds(read_timeout);
    o.write_timeout = std::chrono::seconds(write_timeout);
    o.keep_alive_timeout = std::chrono::seconds(keep_alive);
    o.revocation_list_lifetime = std::chrono::hours(revocation_hours);
    o.teacher_session_lifetime = std::chrono::days(session_days);
    o.desk_session_lifetime = std::chrono::days(desk_days);
    o.desk_max_list_age = std::chrono::hours(desk_list_hours);
    o.claims_per_address.per_second = claims_per_minute / 60;
    o.links_per_address.per_second = links_per_hour / 3600;
  }
  if (const char* v = std::getenv("LK_LISTEN"); v && *v) listen = v;
  if (const char* v = std::getenv("LK_PUBLIC_URL"); v && *v) o.public_base_url = v;
  if (const char* v = std::getenv("LK_TRUSTED_PROXIES"); v && *v) {
    o.trusted_proxies.clear();
    std::string all = v;
    for (size_t pos = 0; pos <= all.size();) {
      size_t comma = all.find(',', pos);
      if (comma == std::string::npos) comma = all.size();
      if (comma > pos) o.trusted_proxies.push_back(all.substr(pos, comma - pos));
      pos = comma + 1;
    }
  }
  if (const char* v = std::getenv("LK_SERVER_THREADS"); v && *v) {
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    if (*end || n < 1 || n > 1024)
      return Fail(Code::kInvalidArgument, "LK_SERVER_THREADS: a number from 1 to 1024");
    o.threads = static_cast<int>(n);
  }
  return {};
}

// The pass builders, made once the web service URL is known (after listening, when it is the
// service's own public URL on an ephemeral port).
struct PassBuilding {
  std::shared_ptr<const signing::PassSigner> signer;
  std::filesystem::path templates_dir;
  std::mutex mu;
  std::unique_ptr<passgen::PassBuilders> builders;  // null until SetWebServiceUrl
  void SetWebServiceUrl(std::string url) {
    passgen::PassOptions o;
    o.web_service_url = std::move(url);
    std::lock_guard lock(mu);
    builders = std::make_unique<passgen::PassBuilders>(*signer, std::move(o), templates_dir);
  }
};

// Apple passes: the pass-signing identity from the keys, one PassBuilder per card year from
// [passes] templates_dir. Each pass's authenticationToken is the card's auth_token in the ledger.
api::PassBuilderFn MakePassBuilder(std::shared_ptr<PassBuilding> building) {
  return api::PassBuilderFn([building](const Card& card, Time at) -> Result<std::string> {
    passgen::PassBuilders* builders;
    {
      std::lock_guard lock(building->mu);
      builders = building->builders.get();
    }
    if (!builders) return Fail(Code::kUnavailable, "the service is starting; retry in a moment");
    auto builder = builders->For(card.year);
    if (!builder)
      return Fail(Code::kUnavailable, "no usable pass template for card year " + std::to_string(card.year) +
                                          ": " + builder.error().message);
    return (*builder)->Build(card, at);
  });
}

// The path part of an absolute URL ("https://h/wallet/" -> "/wallet/").
std::string UrlPath(const std::string& url) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

// The keyring, or a usage error (exit 2) naming the keys folder and the fix when keys are missing:
// a wrong keys path in a configured deployment must not quietly become a new token key. With
// `dev`, missing development keys are created instead (and said so on stderr).
Result<std::unique_ptr<signing::Keyring>> OpenKeys(const signing::KeyConfig& keys, bool dev,
                                                   const Clock& clock) {
  if (!signing::KeysExist(keys)) {
    if (!dev)
      return Fail(
          Code::kInvalidArgument,
          "no keys in " + keys.dir.string() +
              " (no keyring.json): create them with 'lerarenkaart keys init', point [keys] dir at the "
              "deployment's keys, or pass --dev to create development keys");
    if (auto r = signing::InitDevelopmentKeys(keys, clock); !r) return std::unexpected(r.error());
    std::fprintf(stderr, "lerarenkaart: --dev: created development keys in %s (not for production)\n",
                 keys.dir.c_str());
  }
  auto ring = signing::Keyring::Open(keys);
  if (!ring) return ring;
  if ((*ring)->RevocationKeys().empty()) {  // a keys folder made by an older lerarenkaart
    if (!dev) return Fail(Code::kInvalidArgument, (*ring)->ActiveRevocationKeyPem().error().message);
    auto info = (*ring)->RotateRevocationKey(clock);
    if (!info) return std::unexpected(info.error());
    std::fprintf(stderr, "lerarenkaart: --dev: created revocation-list key %s in %s\n", info->kid.c_str(),
                 keys.dir.c_str());
  }
  return ring;
}

int Serve(const Globals& g, const ServeArgs& a) {
  auto c = Load(g);
  if (!c) return Report(c.error());
  api::ServiceOptions o;
  std::string listen = "127.0.0.1:8080";
  if (auto r = LoadServerConfig(g.config_file, o, listen); !r) return Report(r.error());
  if (!a.listen.empty()) listen = a.listen;
  if (!a.public_url.empty()) o.public_base_url = a.public_url;
  if (a.threads > 0) o.threads = a.threads;
  auto hp = ParseListen(listen, a.listen.empty() ? "listen address" : "--listen");
  if (!hp) return Report(hp.error());
  o.host = hp->first;
  o.port = hp->second;

  static SystemClock clock;
  auto ring = OpenKeys(c->keys, a.dev, clock);
  if (!ring) return Report(ring.error());
  api::ServiceDeps d;
  d.clock = &clock;
  d.keyring = ring->get();
  d.policy = c->tokens;
  auto ledger = OpenConfiguredLedger(*c, a.ledger_url, LedgerUse::kCreate, clock);
  if (!ledger) return Report(ledger.error());
  d.ledger = std::move(*ledger);
  std::string backend(d.ledger->backend());
  {  // card years valid now that have a roster but no pass template: their claims would fail
    const Time now = clock.Now();
    const int current = int(BrusselsDate(now).year());
    for (int y : {current - 1, current, current + 1}) {
      if (signing::CardYearValidity(y, c->tokens).expires <= now) continue;
      auto rows = d.ledger->counts().Query({ledger::Period::kCalendar, ledger::Dimension::kNone, y, y});
      if (!rows || rows->empty() || rows->front().eligible.value_or(0) == 0) continue;
      if (std::string w = PassTemplateWarning(*c, y); !w.empty())
        std::fprintf(stderr, "lerarenkaart: %s\n", w.c_str());
    }
  }

  std::shared_ptr<PassBuilding> building;
  std::unique_ptr<push::ApnsClient> apns;  // outlives the service (declared before it)
  if (auto signer = signing::PassSigner::Load(c->keys); !signer) {
    std::fprintf(stderr, "lerarenkaart: Apple passes disabled: %s\n", signer.error().message.c_str());
  } else {
    building = std::make_shared<PassBuilding>();
    building->signer = std::move(*signer);
    building->templates_dir = c->passes.templates_dir;
    d.build_pass = MakePassBuilder(building);
    d.pass_type_identifier = building->signer->pass_type_identifier();
    if (c->apns.enabled) {
      push::ApnsConfig ac;
      ac.base_url = c->apns.url;
      ac.topic = building->signer->pass_type_identifier();
      ac.certificate_pem = building->signer->CertificatePem();
      ac.private_key_pem = building->signer->PrivateKeyPem();
      ac.ca_file = c->apns.ca_file;
      ac.max_in_flight = c->apns.max_in_flight;
      ac.journal_batch = static_cast<size_t>(c->apns.journal_batch);
      auto client = push::ApnsClient::Create(std::move(ac), clock);
      if (!client) return Report(client.error());
      apns = std::move(*client);
      d.apns = apns.get();
      d.pusher.poll = std::chrono::milliseconds(c->apns.poll_ms);
      std::fprintf(stderr, "lerarenkaart: pass changes are pushed to registered devices through %s\n",
                   c->apns.url.c_str());
    } else {
      std::fprintf(stderr, "lerarenkaart: pushes to Apple Wallet disabled ([apns] enabled = false)\n");
    }
  }
  if (c->passes.web_service_url_configured) o.wallet_path = UrlPath(c->passes.web_service_url);
  const passgen::GoogleWalletConfig& google = c->google.wallet;
  auto account = signing::ServiceAccount::Load(c->keys);
  std::unique_ptr<passgen::WalletApi> google_api;  // outlives the service (declared before it)
  if (account && !google.issuer_id.empty()) {
    if (auto v = passgen::ValidateConfig(google); !v) return Report(v.error());
    d.google_account = account->get();
    d.google = google;
    if (c->google.use_api) {
      auto client = passgen::NewWalletClient(**account, google, clock);
      if (!client) return Report(client.error());
      google_api = std::move(*client);
      d.google_api = google_api.get();
      std::fprintf(stderr, "lerarenkaart: Google Wallet objects are created through %s\n",
                   google.api_url.c_str());
    }
  } else if (google.issuer_id.empty()) {
    std::fprintf(
        stderr,
        "lerarenkaart: Google Wallet links disabled (set [google] issuer_id or LK_GOOGLE_ISSUER_ID)\n");
  } else {
    std::fprintf(stderr, "lerarenkaart: Google Wallet links disabled: %s\n", account.error().message.c_str());
  }

  // "Send me a new link" mails through [smtp] when a sender is configured (docs/mail.md).
  std::unique_ptr<mail::Mailer> mailer;  // outlives the service (declared before it)
  if (!c->mail.from.empty()) {
    auto made = mail::NewSmtpMailer(c->mail.smtp, clock);
    if (!made) return Report(Error{Code::kInvalidArgument, "[smtp]: " + made.error().message});
    mailer = std::move(*made);
    d.mailer = mailer.get();
    d.mail_from = {c->mail.from, c->mail.from_name};
    d.mail_contact = c->mail.contact;
  } else {
    std::fprintf(stderr, "lerarenkaart: /link cannot mail sign-in links (set [smtp] from or LK_SMTP_FROM)\n");
  }

  // Block the stop signals before the worker threads start, so only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);  // reload the token keys (after `keys rotate`)
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto service = api::Service::Start(o, std::move(d));
  if (!service) return Report(service.error());
  int port = (*service)->port();
  if (!a.port_file.empty()) {
    if (auto w = WriteFileAtomic(a.port_file, std::to_string(port) + "\n"); !w) {
      (*service)->Stop();
      return Report(w.error());
    }
  }
  const std::string& base = (*service)->base_url();
  if (building) {
    // The passes' webServiceURL: as configured, else this service's own /wallet/ (Wallet
    // needs https://; http:// only to this machine, for tests).
    std::string ws = c->passes.web_service_url;
    if (!c->passes.web_service_url_configured) {
      ws = base + "/wallet/";
      bool loopback = base.starts_with("http://127.0.0.1") || base.starts_with("http://localhost") ||
                      base.starts_with("http://[::1]");
      if (!base.starts_with("https://") && !loopback) {
        std::fprintf(stderr,
                     "lerarenkaart: passes carry no webServiceURL: the public URL %s is not https:// (set "
                     "--public-url or [passes] web_service_url)\n",
                     base.c_str());
        ws.clear();
      }
    }
    building->SetWebServiceUrl(ws);
    if (!ws.empty()) std::printf("  wallet:  %s   (Apple's pass web service)\n", ws.c_str());
  }
  std::printf("lerarenkaart: listening on %s:%d (port %d), ledger %s\n", o.host.c_str(), port, port,
              backend.c_str());
  std::printf("  teacher: %s/   (claim codes: lerarenkaart import roster ... --claim-codes FILE)\n",
              base.c_str());
  std::printf("  staff:   %s/console   (sign in with a staff key: lerarenkaart staff add NAME)\n",
              base.c_str());
  std::printf("  client:  curl %s/healthz   and   curl %s/openapi.json\n", base.c_str(), base.c_str());
  std::printf("  stop:    Ctrl-C or SIGTERM (finishes requests in flight); SIGHUP reloads the token keys\n");
  std::fflush(stdout);

  int sig = 0;
  while (sigwait(&stop_signals, &sig) == 0 && sig == SIGHUP) {
    auto fresh = signing::Keyring::Open(c->keys);
    auto reloaded = fresh ? (*service)->ReloadKeys(**fresh) : Result<>(std::unexpected(fresh.error()));
    if (reloaded)
      std::fprintf(stderr, "lerarenkaart: SIGHUP: token keys reloaded from %s\n", c->keys.dir.c_str());
    else
      std::fprintf(stderr, "lerarenkaart: SIGHUP: keeping the old token keys: %s\n",
                   reloaded.error().message.c_str());
  }
  std::fprintf(stderr, "lerarenkaart: %s received; finishing requests in flight\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*service)->Stop();
  std::fprintf(stderr, "lerarenkaart: stopped\n");
  return 0;
}

}  // namespace

void AddServeCommands(CLI::App& app, Globals& g, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "serve",
      "Run the HTTP service (teachers, partners, staff; see docs/api.md).\n"
      "Defaults: 127.0.0.1:8080, the SQLite ledger in the data directory. Keys must exist (made by\n"
      "`lerarenkaart keys init`, or production keys in [keys] dir): without them serve exits 2, unless "
      "--dev\n"
      "asks it to create development keys.\n"
      "Configuration: [server], [web] (teacher's pages: apple_badge, google_badge, session_days), [smtp] "
      "(the sign-in mails of /link; docs/mail.md), [desk] (session_days, max_list_age_hours) and "
      "[google] in --config, then LK_LISTEN, LK_PUBLIC_URL, LK_SERVER_THREADS,\n"
      "LK_TRUSTED_PROXIES (comma-separated addresses or CIDR blocks whose X-Forwarded-For is believed),\n"
      "LK_GOOGLE_* (see docs/google-wallet.md), LK_LEDGER_URL, then these flags. With [google] use_api = "
      "true the\n"
      "Google link creates the card's object through the Wallet API first and revocations set it INACTIVE.\n"
      "SIGTERM/SIGINT shut down gracefully; SIGHUP reloads the token keys (after `lerarenkaart keys "
      "rotate`)\n"
      "without a restart.");
  auto a = std::make_shared<ServeArgs>();
  cmd->add_option("--listen", a->listen,
                  "HOST:PORT to listen on; port 0 picks a free port (default 127.0.0.1:8080)");
  cmd->add_option("--port-file", a->port_file, "Write the bound port to this file once listening");
  cmd->add_option("--ledger", a->ledger_url, "Ledger: a SQLite file path or a postgresql:// URL");
  cmd->add_option("--public-url", a->public_url, "The URL clients use to reach this service");
  cmd->add_option("--threads", a->threads,
                  "Request threads (default max(4, 2 x cores); connections waiting on the network hold none)")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--dev", a->dev,
                "Development: create development keys in the keys folder if absent (including a "
                "revocation-list key missing from an older folder); ./dev.sh run passes it");
  cmd->callback([&, a] { exit_code = Serve(g, *a); });
}

}  // namespace lk::app
