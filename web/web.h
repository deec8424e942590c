#pragma once
// The teacher's web pages: HTML templates, their translations (nl, fr, en), one stylesheet and
// the QR code as inline SVG, all embedded into the binary at build time. Templates are small
// (see pages/*.html): {{name}} inserts a value HTML-escaped, {{t:key}} a translated text
// (escaped), {{&name}} trusted markup made by code (the QR's SVG, a rendered page), and
// {{#flag}}..{{/flag}} / {{^flag}}..{{/flag}} keep a block when a flag is set / not set.
// A Site is immutable after Load: Render is thread-safe and allocates only its result.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace lk::web {

enum class Lang { kNl, kFr, kEn };  // in order of preference when nothing else decides
inline constexpr Lang kLangs[] = {Lang::kNl, Lang::kFr, Lang::kEn};
std::string_view LangCode(Lang lang);                  // "nl", "fr", "en"
std::optional<Lang> ParseLang(std::string_view code);  // exactly "nl", "fr" or "en"
// The `lang` cookie when it names one of the three, else the Accept-Language entry of highest
// q (primary subtag only: "fr-BE" is fr; "*" and q=0 never choose), else Dutch.
Lang NegotiateLang(std::string_view cookie, std::string_view accept_language);

// What one page shows. `text` values are escaped when inserted; `markup` values are not and
// must come from code that made them safe.
struct Values {
  std::map<std::string, std::string, std::less<>> text, markup;
  std::set<std::string, std::less<>> flags;
};

class Site {
 public:
  // Parses the embedded templates and translations; kInternal naming the file and the fault
  // (unknown page, a key missing in one language, an unclosed block).
  static Result<std::unique_ptr<const Site>> Load();
  virtual ~Site() = default;
  // Page `page` ("home", "claim", "card", "not_found", "error") inside the layout, in `lang`.
  // An unknown value name renders as nothing; an unknown page is kNotFound.
  virtual Result<std::string> Render(std::string_view page, Lang lang, const Values& values) const = 0;
  // A part (a page named "part_*": rows of a table, a navigation bar) alone, without the layout,
  // to be inserted into a page as markup. kNotFound for an unknown part.
  virtual Result<std::string> RenderPart(std::string_view part, Lang lang, const Values& values) const = 0;
  // A translated text ("" for an unknown key).
  virtual std::string_view Text(Lang lang, std::string_view key) const = 0;
  virtual std::string_view Stylesheet() const = 0;
  // Any embedded file by its path under web/ ("static/desk.js", "node_modules/jsqr/LICENSE"),
  // "" when there is none.
  virtual std::string_view File(std::string_view path) const = 0;
};

using lk::HtmlEscape;  // & < > " ' as character references (base/base.h)
// The QR code of `text` (error correction M, 8-bit mode, 4-module quiet zone) as an inline
// <svg> with role="img" and `label` as its accessible name; kInvalidArgument when it does not fit.
Result<std::string> QrSvg(std::string_view text, std::string_view label);

// One year's slot of a bar chart: its axis label and its value (nullopt: no data, an empty slot).
struct ChartSlot {
  std::string label;
  std::optional<int64_t> value;
};
// A bar chart as an inline <svg role="img"> named `title`, one slot per year in order, so years
// without data show as gaps on a real time axis. Each bar carries its value (`format` writes
// counts); the count axis has whole-number ticks from 0. Presentation attributes only (no style
// attribute: the pages' CSP allows no inline style).
std::string BarChartSvg(const std::vector<ChartSlot>& slots, std::string_view title,
                        const std::function<std::string(int64_t)>& format);

// One province of a tile map: its place on a rough grid of Belgium (column, row from the
// north-west), its shown name and its share (nullopt: no data).
struct MapTile {
  int col = 0, row = 0;
  std::string name;
  std::optional<double> share;  // a fraction of 1
};
// The provinces as an inline <svg role="img"> tile map named `title`, each tile shaded by its
// share in five steps of 20 points and labelled with `format(share)` (or "–"); text colours keep
// a contrast of at least 4.5:1 on every shade.
std::string TileMapSvg(const std::vector<MapTile>& tiles, std::string_view title,
                       const std::function<std::string(double)>& format);

}  // namespace lk::web
