// `lerarenkaart import ...` and `lerarenkaart ledger ...`: CSV imports into the ledger, issuing
// digital cards, revocation and the audit-chain check.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "app/commands.h"
#include "app/progress.h"
#include "ledger/ledger.h"

namespace lk::app {
namespace {

constexpr const char* kLedgerHelp =
    "Ledger to use: a SQLite file path or a postgresql:// URL (default: [ledger] url in the config, "
    "$LK_LEDGER_URL, else <data-dir>/ledger.sqlite)";

Result<std::unique_ptr<ledger::Ledger>> OpenFor(const Globals& g, const std::string& url_flag,
                                                const Clock& clock, LedgerUse use = LedgerUse::kExisting) {
  auto c = Load(g);
  if (!c) return std::unexpected(c.error());
  return OpenConfiguredLedger(*c, url_flag, use, clock);
}

void PrintSummary(const std::string& file, const char* what, const ledger::ImportSummary& s) {
  std::printf("%s: %llu rows read, %llu %s added, %llu already present\n", file.c_str(),
              static_cast<unsigned long long>(s.rows), static_cast<unsigned long long>(s.added), what,
              static_cast<unsigned long long>(s.present));
}

}  // namespace

void AddLedgerCommands(CLI::App& app, Globals& g, int& exit_code) {
  auto* import = app.add_subcommand(
      "import",
      "Import a CSV file into the ledger (comma or semicolon separated, UTF-8 with or without BOM, header "
      "row).\n"
      "All or nothing: a file with a bad row imports nothing and every bad row is listed (exit 2).\n"
      "Re-importing the same file adds nothing.");
  import->require_subcommand(1);

  struct ImportArgs {
    std::string file, ledger_url, claim_codes;
    int year = 0;
    int claim_days = 60;
  };
  struct Kind {
    const char* name;
    const char* help;
    std::optional<ledger::Channel> channel;
  };
  static const Kind kKinds[] = {
      {"roster",
       "The eligible staff of card year Y. Columns: staff_id,first_name,last_name,role,network,level,"
       "school_number,school_postcode,starter; role administrative|teaching|support, network GO|OGO|VGO, "
       "level "
       "basic|secondary|higher|adult|part_time_arts|other, starter yes|no. Optional: email and language "
       "(nl|fr|en) for the claim mail (claims send); with an email column the file sets each row's address "
       "(an empty cell removes it) and the name of those with one is kept. Otherwise names are not stored; "
       "staff_id is kept only as a keyed HMAC.",
       std::nullopt},
      {"subscriptions",
       "Cards mailed to magazine subscribers in card year Y. Columns: staff_id,date (more allowed)",
       ledger::Channel::kSubscription},
      {"starters", "Cards mailed to starting teachers in card year Y. Columns: staff_id,date (more allowed)",
       ledger::Channel::kStarter},
      {"library", "Cards picked up at a public library in card year Y. Columns: staff_id,date (more allowed)",
       ledger::Channel::kLibrary},
  };
  for (const Kind& kind : kKinds) {
    auto* cmd = import->add_subcommand(kind.name, kind.help);
    auto a = std::make_shared<ImportArgs>();
    cmd->add_option("file", a->file, "CSV file")->required()->check(CLI::ExistingFile);
    cmd->add_option("--year", a->year, "Card year, e.g. 2026")->required();
    cmd->add_option("--ledger", a->ledger_url, kLedgerHelp);
    if (!kind.channel) {
      cmd->add_option(
          "--claim-codes", a->claim_codes,
          "Also make a one-time claim code per staff member (for POST /v1/claims) and write them to "
          "this CSV file as staff_id,claim_code (mode 0600). The ledger keeps only hashes and the "
          "display name first_name last_name for the pass. New codes replace earlier ones.");
      cmd->add_option("--claim-days", a->claim_days, "Days the claim codes stay valid (default 60)")
          ->check(CLI::Range(1, 400));
    }
    cmd->callback([&, a, k = &kind] {
      SystemClock clock;
      auto l = OpenFor(g, a->ledger_url, clock, LedgerUse::kCreate);
      if (!l) {
        exit_code = Report(l.error());
        return;
      }
      auto csv = ledger::ReadCsvSource(a->file);  // read once, for the import and the claim codes
      if (!csv) {
        exit_code = Report(csv.error());
        return;
      }
      ProgressBar bar(std::string("import ") + k->name, "rows");
      auto sum = k->channel ? (*l)->imports().ImportChannel(*k->channel, *csv, a->year, bar.callback())
                            : (*l)->imports().ImportRoster(*csv, a->year, bar.callback());
      bar.Clear();
      if (!sum) {
        exit_code = Report(sum.error());
        return;
      }
      PrintSummary(a->file, k->channel ? "cards" : "roster entries", *sum);
      if (!k->channel)
        if (auto c = Load(g); c)
          if (std::string w = PassTemplateWarning(*c, a->year); !w.empty())
            std::fprintf(stderr, "lerarenkaart: %s\n", w.c_str());
      // Holders of last year's digital card on this roster: their wallets take this year's card
      // with `cards renew` (a step of its own: it signs tokens and talks to Google).
      if (!k->channel && a->year > 2000)
        if (auto st = (*l)->cards().RenewalStatus(a->year); st && st->to_renew > 0)
          std::fprintf(
              stderr,
              "lerarenkaart: %lld holders of a %d digital card are on this roster: `lerarenkaart cards "
              "renew --year %d` puts their %d card in the wallet entry they have (from 1 January %d)\n",
              static_cast<long long>(st->to_renew), a->year - 1, a->year, a->year, a->year);
      if (!a->claim_codes.empty()) {
        auto codes =
            (*l)->access().CreateClaimCodes(*csv, a->year, clock.Now() + std::chrono::days(a->claim_days));
        if (!codes) {
          exit_code = Report(codes.error());
          return;
        }
        std::string out = "staff_id,claim_code\n";
        for (const auto& c : *codes) out += c.staff_id + "," + c.code + "\n";
        if (auto w = WriteFileAtomic(a->claim_codes, out); !w) {
          exit_code = Report(w.error());
          return;
        }
        std::printf("%s: %zu claim codes, valid for %d days\n", a->claim_codes.c_str(), codes->size(),
                    a->claim_days);
      }
    });
  }
  // Imports not tied to a card year.
  struct YearlessKind {
    const char* name;
    const char* help;
    const char* what;  // in the summary
    Result<ledger::ImportSummary> (ledger::Imports::*import)(const std::filesystem::path&);
  };
  static const YearlessKind kYearless[] = {
      {"published",
       "Published uptake figures for years that only exist as totals (the format of "
       "published-uptake-2017-2019.csv: calendar_year,eligible_staff,sent_to_subscribers,sent_to_starters,"
       "picked_up_at_library,holders_total,published_share, with a 'Totaal' row). Kept apart from card "
       "records.",
       "published rows", &ledger::Imports::ImportPublished},
      {"schools",
       "The official list of schools, so that passes, the teacher's site and the console show a school's "
       "name instead of its number. Columns: school_number,name,postcode,municipality (1-12 digits; "
       "1-200 bytes; a Belgian postcode; 1-100 bytes). A school listed again with another name is "
       "renamed.",
       "schools", &ledger::Imports::ImportSchools},
  };
  for (const YearlessKind& kind : kYearless) {
    auto* cmd = import->add_subcommand(kind.name, kind.help);
    auto a = std::make_shared<ImportArgs>();
    cmd->add_option("file", a->file, "CSV file")->required()->check(CLI::ExistingFile);
    cmd->add_option("--ledger", a->ledger_url, kLedgerHelp);
    cmd->callback([&, a, k = &kind] {
      SystemClock clock;
      auto l = OpenFor(g, a->ledger_url, clock, LedgerUse::kCreate);
      if (!l) {
        exit_code = Report(l.error());
        return;
      }
      auto sum = ((*l)->imports().*(k->import))(a->file);
      if (!sum) {
        exit_code = Report(sum.error());
        return;
      }
      PrintSummary(a->file, k->what, *sum);
    });
  }

  auto* led =
      app.add_subcommand("ledger", "Issue digital cards, revoke cards and check the ledger's audit chain");
  led->require_subcommand(1);
  {
    auto* cmd = led->add_subcommand("verify",
                                    "Re-walk the SHA-256 audit chain and check the records each entry added; "
                                    "exit 0 when intact, 1 naming the "
                                    "first bad entry");
    auto url = std::make_shared<std::string>();
    cmd->add_option("--ledger", *url, kLedgerHelp);
    cmd->callback([&, url] {
      SystemClock clock;
      auto l = OpenFor(g, *url, clock);
      if (!l) {
        exit_code = Report(l.error());
        return;
      }
      auto rep = (*l)->audit().Verify();
      if (!rep) {
        exit_code = Report(rep.error());
        return;
      }
      if (rep->ok) {
        std::printf("ledger ok: %lld audit entries, chain intact\n", static_cast<long long>(rep->entries));
      } else {
        std::printf("ledger BROKEN: %s\n", rep->problem.c_str());
        exit_code = 1;
      }
    });
  }
  {
    struct IssueArgs {
      std::string staff_id, ledger_url;
      int year = 0;
    };
    auto a = std::make_shared<IssueArgs>();
    auto* cmd = led->add_subcommand("issue",
                                    "Issue the digital card of one staff member for card year Y, or return "
                                    "the one already issued (one per "
                                    "holder per year). Prints the serial and whether it is new.");
    cmd->add_option("--staff-id", a->staff_id, "Staff identifier as on the roster")->required();
    cmd->add_option("--year", a->year, "Card year, e.g. 2026")->required();
    cmd->add_option("--ledger", a->ledger_url, kLedgerHelp);
    cmd->callback([&, a] {
      SystemClock clock;
      auto l = OpenFor(g, a->ledger_url, clock);
      if (!l) {
        exit_code = Report(l.error());
        return;
      }
      auto card = (*l)->cards().IssueDigital(a->staff_id, a->year);
      if (!card) {
        exit_code = Report(card.error());
        return;
      }
      std::printf("serial %s year %d %s%s\n", card->serial.c_str(), card->year,
                  card->is_new ? "new" : "existing", card->revoked ? " revoked" : "");
    });
  }
  {
    struct RevokeArgs {
      std::string serial, reason, ledger_url;
    };
    auto a = std::make_shared<RevokeArgs>();
    auto* cmd = led->add_subcommand("revoke", "Revoke a card (any channel) by serial, with a reason");
    cmd->add_option("--serial", a->serial, "Card serial")->required();
    cmd->add_option("--reason", a->reason, "Why the card is revoked (kept in the audit log)")->required();
    cmd->add_option("--ledger", a->ledger_url, kLedgerHelp);
    cmd->callback([&, a] {
      SystemClock clock;
      auto l = OpenFor(g, a->ledger_url, clock);
      if (!l) {
        exit_code = Report(l.error());
        return;
      }
      if (auto r = (*l)->cards().Revoke(a->serial, a->reason); !r) {
        exit_code = Report(r.error());
        return;
      }
      std::printf("card %s revoked\n", a->serial.c_str());
    });
  }
}

Result<std::unique_ptr<ledger::Ledger>> OpenConfiguredLedger(const Config& c, const std::string& url_flag,
                                                             LedgerUse use, const Clock& clock) {
  ledger::LedgerOptions o;
  o.url = url_flag.empty() ? c.ledger_url : url_flag;
  o.data_dir = c.data_dir;
  o.keys_dir = c.keys.dir;
  o.create_if_missing = use == LedgerUse::kCreate;
  return ledger::OpenLedger(o, clock);
}

}  // namespace lk::app
