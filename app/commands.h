#pragma once
// CLI wiring: each file adds its subcommands to the one CLI11 app. Private to app/.
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "app/config.h"
#include "ledger/ledger.h"
#include "signing/signing.h"

namespace lk::app {

// Options every subcommand shares, filled in by CLI11 before a command runs.
struct Globals {
  std::string data_dir;
  std::string config_file;
};

// Exit codes: 0 success, 1 a negative verdict or failed operation, 2 bad usage or bad input.
int ExitCodeFor(const Error& e);
// Prints "lerarenkaart: <message>" on stderr and returns the exit code for it.
int Report(const Error& e);
// Loads the configuration for a command, or reports why not.
Result<Config> Load(const Globals& g);
// Whether a command may start a new ledger where the configuration points and none is there yet.
enum class LedgerUse { kExisting, kCreate };
// The ledger of `c` ([ledger] url, or `url_flag` when not empty; else <data-dir>/ledger.sqlite).
// kExisting refuses (kInvalidArgument, exit 2) a place that holds no ledger, naming it.
Result<std::unique_ptr<ledger::Ledger>> OpenConfiguredLedger(const Config& c, const std::string& url_flag,
                                                             LedgerUse use, const Clock& clock);
// The token issuer of the configured keyring's active key (the keyring is read once and closed).
Result<std::unique_ptr<signing::TokenIssuer>> OpenTokenIssuer(const Config& c);

// A warning sentence when no usable Apple pass template covers card `year` in [passes]
// templates_dir (missing, broken, or for another year); "" when one does (cli_pass.cc).
std::string PassTemplateWarning(const Config& c, int year);

// The Google Wallet objects of cards changed outside the service (`cards refresh`, `cards renew`),
// patched through the API when [google] use_api is on (cli_google.cc). Not thread-safe.
class GoogleCardPatcher {
 public:
  // nullptr when [google] use_api is off or no issuer id is configured: nothing to patch.
  // `clock` must outlive the patcher.
  static Result<std::unique_ptr<GoogleCardPatcher>> Open(const Config& c, const Clock& clock);
  virtual ~GoogleCardPatcher() = default;
  // PATCHes each (card, patch JSON) to the object of the card's wallet entry (PassSerial), a few
  // at a time. A 404 (a card never saved to Google Wallet) is counted as not saved; any other
  // failure is written to stderr ("google sync repairs it") and counted as failed.
  virtual void Patch(const std::vector<std::pair<Card, std::string>>& patches) = 0;
  // The fields of the object that show `card` (passgen::ShownCard) with barcode `token`, ACTIVE:
  // what the next card year changes.
  virtual std::string CardPatch(const Card& card, const std::string& token) const = 0;
  int64_t patched = 0, not_saved = 0, failed = 0;
};

// Each Add* registers a subcommand; its callback stores the exit code in `exit_code`.
using Run = std::function<int()>;
void AddKeysCommands(CLI::App& app, Globals& g, int& exit_code);
void AddTokenCommands(CLI::App& app, Globals& g, int& exit_code);
void AddLedgerCommands(CLI::App& app, Globals& g, int& exit_code);
void AddReportCommands(CLI::App& app, Globals& g, int& exit_code);
void AddPassCommands(CLI::App& app, Globals& g, int& exit_code);
void AddAccessCommands(CLI::App& app, Globals& g, int& exit_code);
void AddServeCommands(CLI::App& app, Globals& g, int& exit_code);
void AddDemoCommand(CLI::App& app, Globals& g, int& exit_code);
void AddGoogleCommands(CLI::App& app, Globals& g, int& exit_code);
void AddScanCommand(CLI::App& app, Globals& g, int& exit_code);
void AddCardsCommands(CLI::App& app, Globals& g, int& exit_code);
void AddClaimsCommands(CLI::App& app, Globals& g, int& exit_code);

}  // namespace lk::app
