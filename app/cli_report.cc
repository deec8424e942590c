// `lerarenkaart report adoption`: the ledger's counts through the reports module.
#include <cstdio>

#include "app/commands.h"
#include "ledger/ledger.h"
#include "reports/reports.h"

namespace lk::app {

Result<std::string> AdoptionReport(ledger::Ledger& ledger, const std::string& period, const std::string& by,
                                   const std::string& years, const std::string& format) {
  auto per = reports::ParsePeriod(period);
  if (!per) return std::unexpected(per.error());
  auto dim = reports::ParseDimension(by);
  if (!dim) return std::unexpected(dim.error());
  auto fmt = reports::ParseFormat(format);
  if (!fmt) return std::unexpected(fmt.error());
  std::pair<int, int> range{0, 0};
  if (!years.empty()) {
    auto y = reports::ParseYears(years);
    if (!y) return std::unexpected(y.error());
    range = *y;
  }
  auto rep = reports::BuildAdoptionReport(ledger, {*per, *dim, range.first, range.second});
  if (!rep) return std::unexpected(rep.error());
  return reports::Render(*rep, *fmt);
}

void AddReportCommands(CLI::App& app, Globals& g, int& exit_code) {
  auto* report = app.add_subcommand("report", "Staff reports on card uptake");
  report->require_subcommand(1);
  struct Args {
    std::string period = "calendar", by = "none", years, format = "table", out, ledger_url;
  };
  auto a = std::make_shared<Args>();
  auto* adoption = report->add_subcommand(
      "adoption",
      "Cards per year, channel and group, the share of eligible staff holding one, digital versus "
      "physical, and the reconciliation of published figures (see docs/reports.md)");
  adoption->add_option("--period", a->period, "calendar (by card year, as the ministry counts) or school (1 Sep-31 Aug)")
      ->capture_default_str();
  adoption->add_option("--years", a->years, "Range such as 2017-2026, or one year (default: every year with data)");
  adoption->add_option("--by", a->by, "Group rows by province, network, role or level (default: none)")
      ->capture_default_str();
  adoption->add_option("--format", a->format, "table, csv (Belgian spreadsheet), json or html")->capture_default_str();
  adoption->add_option("-o,--output", a->out, "Write to this file instead of standard output");
  adoption->add_option("--ledger", a->ledger_url, "SQLite file or postgresql:// URL (default: the configured ledger)");
  adoption->callback([&, a] {
    auto c = Load(g);
    if (!c) { exit_code = Report(c.error()); return; }
    SystemClock clock;
    ledger::LedgerOptions o;
    o.url = a->ledger_url.empty() ? c->ledger_url : a->ledger_url;
    o.data_dir = c->data_dir;
    o.keys_dir = c->keys.dir;
    auto ledger = ledger::OpenLedger(o, clock);
    if (!ledger) { exit_code = Report(ledger.error()); return; }
    auto text = AdoptionReport(**ledger, a->period, a->by, a->years, a->format);
    if (!text) { exit_code = Report(text.error()); return; }
    if (a->out.empty()) {
      std::fwrite(text->data(), 1, text->size(), stdout);
    } else if (auto w = WriteFileAtomic(a->out, *text, std::filesystem::perms(0644)); !w) {
      exit_code = Report(w.error());
    } else {
      std::fprintf(stderr, "wrote %s (%zu bytes)\n", a->out.c_str(), text->size());
    }
  });
}

}  // namespace lk::app
