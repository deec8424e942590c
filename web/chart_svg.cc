// The console's bar chart (web.h): years on a real time axis, whole-number count ticks.
#include <algorithm>
#include <cstdio>

#include "web/web.h"

namespace lk::web {
namespace {

// The tick step for counts up to `max`: 1, 2 or 5 times a power of ten, never below 1, so that
// the axis has at most about five steps.
int64_t TickStep(int64_t max) {
  int64_t step = 1;
  while (true) {
    for (int64_t m : {1, 2, 5})
      if (max <= step * m * 5) return step * m;
    step *= 10;
  }
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

std::string BarChartSvg(const std::vector<ChartSlot>& slots, std::string_view title,
                        const std::function<std::string(int64_t)>& format) {
  int64_t max = 0;
  for (const ChartSlot& s : slots)
    if (s.value) max = std::max(max, *s.value);
  const int64_t step = TickStep(max);
  const int64_t top = std::max<int64_t>(step, (max + step - 1) / step * step);
  const double left = 84, right = 12, plot_top = 24, plot_h = 220, bottom = 44;
  const double slot_w = slots.empty() ? 60 : std::clamp(840.0 / double(slots.size()), 24.0, 80.0);
  const double width = left + right + slot_w * double(std::max<size_t>(slots.size(), 1));
  const double height = plot_top + plot_h + bottom;
  const double base = plot_top + plot_h;
  auto y_of = [&](int64_t v) { return base - plot_h * double(v) / double(top); };
  std::string s = "<svg class=\"chart\" role=\"img\" aria-label=\"" + HtmlEscape(title) +
                  "\" viewBox=\"0 0 " + Num(width) + " " + Num(height) +
                  "\" xmlns=\"http://www.w3.org/2000/svg\">\n";
  s += "<title>" + HtmlEscape(title) + "</title>\n";
  // Ticks and grid lines on whole numbers.
  for (int64_t v = 0; v <= top; v += step) {
    std::string y = Num(y_of(v));
    s += "<line x1=\"" + Num(left) + "\" x2=\"" + Num(width - right) + "\" y1=\"" + y + "\" y2=\"" + y +
         "\" stroke=\"" + (v == 0 ? "#1b1b1b" : "#d0d4da") + "\" stroke-width=\"1\"/>\n";
    s += "<text x=\"" + Num(left - 6) + "\" y=\"" + Num(y_of(v) + 4) +
         "\" text-anchor=\"end\" font-size=\"12\" fill=\"#1b1b1b\">" + HtmlEscape(format(v)) + "</text>\n";
  }
  const double bar_w = slot_w * 0.62;
  for (size_t i = 0; i < slots.size(); ++i) {
    const ChartSlot& slot = slots[i];
    double x = left + slot_w * double(i);
    double mid = x + slot_w / 2;
    s += "<text x=\"" + Num(mid) + "\" y=\"" + Num(base + 16) + "\" text-anchor=\"middle\" font-size=\"" +
         (slot.label.size() > 4 ? "9" : "12") + "\" fill=\"" + (slot.value ? "#1b1b1b" : "#595959") + "\">" +
         HtmlEscape(slot.label) + "</text>\n";
    if (!slot.value) continue;
    double y = y_of(*slot.value);
    s += "<rect x=\"" + Num(mid - bar_w / 2) + "\" y=\"" + Num(y) + "\" width=\"" + Num(bar_w) +
         "\" height=\"" + Num(base - y) + "\" fill=\"#1f5fa8\"/>\n";
    s += "<text x=\"" + Num(mid) + "\" y=\"" + Num(y - 5) + "\" text-anchor=\"middle\" font-size=\"" +
         (slot_w < 48 ? "9" : "11") + "\" fill=\"#1b1b1b\">" + HtmlEscape(format(*slot.value)) + "</text>\n";
  }
  s += "</svg>";
  return s;
}

std::string TileMapSvg(const std::vector<MapTile>& tiles, std::string_view title,
                       const std::function<std::string(double)>& format) {
  static constexpr const char* kShades[] = {"#e6eef8", "#bcd0ea", "#8fb1dc", "#3f74b8", "#1f4f8f"};
  static constexpr const char* kInk[] = {"#1b1b1b", "#1b1b1b", "#1b1b1b", "#ffffff", "#ffffff"};
  const double w = 150, h = 64, gap = 6;
  int cols = 1, rows = 1;
  for (const MapTile& t : tiles) {
    cols = std::max(cols, t.col + 1);
    rows = std::max(rows, t.row + 1);
  }
  const double width = cols * (w + gap), height = rows * (h + gap);
  std::string s = "<svg class=\"map\" role=\"img\" aria-label=\"" + HtmlEscape(title) + "\" viewBox=\"0 0 " +
                  Num(width) + " " + Num(height) + "\" xmlns=\"http://www.w3.org/2000/svg\">\n";
  s += "<title>" + HtmlEscape(title) + "</title>\n";
  for (const MapTile& t : tiles) {
    double x = t.col * (w + gap), y = t.row * (h + gap);
    int step = t.share ? std::clamp(static_cast<int>(*t.share * 5), 0, 4) : -1;
    const char* fill = step < 0 ? "#f2f2f2" : kShades[step];
    const char* ink = step < 0 ? "#1b1b1b" : kInk[step];
    s += "<rect x=\"" + Num(x) + "\" y=\"" + Num(y) + "\" width=\"" + Num(w) + "\" height=\"" + Num(h) +
         "\" rx=\"6\" fill=\"" + fill + "\" stroke=\"#5b6675\" stroke-width=\"1\"/>\n";
    s += "<text x=\"" + Num(x + w / 2) + "\" y=\"" + Num(y + 26) +
         "\" text-anchor=\"middle\" font-size=\"13\" fill=\"" + ink + "\">" + HtmlEscape(t.name) +
         "</text>\n";
    s += "<text x=\"" + Num(x + w / 2) + "\" y=\"" + Num(y + 48) +
         "\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"700\" fill=\"" + ink + "\">" +
         HtmlEscape(t.share ? format(*t.share) : "–") + "</text>\n";
  }
  s += "</svg>";
  return s;
}

}  // namespace lk::web
