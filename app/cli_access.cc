// `lerarenkaart staff add|remove NAME` and `lerarenkaart partners add|remove NAME`: credentials
// for the HTTP service. The secret is printed once; the ledger keeps only its SHA-256.
#include <cstdio>

#include "app/commands.h"
#include "ledger/ledger.h"

namespace lk::app {
namespace {

Result<std::unique_ptr<ledger::Ledger>> Open(const Globals& g, const std::string& url, LedgerUse use,
                                             const Clock& clock) {
  auto c = Load(g);
  if (!c) return std::unexpected(c.error());
  return OpenConfiguredLedger(*c, url, use, clock);
}

int RemoveCredential(const Globals& g, ledger::CredentialKind kind, const std::string& name,
                     const std::string& url) {
  SystemClock clock;
  auto l = Open(g, url, LedgerUse::kExisting, clock);
  if (!l) return Report(l.error());
  if (auto r = (*l)->access().RemoveCredential(kind, name); !r) return Report(r.error());
  std::fprintf(stderr,
               "lerarenkaart: %s credential '%s' removed; running services stop accepting it within 10 s\n",
               std::string(ledger::CredentialKindName(kind)).c_str(), name.c_str());
  return 0;
}

int AddCredential(const Globals& g, ledger::CredentialKind kind, const std::string& name,
                  const std::string& url) {
  SystemClock clock;
  auto l = Open(g, url, LedgerUse::kCreate, clock);
  if (!l) return Report(l.error());
  auto secret = (*l)->access().AddCredential(kind, name);
  if (!secret) return Report(secret.error());
  std::printf("%s\n", secret->c_str());
  std::fprintf(stderr, "lerarenkaart: %s credential '%s' added; the secret above is shown only once\n",
               std::string(ledger::CredentialKindName(kind)).c_str(), name.c_str());
  return 0;
}

}  // namespace

void AddAccessCommands(CLI::App& app, Globals& g, int& exit_code) {
  struct Args {
    std::string name, ledger_url;
  };
  for (auto [group, kind, help] :
       {std::tuple{"staff", ledger::CredentialKind::kStaff,
                   "Staff keys: bearer tokens for POST /v1/cards, revocations, imports and reports, and "
                   "the sign-in of the staff console (/console)"},
        std::tuple{"partners", ledger::CredentialKind::kPartner,
                   "Partner keys: bearer tokens for POST /v1/verify, and the sign-in of the partner's "
                   "desk (/desk)"}}) {
    ledger::CredentialKind k = kind;
    auto* top = app.add_subcommand(group, help);
    top->require_subcommand(1);
    auto* add = top->add_subcommand(
        "add", "Create a credential named NAME and print its secret once (stored hashed)");
    auto a = std::make_shared<Args>();
    add->add_option("name", a->name, "Who holds it, e.g. 'AgODi reporting' or 'Museum M'")->required();
    add->add_option("--ledger", a->ledger_url, "Ledger: a SQLite file path or a postgresql:// URL");
    add->callback([&, a, k] { exit_code = AddCredential(g, k, a->name, a->ledger_url); });
    auto* remove = top->add_subcommand("remove",
                                       "Delete the credential named NAME: its secret stops working "
                                       "(running services notice within 10 s)");
    auto r = std::make_shared<Args>();
    remove->add_option("name", r->name, "The name given to 'add'")->required();
    remove->add_option("--ledger", r->ledger_url, "Ledger: a SQLite file path or a postgresql:// URL");
    remove->callback([&, r, k] { exit_code = RemoveCredential(g, k, r->name, r->ledger_url); });
  }
}

}  // namespace lk::app
