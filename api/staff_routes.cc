// Staff routes: issue and revoke cards, import channel files, read the adoption report and the
// dashboard's redirect to the console. Every one but the redirect needs a staff token.
#include <algorithm>
#include <cctype>
#include <map>

#include "api/internal/service_context.h"
#include "reports/reports.h"

namespace lk::api::internal {
namespace {
using json = nlohmann::json;

// The report the query asks for; a bad parameter is a problem naming it.
std::expected<reports::Report, Problem> BuildReport(ServiceContext& ctx, const HttpRequest& req) {
  reports::ReportOptions o;
  auto param = [&](const char* name, const char* dflt) {
    auto v = req.param(name);
    return !v || v->empty() ? std::string(dflt) : *v;
  };
  auto period = reports::ParsePeriod(param("period", "calendar"));
  if (!period) return std::unexpected(Problem(period.error(), "period"));
  auto by = reports::ParseDimension(param("by", "none"));
  if (!by) return std::unexpected(Problem(by.error(), "by"));
  o.period = *period;
  o.by = *by;
  if (auto years = req.param("years"); years && !years->empty()) {
    auto range = reports::ParseYears(*years);
    if (!range) return std::unexpected(Problem(range.error(), "years"));
    o.first_year = range->first;
    o.last_year = range->second;
  }
  auto report = reports::BuildAdoptionReport(*ctx.deps.ledger, o);
  if (!report) {
    if (report.error().code == Code::kInvalidArgument)
      return std::unexpected(Problem(report.error(), "years"));
    return std::unexpected(Problem(report.error()));
  }
  return std::move(*report);
}

}  // namespace

Result<> RevokeEverywhere(ServiceContext& ctx, const HttpRequest& req, const std::string& serial,
                          const std::string& reason) {
  auto r = ctx.deps.ledger->cards().Revoke(serial, reason);
  if (!r) return r;
  if (ctx.pusher) ctx.pusher->Wake();  // the revocation queued a push of the voided pass
  // This instance's own scans see the revocation at once (others within the refresh bound).
  auto card = ctx.deps.ledger->cards().FindCard(serial);
  if (card)
    ctx.card_status.MarkRevoked(serial, card->year);
  else
    ctx.RefreshRevoked();
  // A card whose wallet entry a later card year took over is no longer in any wallet: its
  // entry's object shows the newer card and stays as it is.
  if (ctx.deps.google_api && card && card->renewed_by.empty()) {
    // A saved Google object shows the card as inactive. A failure is logged and left for
    // `google sync` to repair: the revocation itself stands.
    auto patched = ctx.deps.google_api->PatchObject(passgen::ObjectId(ctx.deps.google, PassSerial(*card)),
                                                    R"({"state":"INACTIVE"})");
    if (!patched && patched.error().code != Code::kNotFound)  // never saved: nothing to take back
      ctx.Warn(req, "object of revoked card " + serial +
                        " not set INACTIVE (google sync repairs it): " + patched.error().message);
  }
  return {};
}

Result<ledger::ImportSummary> RunImport(ServiceContext& ctx, const std::string& kind, int year,
                                        std::string bytes) {
  // The upload's name in errors and in the audit entry: "library.csv", never a server path.
  const ledger::CsvSource csv{kind + ".csv", std::move(bytes)};
  Result<ledger::ImportSummary> sum;
  if (kind == "roster")
    sum = ctx.deps.ledger->imports().ImportRoster(csv, year);
  else if (kind == "published")
    sum = ctx.deps.ledger->imports().ImportPublished(csv);
  else {
    ledger::Channel channel = kind == "subscriptions" ? ledger::Channel::kSubscription
                              : kind == "starters"    ? ledger::Channel::kStarter
                                                      : ledger::Channel::kLibrary;
    sum = ctx.deps.ledger->imports().ImportChannel(channel, csv, year);
  }
  return sum;
}

Reply IssueCard(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  auto body = ParseBody(req, ctx.options.max_json_bytes, kIssueBody);
  if (!body) return std::unexpected(body.error());
  int year =
      body->contains("year") ? (*body)["year"].get<int>() : int(BrusselsDate(ctx.deps.clock->Now()).year());
  auto card = ctx.deps.ledger->cards().IssueDigital((*body)["staff_id"].get<std::string>(), year);
  if (!card)
    return std::unexpected(Problem(card.error(), card.error().code == Code::kNotFound ? "staff_id" : "year"));
  return CardAnswer(ctx, res, *card);
}

Reply RevokeCard(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  const std::string& serial = req.params.at(0);
  auto body = ParseBody(req, ctx.options.max_json_bytes, kRevokeBody);
  if (!body) return std::unexpected(body.error());
  auto r = RevokeEverywhere(ctx, req, serial, (*body)["reason"].get<std::string>());
  if (!r)
    return std::unexpected(
        Problem(r.error(), r.error().code == Code::kInvalidArgument ? "reason" : "serial"));
  WriteJson(res, {{"serial", serial}, {"status", "revoked"}});
  return {};
}

Reply Import(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  const std::string& kind = req.params.at(0);
  static const char* kKinds[] = {"roster", "subscriptions", "starters", "library", "published"};
  if (std::none_of(std::begin(kKinds), std::end(kKinds), [&](const char* k) { return kind == k; }))
    return std::unexpected(Problem(
        Error{Code::kNotFound,
              "unknown import kind '" + kind + "' (roster, subscriptions, starters, library, published)"},
        "kind"));
  int year = 0;
  if (kind != "published") {
    std::string y = req.param("year").value_or("");
    if (y.empty()) return Bad("year", "the query parameter 'year' is required for a " + kind + " import");
    if (y.size() != 4 || y.find_first_not_of("0123456789") != std::string::npos)
      return Bad("year", "'year' must be a card year such as 2026, not '" + y + "'");
    year = std::stoi(y);
  }
  auto sum = RunImport(ctx, kind, year, std::move(req.body));
  if (!sum) {
    Problem p(sum.error(), "body");
    // A refused file: its problems as data too, one per bad row (or one for the whole file).
    if (const ledger::ImportRefused* refused = ledger::ImportRefusedOf(sum.error())) {
      nlohmann::json errors = nlohmann::json::array();
      for (const ledger::ImportProblem& e : refused->problems) {
        nlohmann::json values = nlohmann::json::object();
        for (const auto& [name, value] : e.values) values[name] = value;
        nlohmann::json row = {
            {"line", e.line}, {"column", e.column}, {"key", e.key}, {"values", values}, {"detail", e.text}};
        if (!e.column_name.empty()) row["column_name"] = e.column_name;
        errors.push_back(std::move(row));
      }
      p.members = {{"whole_file", refused->whole_file}, {"errors", std::move(errors)}};
    }
    return std::unexpected(std::move(p));
  }
  WriteJson(res, {{"kind", kind}, {"rows", sum->rows}, {"added", sum->added}, {"present", sum->present}});
  return {};
}

Reply AdoptionReport(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  auto format = reports::ParseFormat(req.param("format").value_or("json"));
  if (!format) return std::unexpected(Problem(format.error(), "format"));
  reports::CsvOptions csv;
  if (auto p = req.param("part"); p && !p->empty()) {
    auto part = reports::ParseCsvPart(*p);
    if (!part) return std::unexpected(Problem(part.error(), "part"));
    csv.part = *part;
  }
  if (auto d = req.param("delimiter"); d && !d->empty()) {
    auto delimiter = reports::ParseDelimiter(*d);
    if (!delimiter) return std::unexpected(Problem(delimiter.error(), "delimiter"));
    csv.delimiter = *delimiter;
  }
  auto report = BuildReport(ctx, req);
  if (!report) return std::unexpected(report.error());
  static const std::map<reports::Format, const char*> kTypes = {
      {reports::Format::kTable, "text/plain; charset=utf-8"},
      {reports::Format::kCsv, "text/csv; charset=utf-8"},
      {reports::Format::kJson, "application/json"},
      {reports::Format::kHtml, "text/html; charset=utf-8"},
      {reports::Format::kXlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}};
  auto body = reports::Export(*report, *format, csv);
  if (!body) return std::unexpected(Problem(body.error()));
  const char* type = kTypes.at(*format);
  if (*format == reports::Format::kCsv && csv.part == reports::CsvPart::kNotes)
    type = "text/plain; charset=utf-8";
  res.set_content(std::move(*body), type);
  res.set_header("Cache-Control", "private, no-cache");
  if (*format == reports::Format::kXlsx)
    res.set_header("Content-Disposition", "attachment; filename=\"adoptie.xlsx\"");
  if (*format == reports::Format::kHtml)
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'");
  return {};
}

Reply Dashboard(ServiceContext&, HttpRequest&, HttpResponse& res) {
  // The staff console replaced the dashboard: its bookmarks land on the console's sign-in.
  res.status = 303;
  res.set_header("Location", "/console");
  res.set_header("Cache-Control", "no-store");
  return {};
}

}  // namespace lk::api::internal
