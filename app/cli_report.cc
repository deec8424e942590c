// `lerarenkaart report adoption`: the ledger's counts through the reports module.
#include <unistd.h>

#include <cstdio>

#include "app/commands.h"
#include "ledger/ledger.h"
#include "reports/reports.h"

namespace lk::app {
namespace {

struct AdoptionArgs {
  std::string period = "calendar", by = "none", years, format = "table", part = "rows", delimiter = ";", out,
              ledger_url;
  bool part_given = false, delimiter_given = false;
};

Result<reports::Report> BuildReport(ledger::Ledger& ledger, const AdoptionArgs& a) {
  auto per = reports::ParsePeriod(a.period);
  if (!per) return std::unexpected(per.error());
  auto dim = reports::ParseDimension(a.by);
  if (!dim) return std::unexpected(dim.error());
  std::pair<int, int> range{0, 0};
  if (!a.years.empty()) {
    auto y = reports::ParseYears(a.years);
    if (!y) return std::unexpected(y.error());
    range = *y;
  }
  return reports::BuildAdoptionReport(ledger, {*per, *dim, range.first, range.second});
}

// FILE.csv -> FILE-reconciliation.csv, FILE-notes.txt beside it.
std::filesystem::path Sibling(const std::filesystem::path& out, const std::string& suffix) {
  return out.parent_path() / (out.stem().string() + suffix);
}

Result<> Write(const std::filesystem::path& path, const std::string& bytes) {
  if (auto w = WriteFileAtomic(path, bytes, std::filesystem::perms(0644)); !w) return w;
  std::fprintf(stderr, "wrote %s (%zu bytes)\n", path.c_str(), bytes.size());
  return {};
}

// Renders and writes what `a` asks for: one document to stdout or -o; with --format csv, -o and
// no --part, the three CSV outputs side by side.
Result<> RunAdoption(ledger::Ledger& ledger, const AdoptionArgs& a) {
  auto fmt = reports::ParseFormat(a.format);
  if (!fmt) return std::unexpected(fmt.error());
  reports::CsvOptions csv;
  auto part = reports::ParseCsvPart(a.part);
  if (!part) return std::unexpected(part.error());
  auto delimiter = reports::ParseDelimiter(a.delimiter);
  if (!delimiter) return std::unexpected(delimiter.error());
  csv.part = *part;
  csv.delimiter = *delimiter;
  if (*fmt != reports::Format::kCsv && (a.part_given || a.delimiter_given))
    return Fail(Code::kInvalidArgument, std::string(a.part_given ? "--part" : "--delimiter") +
                                            " applies to --format csv only, not --format " + a.format);
  if (*fmt == reports::Format::kXlsx && a.out.empty() && isatty(STDOUT_FILENO))
    return Fail(Code::kInvalidArgument, "--format xlsx writes a binary workbook: give -o FILE.xlsx");
  auto rep = BuildReport(ledger, a);
  if (!rep) return std::unexpected(rep.error());
  if (rep->rows.empty())
    return Fail(Code::kFailedPrecondition,
                "nothing to report: the ledger holds no roster, cards or published figures" +
                    (a.years.empty() ? std::string() : " for --years " + a.years) +
                    ". Import a roster (`lerarenkaart import roster`), a channel file or the published "
                    "figures first, or check --data-dir / --ledger");
  if (*fmt == reports::Format::kCsv && !a.out.empty() && !a.part_given) {
    std::filesystem::path out = a.out;
    for (auto [p, path] : {std::pair{reports::CsvPart::kRows, out},
                           std::pair{reports::CsvPart::kReconciliation, Sibling(out, "-reconciliation.csv")},
                           std::pair{reports::CsvPart::kNotes, Sibling(out, "-notes.txt")}}) {
      csv.part = p;
      if (auto w = Write(path, reports::RenderCsv(*rep, csv)); !w) return w;
    }
    return {};
  }
  auto bytes = reports::Export(*rep, *fmt, csv);
  if (!bytes) return std::unexpected(bytes.error());
  if (!a.out.empty()) return Write(a.out, *bytes);
  std::fwrite(bytes->data(), 1, bytes->size(), stdout);
  return {};
}

// `report partners`: partner use per day and outcome, as counted by the service (docs/desk.md).
Result<> RunPartners(ledger::Ledger& ledger, std::string from, std::string to, const std::string& format) {
  if (format != "table" && format != "csv")
    return Fail(Code::kInvalidArgument, "--format must be table or csv, not '" + format + "'");
  Time now = SystemClock().Now();
  if (to.empty()) to = FormatIsoDate(BrusselsDate(now));
  if (from.empty()) from = FormatIsoDate(BrusselsDate(now - std::chrono::days(30)));
  for (const auto& [flag, day] : {std::pair{"--from", &from}, std::pair{"--to", &to}})
    if (!ParseIsoDate(*day))
      return Fail(Code::kInvalidArgument, std::string(flag) + " '" + *day + "' is not a date YYYY-MM-DD");
  auto rows = ledger.usage().Query(from, to);
  if (!rows) return std::unexpected(rows.error());
  std::string out = format == "csv" ? "day;partner;outcome;count\n" : "";
  if (format == "table") {
    char line[256];
    std::snprintf(line, sizeof line, "%-10s  %-32s  %-16s  %8s\n", "day", "partner", "outcome", "count");
    out += line;
  }
  for (const auto& r : *rows) {
    std::string who =
        r.partner_name.empty() ? "#" + std::to_string(r.partner_id) + " (removed)" : r.partner_name;
    if (format == "csv") {
      std::string quoted = "\"";
      for (char ch : who) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      out += r.day + ";" + quoted + "\";" + r.outcome + ";" + std::to_string(r.count) + "\n";
    } else {
      char line[256];
      std::snprintf(line, sizeof line, "%-10s  %-32.32s  %-16s  %8lld\n", r.day.c_str(), who.c_str(),
                    r.outcome.c_str(), static_cast<long long>(r.count));
      out += line;
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return {};
}

}  // namespace

void AddReportCommands(CLI::App& app, Globals& g, int& exit_code) {
  auto* report = app.add_subcommand("report", "Staff reports on card uptake");
  report->require_subcommand(1);
  auto a = std::make_shared<AdoptionArgs>();
  auto* adoption = report->add_subcommand(
      "adoption",
      "Cards per year, channel and group, the share of eligible staff holding one, digital versus "
      "physical, and the reconciliation of published figures (see docs/reports.md)");
  adoption
      ->add_option("--period", a->period,
                   "calendar (by card year, as the ministry counts) or school (1 Sep-31 Aug)")
      ->capture_default_str();
  adoption->add_option("--years", a->years,
                       "Range such as 2017-2026, or one year (default: every year with data)");
  adoption->add_option("--by", a->by, "Group rows by province, network, role or level (default: none)")
      ->capture_default_str();
  adoption
      ->add_option(
          "--format", a->format,
          "table, csv (one rectangular table for spreadsheets), json, html or xlsx (workbook with sheets "
          "Rijen, Afstemming, Noten; needs -o or a redirected stdout)")
      ->capture_default_str();
  auto* part = adoption->add_option(
      "--part", a->part,
      "csv only: rows (the table; row_kind data|total), reconciliation (the checks of the published figures) "
      "or "
      "notes (plain text). With -o FILE.csv and no --part, all three are written: FILE.csv, "
      "FILE-reconciliation.csv, FILE-notes.txt");
  auto* delimiter = adoption->add_option(
      "--delimiter", a->delimiter,
      "csv only: ';' with a decimal comma (Belgian Excel, the default) or ',' with a decimal point");
  adoption->add_option("-o,--output", a->out, "Write to this file instead of standard output");
  adoption->add_option("--ledger", a->ledger_url,
                       "SQLite file or postgresql:// URL (default: the configured ledger)");
  adoption->callback([&, a, part, delimiter] {
    a->part_given = part->count() > 0;
    a->delimiter_given = delimiter->count() > 0;
    auto c = Load(g);
    if (!c) {
      exit_code = Report(c.error());
      return;
    }
    SystemClock clock;
    auto ledger = OpenConfiguredLedger(*c, a->ledger_url, LedgerUse::kExisting, clock);
    if (!ledger) {
      exit_code = Report(ledger.error());
      return;
    }
    if (auto r = RunAdoption(**ledger, *a); !r) exit_code = Report(r.error());
  });

  struct PartnerArgs {
    std::string from, to, format = "table";
  };
  auto p = std::make_shared<PartnerArgs>();
  auto* partners = report->add_subcommand(
      "partners",
      "Cards checked per day, partner and outcome (POST /v1/verify and the desk); the service keeps "
      "nothing per card (see docs/desk.md)");
  partners->add_option("--from", p->from, "First day, YYYY-MM-DD (default: 30 days ago)");
  partners->add_option("--to", p->to, "Last day, YYYY-MM-DD (default: today, Brussels)");
  partners->add_option("--format", p->format, "table or csv (';')")->capture_default_str();
  partners->callback([&, p] {
    auto c = Load(g);
    if (!c) {
      exit_code = Report(c.error());
      return;
    }
    SystemClock clock;
    auto ledger = OpenConfiguredLedger(*c, "", LedgerUse::kExisting, clock);
    if (!ledger) {
      exit_code = Report(ledger.error());
      return;
    }
    if (auto r = RunPartners(**ledger, p->from, p->to, p->format); !r) exit_code = Report(r.error());
  });
}

}  // namespace lk::app
