// lerarenkaart: the digital Flemish teacher card. One binary: CLI subcommands and the service.
#include <cstdio>

#include "app/commands.h"

namespace lk::app {

int ExitCodeFor(const Error& e) { return e.code == Code::kInvalidArgument ? 2 : 1; }

int Report(const Error& e) {
  std::fprintf(stderr, "lerarenkaart: %s\n", e.message.c_str());
  return ExitCodeFor(e);
}

Result<Config> Load(const Globals& g) { return LoadConfig(g.config_file, g.data_dir); }

}  // namespace lk::app

int main(int argc, char** argv) {
  using namespace lk::app;
  CLI::App app{
      "lerarenkaart: the digital Lerarenkaart (Flemish teacher card).\n"
      "Wallet passes for teachers, signed QR tokens for partners, an uptake ledger and\n"
      "adoption reports for staff.",
      "lerarenkaart"};
  app.require_subcommand(1);
  app.fallthrough();
  Globals g;
  app.add_option("--data-dir", g.data_dir, "Data directory (default ./var, or $LERARENKAART_HOME)");
  app.add_option("--config", g.config_file, "TOML configuration file")->check(CLI::ExistingFile);
  int exit_code = 0;
  AddKeysCommands(app, g, exit_code);
  AddTokenCommands(app, g, exit_code);
  AddLedgerCommands(app, g, exit_code);
  AddReportCommands(app, g, exit_code);
  AddPassCommands(app, g, exit_code);
  AddAccessCommands(app, g, exit_code);
  AddServeCommands(app, g, exit_code);
  AddDemoCommand(app, g, exit_code);
  AddGoogleCommands(app, g, exit_code);
  AddScanCommand(app, g, exit_code);
  AddCardsCommands(app, g, exit_code);
  AddClaimsCommands(app, g, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  return exit_code;
}
