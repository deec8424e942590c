// `lerarenkaart staff add NAME` and `lerarenkaart partners add NAME`: credentials for the HTTP
// service. The secret is printed once; the ledger keeps only its SHA-256.
#include <cstdio>

#include "app/commands.h"
#include "ledger/ledger.h"

namespace lk::app {
namespace {

int AddCredential(const Globals& g, ledger::CredentialKind kind, const std::string& name, const std::string& url) {
  auto c = Load(g);
  if (!c) return Report(c.error());
  SystemClock clock;
  ledger::LedgerOptions o;
  o.url = url.empty() ? c->ledger_url : url;
  o.data_dir = c->data_dir;
  o.keys_dir = c->keys.dir;
  auto l = ledger::OpenLedger(o, clock);
  if (!l) return Report(l.error());
  auto secret = (*l)->AddCredential(kind, name);
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
                   "Staff bearer tokens for POST /v1/cards, revocations, imports, reports and /dashboard"},
        std::tuple{"partners", ledger::CredentialKind::kPartner, "Partner API keys for POST /v1/verify"}}) {
    ledger::CredentialKind k = kind;
    auto* top = app.add_subcommand(group, help);
    top->require_subcommand(1);
    auto* add = top->add_subcommand("add", "Create a credential named NAME and print its secret once (stored hashed)");
    auto a = std::make_shared<Args>();
    add->add_option("name", a->name, "Who holds it, e.g. 'AgODi reporting' or 'Museum M'")->required();
    add->add_option("--ledger", a->ledger_url, "Ledger: a SQLite file path or a postgresql:// URL");
    add->callback([&, a, k] { exit_code = AddCredential(g, k, a->name, a->ledger_url); });
  }
}

}  // namespace lk::app
