// The self-contained HTML page: tables plus SVG charts drawn here (no scripts, no external resources).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "reports/internal/format.h"
#include "reports/reports.h"

namespace lk::reports {
namespace {

using internal::Count;
using internal::Percent;

// One point of a chart: a period, summed over groups when the report is grouped.
struct Point {
  std::string label;
  std::optional<int64_t> eligible, holders, subscription, starter, library, digital, not_itemised;
  std::optional<int64_t> digital_only, both;
  std::optional<double> digital_share() const {
    if (!holders || *holders <= 0 || !digital_only || !both) return std::nullopt;
    return double(*digital_only + *both) / double(*holders);
  }
};

std::vector<Point> Series(const Report& r) {
  std::vector<Point> pts;
  for (const auto& row : r.rows) {
    if (pts.empty() || pts.back().label != row.period) {
      Point p{.label = row.period};
      for (auto f :
           {&Point::eligible, &Point::holders, &Point::subscription, &Point::starter, &Point::library,
            &Point::digital, &Point::not_itemised, &Point::digital_only, &Point::both})
        p.*f = 0;
      pts.push_back(p);
    }
    Point& p = pts.back();
    auto add = [](std::optional<int64_t>& acc, const std::optional<int64_t>& v) {
      if (acc && v)
        *acc += *v;
      else
        acc.reset();
    };
    add(p.eligible, row.eligible);
    add(p.holders, row.holders);
    add(p.subscription, row.subscription);
    add(p.starter, row.starter);
    add(p.library, row.library);
    add(p.digital, row.digital);
    add(p.not_itemised, row.not_itemised);
    add(p.digital_only, row.digital_only);
    add(p.both, row.both);
  }
  return pts;
}

// A round upper bound for an axis: 1, 2 or 5 times a power of ten.
double NiceMax(double v) {
  if (v <= 0) return 1;
  double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 1.2, 1.6, 2.0, 2.4, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0})
    if (m * p >= v) return m * p;
  return 10 * p;
}

std::string Num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

constexpr int kW = 760, kH = 320, kLeft = 80, kRight = 20, kTop = 30, kBottom = 50;

std::string SvgOpen(const std::string& id, const std::string& title, int h = kH) {
  return "<svg id=\"" + id + "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(kW) +
         "\" height=\"" + std::to_string(h) + "\" viewBox=\"0 0 " + std::to_string(kW) + " " +
         std::to_string(h) + "\" role=\"img\" aria-label=\"" + HtmlEscape(title) + "\"><title>" +
         HtmlEscape(title) + "</title>";
}

// Y axis with grid lines; returns the SVG and sets the scale.
std::string YAxis(double max, bool percent, int h = kH) {
  std::string s;
  int plot_h = h - kTop - kBottom;
  for (int i = 0; i <= 4; ++i) {
    double v = max * i / 4;
    double y = kTop + plot_h - plot_h * i / 4.0;
    s += "<line class=\"grid\" x1=\"" + std::to_string(kLeft) + "\" x2=\"" + std::to_string(kW - kRight) +
         "\" y1=\"" + Num(y) + "\" y2=\"" + Num(y) + "\"/>";
    s += "<text class=\"tick\" x=\"" + std::to_string(kLeft - 6) + "\" y=\"" + Num(y + 4) +
         "\" text-anchor=\"end\">" +
         (percent ? Percent(v).substr(0, Percent(v).size() - 4) + "%" : Count(int64_t(v))) + "</text>";
  }
  return s;
}

std::string Rect(double x, double y, double w, double h, const std::string& cls, const std::string& tip,
                 int64_t value) {
  return "<rect class=\"" + cls + "\" x=\"" + Num(x) + "\" y=\"" + Num(y) + "\" width=\"" + Num(w) +
         "\" height=\"" + Num(std::max(h, 0.0)) + "\" data-value=\"" + std::to_string(value) + "\"><title>" +
         HtmlEscape(tip) + "</title></rect>";
}

std::string Text(double x, double y, const std::string& text, const std::string& cls = "label",
                 const char* anchor = "middle") {
  return "<text class=\"" + cls + "\" x=\"" + Num(x) + "\" y=\"" + Num(y) + "\" text-anchor=\"" + anchor +
         "\">" + HtmlEscape(text) + "</text>";
}

std::string HoldersChart(const std::vector<Point>& pts) {
  std::string s = SvgOpen("chart-holders", "Holders and eligible staff per period");
  double max = 0;
  for (const auto& p : pts)
    max = std::max({max, double(p.eligible.value_or(0)), double(p.holders.value_or(0))});
  max = NiceMax(max);
  s += YAxis(max, false);
  int plot_h = kH - kTop - kBottom;
  double slot = double(kW - kLeft - kRight) / double(std::max<size_t>(pts.size(), 1));
  double bw = std::min(slot * 0.38, 40.0);
  auto y_of = [&](int64_t v) { return kTop + plot_h - plot_h * double(v) / max; };
  for (size_t i = 0; i < pts.size(); ++i) {
    const Point& p = pts[i];
    double cx = kLeft + slot * (double(i) + 0.5);
    if (p.eligible)
      s += Rect(cx - bw, y_of(*p.eligible), bw, kTop + plot_h - y_of(*p.eligible), "eligible",
                p.label + ": eligible " + Count(*p.eligible), *p.eligible);
    else
      s += Text(cx - bw / 2, kTop + plot_h - 4, "n/a", "na");
    if (p.holders) {
      s += Rect(cx, y_of(*p.holders), bw, kTop + plot_h - y_of(*p.holders), "holders",
                p.label + ": holders " + Count(*p.holders), *p.holders);
      s += Text(cx + bw / 2, y_of(*p.holders) - 4, Count(*p.holders), "value");
    } else {
      s += Text(cx + bw / 2, kTop + plot_h - 4, "n/a", "na");
    }
    s += Text(cx, kH - kBottom + 18, p.label);
  }
  s += "<rect class=\"eligible\" x=\"" + std::to_string(kLeft) + "\" y=\"6\" width=\"12\" height=\"12\"/>" +
       Text(kLeft + 16, 16, "eligible staff", "legend", "start") + "<rect class=\"holders\" x=\"" +
       std::to_string(kLeft + 130) + "\" y=\"6\" width=\"12\" height=\"12\"/>" +
       Text(kLeft + 146, 16, "holders", "legend", "start");
  return s + "</svg>";
}

struct Channel {
  const char* name;
  std::optional<int64_t> Point::*f;
};
constexpr Channel kChannels[] = {{"subscription", &Point::subscription},
                                 {"starter", &Point::starter},
                                 {"library", &Point::library},
                                 {"digital", &Point::digital},
                                 {"not_itemised", &Point::not_itemised}};

std::string ChannelChart(const std::vector<Point>& pts) {
  std::string s = SvgOpen("chart-channels", "Cards per channel per period, stacked");
  double max = 0;
  for (const auto& p : pts) {
    double t = 0;
    for (const auto& c : kChannels) t += double((p.*c.f).value_or(0));
    max = std::max(max, t);
  }
  max = NiceMax(max);
  s += YAxis(max, false);
  int plot_h = kH - kTop - kBottom;
  double slot = double(kW - kLeft - kRight) / double(std::max<size_t>(pts.size(), 1));
  double bw = std::min(slot * 0.6, 60.0);
  for (size_t i = 0; i < pts.size(); ++i) {
    const Point& p = pts[i];
    double cx = kLeft + slot * (double(i) + 0.5), base = kTop + plot_h;
    bool any = false;
    for (const auto& c : kChannels) {
      if (!(p.*c.f) || *(p.*c.f) <= 0) continue;
      any = true;
      double h = plot_h * double(*(p.*c.f)) / max;
      s += Rect(cx - bw / 2, base - h, bw, h, std::string("ch-") + c.name,
                p.label + ": " + c.name + " " + Count(*(p.*c.f)), *(p.*c.f));
      base -= h;
    }
    if (!any) s += Text(cx, kTop + plot_h - 4, "n/a", "na");
    s += Text(cx, kH - kBottom + 18, p.label);
  }
  double x = kLeft;
  for (const auto& c : kChannels) {
    s += "<rect class=\"ch-" + std::string(c.name) + "\" x=\"" + Num(x) +
         "\" y=\"6\" width=\"12\" height=\"12\"/>";
    s += Text(x + 16, 16, c.name, "legend", "start");
    x += 120;
  }
  return s + "</svg>";
}

std::string DigitalChart(const std::vector<Point>& pts) {
  std::string s = SvgOpen("chart-digital", "Share of holders with a digital card, per period");
  s += YAxis(1.0, true);
  int plot_h = kH - kTop - kBottom;
  double slot = double(kW - kLeft - kRight) / double(std::max<size_t>(pts.size(), 1));
  std::string path;
  for (size_t i = 0; i < pts.size(); ++i) {
    double cx = kLeft + slot * (double(i) + 0.5);
    auto share = pts[i].digital_share();
    if (share) {
      double y = kTop + plot_h - plot_h * *share;
      path += (path.empty() ? "M" : " L") + Num(cx) + " " + Num(y);
      s += "<circle class=\"digital-point\" cx=\"" + Num(cx) + "\" cy=\"" + Num(y) +
           "\" r=\"4\" data-value=\"" + internal::Shortest(*share) + "\"><title>" +
           HtmlEscape(pts[i].label + ": " + Percent(*share)) + "</title></circle>";
      s += Text(cx, y - 8, Percent(*share), "value");
    } else {
      if (!path.empty()) s += "<path class=\"digital-line\" d=\"" + path + "\"/>";
      path.clear();
      s += Text(cx, kTop + plot_h - 4, "n/a", "na");
    }
    s += Text(cx, kH - kBottom + 18, pts[i].label);
  }
  if (!path.empty()) s += "<path class=\"digital-line\" d=\"" + path + "\"/>";
  return s + "</svg>";
}

// Horizontal bars of holders per province for one period, with the share as a label.
std::string ProvinceChart(const Report& r, const std::string& period) {
  std::vector<const ReportRow*> rows;
  for (const auto& row : r.rows)
    if (row.period == period && row.group) rows.push_back(&row);
  int bar = 22, h = kTop + 10 + int(rows.size()) * bar + 20;
  std::string s = SvgOpen("chart-province-" + period, "Holders per province, " + period, h);
  double max = 0;
  for (const auto* row : rows) max = std::max(max, double(row->holders.value_or(0)));
  max = NiceMax(max);
  int left = 150, width = kW - left - 160;
  s += Text(left, 18, period + ": holders per province (share of eligible staff)", "legend", "start");
  for (size_t i = 0; i < rows.size(); ++i) {
    const ReportRow& row = *rows[i];
    double y = kTop + 10 + double(i) * bar;
    s += Text(left - 8, y + 15, *row.group, "label", "end");
    if (row.holders) {
      double w = width * double(*row.holders) / max;
      s += Rect(left, y + 3, w, bar - 6, "holders", period + " " + *row.group + ": " + Count(*row.holders),
                *row.holders);
      s += Text(left + w + 6, y + 15,
                Count(*row.holders) + (row.share ? " (" + Percent(*row.share) + ")" : ""), "value", "start");
    } else {
      s += Text(left + 4, y + 15, "n/a", "na", "start");
    }
  }
  return s + "</svg>";
}

std::string Cell(const std::optional<int64_t>& v, const ReportRow& row, const Report& r) {
  if (v) return "<td class=\"num\">" + Count(*v) + "</td>";
  std::string tip, refs;
  for (int n : row.note_refs) {
    tip += (tip.empty() ? "" : " ") + NoteText(r.notes[size_t(n)]);
    refs += (refs.empty() ? "" : ",") + std::string("<a href=\"#note-") + std::to_string(n + 1) + "\">" +
            std::to_string(n + 1) + "</a>";
  }
  return "<td class=\"na\" title=\"" + HtmlEscape(tip) + "\">n/a<sup>" + refs + "</sup></td>";
}
std::string Cell(const std::optional<double>& v, const ReportRow& row, const Report& r) {
  if (v) return "<td class=\"num\">" + Percent(*v) + "</td>";
  return Cell(std::optional<int64_t>(), row, r);
}

std::string NoteLinks(const ReportRow& row) {
  std::string s;
  for (int n : row.note_refs)
    s += "<a href=\"#note-" + std::to_string(n + 1) + "\">[" + std::to_string(n + 1) + "]</a>";
  return s;
}

}  // namespace

std::string RenderHtml(const Report& r) {
  bool grouped = r.by != Dimension::kNone;
  std::string period_h = r.period == Period::kCalendar ? "Card year" : "School year";
  std::string title = "Lerarenkaart adoption report";
  std::string h;
  h +=
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
      "img-src data:\">"
      "<title>" +
      title +
      "</title><style>\n"
      "body{font-family:system-ui,'DejaVu Sans',Arial,sans-serif;margin:24px;color:#222;background:#fff}"
      "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
      "table{border-collapse:collapse;margin:8px 0;font-size:13px}"
      "th,td{border:1px solid #ccc;padding:3px 7px}th{background:#f0f3f7;text-align:left}"
      "td.num{text-align:right;font-variant-numeric:tabular-nums}td.na{text-align:right;color:#a33;"
      "background:#fbf3f3}tr.total td{font-weight:bold;background:#f7f7f7}"
      "svg{display:block;margin:8px 0;background:#fff}"
      ".grid{stroke:#e3e3e3}.tick,.label,.legend,.value,.na{font-size:11px;fill:#333}.na{fill:#a33}"
      ".eligible{fill:#c9d3df}.holders{fill:#1f5fa8}.ch-subscription{fill:#1f77b4}.ch-starter{fill:#ff7f0e}"
      ".ch-library{fill:#2ca02c}.ch-digital{fill:#d62728}.ch-not_itemised{fill:#9e9e9e}"
      ".digital-line{fill:none;stroke:#d62728;stroke-width:2}.digital-point{fill:#d62728}"
      "ol.notes li{margin:4px 0;max-width:60em}\n</style></head><body>\n";
  h += "<h1>" + HtmlEscape(internal::ReportTitle(r)) + "</h1>\n";

  auto pts = Series(r);
  if (!pts.empty()) {
    h += "<h2>Holders and eligible staff</h2>\n" + HoldersChart(pts) + "\n";
    h += "<h2>Cards per channel</h2>\n" + ChannelChart(pts) + "\n";
    h += "<h2>Digital share of holders</h2>\n" + DigitalChart(pts) + "\n";
  }
  if (r.by == Dimension::kProvince) {
    h += "<h2>Per province</h2>\n";
    bool any = false;
    std::vector<std::string> done;
    for (const auto& row : r.rows) {
      if (!row.group || !row.holders) continue;
      if (std::find(done.begin(), done.end(), row.period) != done.end()) continue;
      done.push_back(row.period);
      h += ProvinceChart(r, row.period) + "\n";
      any = true;
    }
    if (!any)
      h += "<p class=\"na\">n/a: no period in this range has per-card records, so there are no "
           "provinces.</p>\n";
  }

  auto table = [&](bool digital) {
    std::string t = "<table class=\"" + std::string(digital ? "digital" : "adoption") + "\"><thead><tr><th>" +
                    period_h + "</th>";
    if (grouped) t += "<th>" + std::string(DimensionName(r.by)) + "</th>";
    if (digital) {
      for (const char* c : {"Holders", "Digital only", "Physical only", "Both", "Digital share", "Notes"})
        t += std::string("<th>") + c + "</th>";
    } else {
      for (const char* c : {"Source", "Eligible", "Subscription", "Starter", "Library", "Digital",
                            "Not itemised", "Holders", "Share", "Printed share", "Notes"})
        t += std::string("<th>") + c + "</th>";
    }
    t += "</tr></thead><tbody>\n";
    auto line = [&](const ReportRow& row, bool total) {
      std::string l =
          std::string("<tr") + (total ? " class=\"total\"" : "") + "><td>" + HtmlEscape(row.period) + "</td>";
      if (grouped) l += "<td>" + HtmlEscape(row.group.value_or("-")) + "</td>";
      if (digital) {
        l += Cell(row.holders, row, r) + Cell(row.digital_only, row, r) + Cell(row.physical_only, row, r) +
             Cell(row.both, row, r) + Cell(row.digital_share, row, r);
      } else {
        l += "<td>" + HtmlEscape(row.source) + "</td>" + Cell(row.eligible, row, r) +
             Cell(row.subscription, row, r) + Cell(row.starter, row, r) + Cell(row.library, row, r) +
             Cell(row.digital, row, r) + Cell(row.not_itemised, row, r) + Cell(row.holders, row, r) +
             Cell(row.share, row, r) + "<td>" + HtmlEscape(row.printed_share.value_or("")) + "</td>";
      }
      return l + "<td>" + NoteLinks(row) + "</td></tr>\n";
    };
    for (const auto& row : r.rows) t += line(row, false);
    for (const auto& row : r.totals)
      if (!digital || row.source == "sum") t += line(row, true);
    return t + "</tbody></table>\n";
  };
  if (r.rows.empty()) {
    h += "<p>No rows.</p>\n";
  } else {
    h += "<h2>Cards, holders and share</h2>\n" + table(false);
    h += "<h2>Digital picture</h2>\n" + table(true);
  }
  if (!r.reconciliation.empty()) {
    h += "<h2>Reconciliation of the published figures</h2>\n<table "
         "class=\"reconciliation\"><thead><tr><th>Check"
         "</th><th>Subject</th><th>Field</th><th>Published</th><th>Computed</th><th>Difference</"
         "th><th>Explanation"
         "</th></tr></thead><tbody>\n";
    for (const auto& k : r.reconciliation) {
      h += "<tr><td>" + HtmlEscape(k.kind) + "</td><td>" + HtmlEscape(k.subject) + "</td><td>" +
           HtmlEscape(k.field) + "</td>";
      if (k.is_share)
        h += "<td class=\"num\">" + HtmlEscape(k.printed.empty() ? Percent(k.stated) : k.printed) +
             "</td><td class=\"num\">" + Percent(k.computed) + "</td><td class=\"num\">" +
             internal::Points(k.difference) + "</td>";
      else
        h += "<td class=\"num\">" + Count(int64_t(k.stated)) + "</td><td class=\"num\">" +
             Count(int64_t(k.computed)) + "</td><td class=\"num\">" + Count(int64_t(k.difference)) + "</td>";
      h += "<td>" + HtmlEscape(NoteText(k.note)) + "</td></tr>\n";
    }
    h += "</tbody></table>\n";
  }
  h += "<h2>Notes</h2>\n<ol class=\"notes\">\n";
  for (size_t i = 0; i < r.notes.size(); ++i)
    h += "<li id=\"note-" + std::to_string(i + 1) + "\">" + HtmlEscape(NoteText(r.notes[i])) + "</li>\n";
  h += "</ol>\n</body></html>\n";
  return h;
}

}  // namespace lk::reports
