// Google Wallet commands: `pass google-link` (save links) and `google sync` (keep saved cards current).
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/commands.h"
#include "app/progress.h"
#include "ledger/ledger.h"
#include "passgen/google_wallet.h"
#include "passgen/passgen.h"

namespace lk::app {
namespace {

// Flags override [google] in the configuration file and the LK_GOOGLE_* variables.
struct GoogleArgs {
  std::string issuer_id, token_url, api_url, at;
  std::vector<std::string> origins;
  double timeout_s = 0;  // 0: from the configuration
};

void AddGoogleOptions(CLI::App* cmd, GoogleArgs& a) {
  cmd->add_option("--issuer-id", a.issuer_id,
                  "Google Wallet issuer id (digits, from the Wallet console; default [google] issuer_id, "
                  "$LK_GOOGLE_ISSUER_ID)");
  cmd->add_option("--origin", a.origins,
                  "Origin allowed to show the save button (repeatable; default [google] origins or "
                  "https://lerarenkaart.be)");
  cmd->add_option(
      "--token-url", a.token_url,
      "OAuth 2.0 token endpoint (default [google] token_url or https://oauth2.googleapis.com/token)");
  cmd->add_option("--api-url", a.api_url,
                  "Wallet API base URL (default [google] api_url or "
                  "https://walletobjects.googleapis.com/walletobjects/v1)");
  cmd->add_option("--timeout", a.timeout_s,
                  "Seconds allowed per HTTP attempt (default [google] timeout_seconds or 20)")
      ->check(CLI::Range(0.1, 300.0));
  cmd->add_option("--at", a.at, "Act as if it were this RFC 3339 time (default now)");
}

// [google] from the configuration (with LK_GOOGLE_* applied), then the flags.
Result<passgen::GoogleWalletConfig> MakeConfig(const Config& config, const GoogleArgs& a) {
  passgen::GoogleWalletConfig c = config.google.wallet;
  if (!a.issuer_id.empty()) c.issuer_id = a.issuer_id;
  if (c.issuer_id.empty())
    return Fail(Code::kInvalidArgument,
                "no Google Wallet issuer id: pass --issuer-id, set [google] issuer_id in the "
                "configuration file or LK_GOOGLE_ISSUER_ID");
  if (!a.origins.empty()) c.origins = a.origins;
  if (!a.token_url.empty()) c.token_url = a.token_url;
  if (!a.api_url.empty()) c.api_url = a.api_url;
  if (a.timeout_s > 0) c.total_timeout = std::chrono::milliseconds(static_cast<int64_t>(a.timeout_s * 1000));
  c.connect_timeout = std::min(c.connect_timeout, c.total_timeout);
  return c;
}

// Everything a command that talks to Google needs, loaded once.
struct GoogleContext {
  Config config;
  passgen::GoogleWalletConfig wallet;
  Time now;
  std::unique_ptr<signing::ServiceAccount> account;
  std::unique_ptr<signing::Keyring> keyring;
  std::unique_ptr<signing::TokenIssuer> issuer;
  std::unique_ptr<signing::TokenVerifier> verifier;
};

Result<GoogleContext> Prepare(const Globals& g, const GoogleArgs& a, bool need_tokens) {
  GoogleContext ctx;
  auto c = Load(g);
  if (!c) return std::unexpected(c.error());
  ctx.config = std::move(*c);
  auto wallet = MakeConfig(ctx.config, a);
  if (!wallet) return std::unexpected(wallet.error());
  ctx.wallet = std::move(*wallet);
  if (auto r = passgen::ValidateConfig(ctx.wallet); !r) return std::unexpected(r.error());
  if (a.at.empty()) {
    ctx.now = SystemClock().Now();
  } else {
    auto t = ParseRfc3339(a.at);
    if (!t) return Fail(Code::kInvalidArgument, "--at: " + t.error().message);
    ctx.now = *t;
  }
  auto account = signing::ServiceAccount::Load(ctx.config.keys);
  if (!account) return std::unexpected(account.error());
  ctx.account = std::move(*account);
  if (need_tokens) {
    auto ring = signing::Keyring::Open(ctx.config.keys);
    if (!ring) return std::unexpected(ring.error());
    ctx.keyring = std::move(*ring);
    auto issuer = signing::TokenIssuer::Create(*ctx.keyring, ctx.config.tokens);
    if (!issuer) return std::unexpected(issuer.error());
    ctx.issuer = std::move(*issuer);
    ctx.verifier = signing::TokenVerifier::Create(ctx.keyring->Published(ctx.now), ctx.config.tokens);
  }
  return ctx;
}

class Patcher final : public GoogleCardPatcher {
 public:
  Patcher(std::unique_ptr<signing::ServiceAccount> account, passgen::GoogleWalletConfig config,
          signing::TokenPolicy policy)
      : account_(std::move(account)), config_(std::move(config)), policy_(std::move(policy)) {}

  Result<> Connect(const Clock& clock) {
    auto api = passgen::NewWalletClient(*account_, config_, clock);
    if (!api) return std::unexpected(api.error());
    api_ = std::move(*api);
    return {};
  }

  void Patch(const std::vector<std::pair<Card, std::string>>& patches) override {
    std::atomic<size_t> next{0};
    std::mutex mu;
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < patches.size();) {
        const Card& card = patches[i].first;
        auto r = api_->PatchObject(passgen::ObjectId(config_, PassSerial(card)), patches[i].second);
        std::lock_guard lock(mu);
        if (r) {
          ++patched;
        } else if (r.error().code == Code::kNotFound) {
          ++not_saved;  // never saved to Google Wallet: nothing to change
        } else {
          ++failed;
          std::fprintf(stderr,
                       "lerarenkaart: google: object of card %s not patched (google sync repairs it): %s\n",
                       card.serial.c_str(), r.error().message.c_str());
        }
      }
    };
    std::vector<std::jthread> threads;
    for (int t = 1; t < kParallel && size_t(t) < patches.size(); ++t) threads.emplace_back(work);
    work();
  }

  std::string CardPatch(const Card& card, const std::string& token) const override {
    auto full = nlohmann::json::parse(passgen::GenericObjectJson(
        config_, passgen::GoogleCardDesign{}, policy_, passgen::ShownCard(card), token, "ACTIVE"));
    nlohmann::json patch = nlohmann::json::object();
    for (const char* field : {"state", "header", "textModulesData", "validTimeInterval", "barcode"})
      if (full.contains(field)) patch[field] = full[field];
    return patch.dump();
  }

 private:
  static constexpr int kParallel = 4;  // requests at a time, as `google sync --parallel` by default
  std::unique_ptr<signing::ServiceAccount> account_;
  passgen::GoogleWalletConfig config_;
  signing::TokenPolicy policy_;
  std::unique_ptr<passgen::WalletApi> api_;
};

}  // namespace

Result<std::unique_ptr<GoogleCardPatcher>> GoogleCardPatcher::Open(const Config& c, const Clock& clock) {
  if (!c.google.use_api || c.google.wallet.issuer_id.empty()) return std::unique_ptr<GoogleCardPatcher>();
  if (auto r = passgen::ValidateConfig(c.google.wallet); !r) return std::unexpected(r.error());
  auto account = signing::ServiceAccount::Load(c.keys);
  if (!account) return std::unexpected(account.error());
  auto p = std::make_unique<Patcher>(std::move(*account), c.google.wallet, c.tokens);
  if (auto r = p->Connect(clock); !r) return std::unexpected(r.error());
  return std::unique_ptr<GoogleCardPatcher>(std::move(p));
}

void AddGoogleCommands(CLI::App& app, Globals& g, int& exit_code) {
  // `pass` may already exist (the Apple side adds `pass` commands too).
  CLI::App* pass = nullptr;
  try {
    pass = app.get_subcommand("pass");
  } catch (const CLI::OptionNotFound&) {
    pass = app.add_subcommand("pass", "Wallet passes for teachers");
    pass->require_subcommand(1);
  }

  auto* link = pass->add_subcommand(
      "google-link",
      "Print a 'save to Google Wallet' link for one card. First creates or updates the card year's class\n"
      "and the card's object through the Google Wallet API (so the link can be a short 'skinny' JWT that\n"
      "names only the object), then prints https://pay.google.com/gp/v/save/<jwt>.");
  struct LinkArgs {
    GoogleArgs google;
    std::string serial, name, school;
    int year = 0;
    bool no_api = false, full = false;
  };
  auto la = std::make_shared<LinkArgs>();
  link->add_option("--serial", la->serial, "Card serial (letters, digits, '-', '_')")->required();
  link->add_option("--year", la->year, "Card year, e.g. 2026")->required();
  link->add_option("--name", la->name, "Holder name as printed on the card (UTF-8, at most 200 characters)")
      ->required();
  link->add_option("--school", la->school, "School name (UTF-8, at most 200 characters)")->required();
  link->add_flag("--no-api", la->no_api,
                 "Do not call the API: print the skinny link for an object that sync already created");
  link->add_flag("--full", la->full,
                 "Put the whole object and class in the JWT instead (no API call); refused when the link\n"
                 "would exceed Google's 1,800-character limit, which a real QR token always does");
  AddGoogleOptions(link, la->google);
  link->callback([&, la] {
    auto ctx = Prepare(g, la->google, !la->no_api || la->full);
    if (!ctx) {
      exit_code = Report(ctx.error());
      return;
    }
    passgen::GoogleCardDesign design;
    Card card{.serial = la->serial, .year = la->year, .holder_name = la->name, .school = la->school};
    if (auto r = passgen::ValidateCard(card); !r) {
      exit_code = Report(r.error());
      return;
    }
    Result<std::string> url;
    if (la->full) {
      auto token = ctx->issuer->Issue(card.serial, card.year, ctx->now);
      if (!token) {
        exit_code = Report(token.error());
        return;
      }
      url = passgen::FullSaveLink(
          *ctx->account, ctx->wallet, passgen::GenericClassJson(ctx->wallet, design, card.year),
          passgen::GenericObjectJson(ctx->wallet, design, ctx->config.tokens, card, *token, "ACTIVE"),
          ctx->now);
    } else {
      if (!la->no_api) {
        SystemClock clock;
        auto api = passgen::NewWalletClient(*ctx->account, ctx->wallet, clock);
        if (!api) {
          exit_code = Report(api.error());
          return;
        }
        auto cls = passgen::UpsertClass(**api, ctx->wallet, design, card.year);
        if (!cls) {
          exit_code = Report(cls.error());
          return;
        }
        auto done = passgen::SyncCard(**api, ctx->wallet, design, *ctx->issuer, *ctx->verifier,
                                      ctx->config.tokens, card, ctx->now);
        if (!done) {
          exit_code = Report(done.error());
          return;
        }
        if (*done == passgen::CardOutcome::kSkipped) {
          exit_code = Report(
              {Code::kFailedPrecondition, "card year " + std::to_string(card.year) + " is over: no link"});
          return;
        }
        std::fprintf(stderr, "object %s: %.*s\n", passgen::ObjectId(ctx->wallet, card.serial).c_str(),
                     int(passgen::CardOutcomeName(*done).size()), passgen::CardOutcomeName(*done).data());
      }
      url = passgen::SkinnySaveLink(*ctx->account, ctx->wallet, card.serial, ctx->now);
    }
    if (!url) {
      exit_code = Report(url.error());
      return;
    }
    std::printf("%s\n", url->c_str());
  });

  auto* google = app.add_subcommand("google", "Keep cards saved in Google Wallet current");
  google->require_subcommand(1);
  auto* sync = google->add_subcommand(
      "sync",
      "Bring the class of a card year and the object of every digital card of that year in the ledger (or,\n"
      "with --cards, in a CSV export) up to date through the Google Wallet API: create objects of active\n"
      "cards, set INACTIVE on revoked cards and EXPIRED once the year (plus grace) is over, replace "
      "barcodes\n"
      "whose token is not signed by the active key, patch changed names and schools. A card that fails is\n"
      "reported and the others continue. Prints a summary (created/updated/unchanged/failed); exit 1 if any\n"
      "card failed. A --cards file with any bad row is refused whole (exit 2), before Google is called.");
  struct SyncArgs {
    GoogleArgs google;
    std::string ledger_url, cards_file;
    int year = 0, parallel = 4;
  };
  auto sa = std::make_shared<SyncArgs>();
  sync->add_option("--year", sa->year, "Card year to sync, e.g. 2026")
      ->required()
      ->check(CLI::Range(2000, 2100));
  auto* ledger_opt = sync->add_option(
      "--ledger", sa->ledger_url,
      "Ledger: a SQLite file path or a postgresql:// URL (default [ledger] url, $LK_LEDGER_URL, "
      "or the data dir)");
  sync->add_option("--cards", sa->cards_file,
                   "Sync the cards of a CSV export instead of the ledger (for staff without ledger access):\n"
                   "header serial,year,name,school,status (status active or revoked; name and school as the\n"
                   "wallet shows them; comma or semicolon; UTF-8). Every row must be of --year. Any bad row\n"
                   "refuses the whole file, naming line and column; nothing is sent to Google")
      ->excludes(ledger_opt);
  sync->add_option("--parallel", sa->parallel, "Cards handled concurrently (default 4)")
      ->check(CLI::Range(1, 32));
  AddGoogleOptions(sync, sa->google);
  sync->callback([&, sa] {
    std::vector<Card> cards;
    if (!sa->cards_file.empty()) {  // the whole file is read and checked before anything else
      constexpr uintmax_t kMaxCardsFileBytes = uintmax_t{64}
                                               << 20;  // ~600,000 rows; a card year has ~150,000
      std::error_code ec;
      if (auto size = std::filesystem::file_size(sa->cards_file, ec); !ec && size > kMaxCardsFileBytes) {
        exit_code =
            Report({Code::kInvalidArgument, sa->cards_file + ": " + std::to_string(size) +
                                                " bytes, over the limit of 64 MiB for " +
                                                "--cards (a card year's cards take about 15 MiB): check that "
                                                "it is the cards export, or sync from the ledger"});
        return;
      }
      auto text = ReadFile(sa->cards_file);
      auto read = text ? passgen::ReadCardsCsv(*text, sa->cards_file, sa->year)
                       : Result<std::vector<Card>>(Fail(Code::kInvalidArgument, text.error().message));
      if (!read) {
        exit_code = Report(read.error());
        return;
      }
      cards = std::move(*read);
    }
    auto ctx = Prepare(g, sa->google, true);
    if (!ctx) {
      exit_code = Report(ctx.error());
      return;
    }
    SystemClock clock;
    size_t renewed = 0;  // cards whose wallet entry a later card year took over: its object is theirs
    if (sa->cards_file.empty()) {
      auto book = OpenConfiguredLedger(ctx->config, sa->ledger_url, LedgerUse::kExisting, clock);
      if (!book) {
        exit_code = Report(book.error());
        return;
      }
      auto read = (*book)->cards().ForEachDigitalCard(sa->year, [&](const Card& c) {
        if (!c.renewed_by.empty())
          ++renewed;
        else
          cards.push_back(passgen::ShownCard(c));
      });
      if (!read) {
        exit_code = Report(read.error());
        return;
      }
    }  // the ledger is closed while talking to Google
    auto api = passgen::NewWalletClient(*ctx->account, ctx->wallet, clock);
    if (!api) {
      exit_code = Report(api.error());
      return;
    }
    ProgressBar bar("", "cards");
    passgen::SyncOptions options;
    options.parallelism = sa->parallel;
    options.progress = [&bar](size_t done, size_t total) { bar.Update(done, total); };
    auto summary = passgen::Sync(**api, ctx->wallet, passgen::GoogleCardDesign{}, *ctx->issuer,
                                 *ctx->verifier, ctx->config.tokens, sa->year, cards, ctx->now, options);
    bar.Clear();
    if (!summary) {
      exit_code = Report(summary.error());
      return;
    }
    std::string out = summary->ToText();
    if (renewed)
      out += "renewed: " + std::to_string(renewed) +
             " cards left alone (their objects show their card of a later "
             "year; `google sync` of that year keeps them)\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    exit_code = summary->failed == 0 ? 0 : 1;
  });
}

}  // namespace lk::app
