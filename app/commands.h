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
