// Table, CSV and JSON renderers.
#include <cmath>
#include <nlohmann/json.hpp>

#include "reports/internal/format.h"
#include "reports/reports.h"

namespace lk::reports {
namespace {

using internal::Count;
using internal::Percent;

}  // namespace

namespace internal {
std::string ReportTitle(const Report& r) {
  std::string t =
      "Adoption report, " + std::string(r.period == Period::kCalendar ? "card years " : "school years ");
  if (r.first_year == 0) return t + "(no data)";
  if (r.period == Period::kCalendar)
    t += r.first_year == r.last_year ? std::to_string(r.first_year)
                                     : std::to_string(r.first_year) + "-" + std::to_string(r.last_year);
  else
    t += std::to_string(r.first_year) + "-" + std::to_string(r.first_year + 1) +
         (r.first_year == r.last_year
              ? ""
              : " to " + std::to_string(r.last_year) + "-" + std::to_string(r.last_year + 1));
  if (r.by != Dimension::kNone) t += ", by " + std::string(DimensionName(r.by));
  return t;
}
}  // namespace internal

namespace {

std::string Cnt(const std::optional<int64_t>& v) { return v ? Count(*v) : "n/a"; }
std::string Pct(const std::optional<double>& v) { return v ? Percent(*v) : "n/a"; }

bool AnyDigital(const Report& r) {
  for (const auto& row : r.rows)
    if (row.digital_only) return true;
  return false;
}

// ---- Table ----

struct Grid {
  std::vector<std::string> header;
  std::vector<bool> right;                     // right-aligned columns
  std::vector<std::vector<std::string>> rows;  // an empty row draws a rule

  std::string Render() const {
    std::vector<size_t> w(header.size());
    for (size_t c = 0; c < header.size(); ++c) w[c] = DisplayWidth(header[c]);
    for (const auto& r : rows)
      for (size_t c = 0; c < r.size(); ++c) w[c] = std::max(w[c], DisplayWidth(r[c]));
    auto line = [&](const std::vector<std::string>& cells) {
      std::string s;
      for (size_t c = 0; c < cells.size(); ++c) {
        size_t pad = w[c] - DisplayWidth(cells[c]);
        if (c) s += "  ";
        if (right[c])
          s += std::string(pad, ' ') + cells[c];
        else
          s += cells[c] + (c + 1 < cells.size() ? std::string(pad, ' ') : "");
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      return s + "\n";
    };
    size_t total = 0;
    for (size_t c = 0; c < w.size(); ++c) total += w[c] + (c ? 2 : 0);
    std::string rule;
    for (size_t i = 0; i < total; ++i) rule += "\u2500";
    std::string out = line(header) + rule + "\n";
    for (const auto& r : rows) out += r.empty() ? rule + "\n" : line(r);
    return out;
  }
};

}  // namespace

std::string RenderTable(const Report& r) {
  bool grouped = r.by != Dimension::kNone;
  std::string out = internal::ReportTitle(r) + "\n\n";
  if (r.rows.empty() && r.totals.empty()) {
    out += "No rows.\n";
  } else {
    Grid g;
    g.header = {r.period == Period::kCalendar ? "Card year" : "School year"};
    if (grouped) g.header.push_back(std::string(DimensionName(r.by)));
    for (const char* h : {"Source", "Eligible", "Subscription", "Starter", "Library", "Digital",
                          "Not itemised", "Holders", "Share", "Printed share", "Notes"})
      g.header.push_back(h);
    g.right.assign(g.header.size(), true);
    g.right[0] = false;
    if (grouped) g.right[1] = false;
    g.right[grouped ? 2 : 1] = false;
    g.right.back() = false;
    auto add = [&](const ReportRow& row) {
      std::vector<std::string> cells{row.period};
      if (grouped) cells.push_back(row.group.value_or("-"));
      cells.insert(cells.end(),
                   {row.source, Cnt(row.eligible), Cnt(row.subscription), Cnt(row.starter), Cnt(row.library),
                    Cnt(row.digital), Cnt(row.not_itemised), Cnt(row.holders), Pct(row.share),
                    row.printed_share.value_or(""), internal::NoteRefs(row.note_refs)});
      g.rows.push_back(std::move(cells));
    };
    for (const auto& row : r.rows) add(row);
    if (!r.totals.empty()) g.rows.emplace_back();
    for (const auto& row : r.totals) add(row);
    out += g.Render();

    out += "\nDigital picture (holders by kind of card held)\n\n";
    if (!AnyDigital(r)) {
      out +=
          "n/a: no per-card records in this range; published totals do not say which card a holder held.\n";
    } else {
      Grid d;
      d.header = {g.header[0]};
      if (grouped) d.header.push_back(g.header[1]);
      for (const char* h : {"Holders", "Digital only", "Physical only", "Both", "Digital share", "Notes"})
        d.header.push_back(h);
      d.right.assign(d.header.size(), true);
      d.right[0] = false;
      if (grouped) d.right[1] = false;
      d.right.back() = false;
      auto add_d = [&](const ReportRow& row) {
        std::vector<std::string> cells{row.period};
        if (grouped) cells.push_back(row.group.value_or("-"));
        cells.insert(cells.end(), {Cnt(row.holders), Cnt(row.digital_only), Cnt(row.physical_only),
                                   Cnt(row.both), Pct(row.digital_share), internal::NoteRefs(row.note_refs)});
        d.rows.push_back(std::move(cells));
      };
      for (const auto& row : r.rows) add_d(row);
      if (!r.totals.empty()) d.rows.emplace_back();
      for (const auto& row : r.totals)
        if (row.source == "sum") add_d(row);
      out += d.Render();
    }
  }
  if (!r.reconciliation.empty()) {
    out += "\nReconciliation of the published figures\n\n";
    Grid c;
    c.header = {"Check", "Subject", "Field", "Published", "Computed", "Difference"};
    c.right = {false, false, false, true, true, true};
    for (const auto& k : r.reconciliation) {
      if (k.is_share)
        c.rows.push_back({k.kind, k.subject, k.field, k.printed.empty() ? Percent(k.stated) : k.printed,
                          Percent(k.computed), internal::Points(k.difference)});
      else
        c.rows.push_back({k.kind, k.subject, k.field, Count(int64_t(k.stated)), Count(int64_t(k.computed)),
                          Count(int64_t(k.difference))});
    }
    out += c.Render();
  }
  if (!r.notes.empty()) {
    out += "\nNotes\n\n";
    for (size_t i = 0; i < r.notes.size(); ++i)
      out += "[" + std::to_string(i + 1) + "] " + NoteText(r.notes[i]) + "\n";
  }
  return out;
}

// ---- CSV ----

namespace {

std::string CsvField(const std::string& s, char delimiter) {
  if (s.find_first_of(std::string(1, delimiter) + "\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string CsvLine(const std::vector<std::string>& cells, char delimiter) {
  std::string s;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i) s += delimiter;
    s += CsvField(cells[i], delimiter);
  }
  return s + "\r\n";
}

// Text from imported data must not start a spreadsheet formula (CSV injection): prefix a quote.
std::string CsvText(const std::string& s) {
  if (!s.empty() &&
      (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r'))
    return "'" + s;
  return s;
}

std::string CsvInt(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : ""; }

// A fraction of 1 as a percentage with four decimals: 0.6765022 -> "67,6502" (';') or "67.6502".
std::string CsvPercent(double fraction, char delimiter) {
  double v = std::round(fraction * 1e6) / 1e4;
  std::string s = internal::DecimalComma(v == 0 ? 0.0 : v, 4);
  if (delimiter != ';')
    for (char& c : s)
      if (c == ',') c = '.';
  return s;
}

std::string CsvRows(const Report& r, char d) {
  std::string out = CsvLine({"row_kind", "source", "period", "group", "eligible", "subscription", "starter",
                             "library", "digital", "not_itemised", "holders", "share_pct", "printed_share",
                             "digital_only", "physical_only", "both", "digital_share_pct", "notes"},
                            d);
  auto pct = [&](const std::optional<double>& v) { return v ? CsvPercent(*v, d) : ""; };
  auto row_line = [&](const char* kind, const ReportRow& row) {
    out += CsvLine({kind, row.source, row.period, CsvText(row.group.value_or("")), CsvInt(row.eligible),
                    CsvInt(row.subscription), CsvInt(row.starter), CsvInt(row.library), CsvInt(row.digital),
                    CsvInt(row.not_itemised), CsvInt(row.holders), pct(row.share),
                    row.printed_share.value_or(""), CsvInt(row.digital_only), CsvInt(row.physical_only),
                    CsvInt(row.both), pct(row.digital_share), internal::NoteRefs(row.note_refs)},
                   d);
  };
  for (const auto& row : r.rows) row_line("data", row);
  for (const auto& row : r.totals) row_line("total", row);
  return out;
}

std::string CsvReconciliation(const Report& r, char d, const NoteLanguage& lang) {
  std::string out = CsvLine(
      {"check", "subject", "field", "unit", "published", "computed", "difference", "printed", "text"}, d);
  for (const auto& k : r.reconciliation) {
    auto num = [&](double v) { return k.is_share ? CsvPercent(v, d) : std::to_string(int64_t(v)); };
    out += CsvLine({k.kind, k.subject, k.field, k.is_share ? "percent" : "count", num(k.stated),
                    num(k.computed), num(k.difference), k.printed, CsvText(NoteText(k.note, lang))},
                   d);
  }
  return out;
}

}  // namespace

std::string RenderCsv(const Report& r, const CsvOptions& o, const NoteLanguage& lang) {
  char d = o.delimiter == ',' ? ',' : ';';
  switch (o.part) {
    case CsvPart::kRows:
      return "\xEF\xBB\xBF" + CsvRows(r, d);
    case CsvPart::kReconciliation:
      return "\xEF\xBB\xBF" + CsvReconciliation(r, d, lang);
    case CsvPart::kNotes: {
      std::string out;
      for (size_t i = 0; i < r.notes.size(); ++i)
        out += "[" + std::to_string(i + 1) + "] " + NoteText(r.notes[i], lang) + "\r\n";
      return out;
    }
  }
  return "";
}

// ---- JSON ----

namespace {

nlohmann::json J(const std::optional<int64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }
nlohmann::json J(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }
nlohmann::json J(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json RowJson(const ReportRow& row) {
  return {{"period", row.period},
          {"group", J(row.group)},
          {"source", row.source},
          {"eligible", J(row.eligible)},
          {"cards",
           {{"subscription", J(row.subscription)},
            {"starter", J(row.starter)},
            {"library", J(row.library)},
            {"digital", J(row.digital)},
            {"not_itemised", J(row.not_itemised)}}},
          {"holders", J(row.holders)},
          {"share", J(row.share)},
          {"printed_share", J(row.printed_share)},
          {"digital_picture",
           {{"digital_only", J(row.digital_only)},
            {"physical_only", J(row.physical_only)},
            {"both", J(row.both)},
            {"digital_share", J(row.digital_share)}}},
          {"notes", row.note_refs}};
}

}  // namespace

std::string RenderJson(const Report& r) {
  nlohmann::json j;
  j["period"] = PeriodName(r.period);
  j["by"] = r.by == Dimension::kNone ? nlohmann::json(nullptr) : nlohmann::json(DimensionName(r.by));
  j["years"] = r.first_year == 0 ? nlohmann::json(nullptr)
                                 : nlohmann::json{{"first", r.first_year}, {"last", r.last_year}};
  j["rows"] = nlohmann::json::array();
  for (const auto& row : r.rows) j["rows"].push_back(RowJson(row));
  j["totals"] = nlohmann::json::array();
  for (const auto& row : r.totals) j["totals"].push_back(RowJson(row));
  j["notes"] = nlohmann::json::array();
  j["note_data"] = nlohmann::json::array();
  for (const Note& n : r.notes) {
    j["notes"].push_back(NoteText(n));
    nlohmann::json values = nlohmann::json::object();
    for (const NoteArg& a : n.args) {
      switch (a.kind) {
        case NoteArg::Kind::kCount:
          values[a.name] = a.count;
          break;
        case NoteArg::Kind::kShare:
          values[a.name] = a.share;
          break;
        case NoteArg::Kind::kText:
          values[a.name] = a.text;
          break;
        case NoteArg::Kind::kTerm:
          values[a.name] = a.other;
          break;
        case NoteArg::Kind::kSpan:
          values[a.name] = {{"first", a.text}, {"last", a.other}};
          break;
      }
    }
    j["note_data"].push_back({{"key", n.key}, {"values", std::move(values)}});
  }
  j["reconciliation"] = nlohmann::json::array();
  for (const auto& k : r.reconciliation) {
    auto num = [&](double v) { return k.is_share ? nlohmann::json(v) : nlohmann::json(int64_t(v)); };
    j["reconciliation"].push_back(
        {{"kind", k.kind},
         {"subject", k.subject},
         {"field", k.field},
         {"unit", k.is_share ? "fraction" : "count"},
         {"published", num(k.stated)},
         {"computed", num(k.computed)},
         {"difference", num(k.difference)},
         {"printed", k.printed.empty() ? nlohmann::json(nullptr) : nlohmann::json(k.printed)},
         {"text", NoteText(k.note)}});
  }
  // Group names come from imported data: replace invalid UTF-8 rather than throw.
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string Render(const Report& report, Format format) {
  switch (format) {
    case Format::kTable:
      return RenderTable(report);
    case Format::kCsv:
      return RenderCsv(report);
    case Format::kJson:
      return RenderJson(report);
    case Format::kHtml:
      return RenderHtml(report);
    case Format::kXlsx:
      return RenderXlsx(report).value_or("");
  }
  return RenderTable(report);
}

Result<std::string> Export(const Report& report, Format format, const CsvOptions& csv,
                           const NoteLanguage& notes) {
  if (format == Format::kXlsx) return RenderXlsx(report, notes);
  if (format == Format::kCsv) return RenderCsv(report, csv, notes);
  return Render(report, format);
}

}  // namespace lk::reports
