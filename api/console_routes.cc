// The staff console (docs/console.md): sign in with a staff credential on a form, the adoption
// view with its controls, chart and downloads, looking a card up by staff id or serial (its
// audit trail, revocation), a new claim code for one staff member, and the ledger's state.
//
// Signing in: the credential is checked against the ledger once, then the browser holds only a
// random session id in `lk_console` (HttpOnly, SameSite=Strict, Path=/console, Secure when the
// public URL is https, console_session_lifetime); the store keeps the id's SHA-256 and the
// credential's id, and every request checks that the credential still exists.
// CSRF: the sign-in form is a double submit (a random `lk_console_csrf` cookie, SameSite=Strict,
// echoed in a hidden field); every other form carries the session's own token; any POST a
// browser marks `Sec-Fetch-Site: cross-site` is refused. Every failure is a page with a sentence.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "api/internal/pages.h"
#include "api/internal/service_context.h"
#include "reports/reports.h"

namespace lk::api::internal {
namespace {

constexpr std::string_view kConsoleCookie = "lk_console", kConsoleCsrfCookie = "lk_console_csrf";

std::string ConsoleCookie(const ServiceContext& ctx, std::string_view name, std::string_view value,
                          std::string_view attrs) {
  return std::string(name) + "=" + std::string(value) + "; Path=/console; " + std::string(attrs) +
         (Https(ctx) ? "; Secure" : "");
}

// A signed-in browser: its session id, the session, and the credential's name.
struct Signed {
  std::string id;
  TeacherSession session;
  std::string name;
};

std::optional<Signed> SessionOf(ServiceContext& ctx, const HttpRequest& req, Reply& failure) {
  std::string id = CookieValue(req, kConsoleCookie);
  if (id.empty()) return std::nullopt;
  auto found = ctx.console_sessions->Find(id);
  if (!found) {
    failure = std::unexpected(Problem(found.error()));
    return std::nullopt;
  }
  auto& s = *found;
  if (!s) return std::nullopt;
  // A removed credential ends its sessions at their next request.
  auto creds = ctx.deps.ledger->access().ListCredentials();
  if (!creds) {
    failure = std::unexpected(Problem(creds.error()));
    return std::nullopt;
  }
  for (const ledger::Credential& c : *creds)
    if (c.kind == ledger::CredentialKind::kStaff && std::to_string(c.id) == s->serial)
      return Signed{id, std::move(*s), c.name};
  if (auto r = ctx.console_sessions->End(id); !r) failure = std::unexpected(Problem(r.error()));
  return std::nullopt;
}

// Renders a console page; `nav` adds the console's navigation with the sign-out form.
Reply Page(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, std::string_view page,
           web::Lang lang, web::Values values, const Signed* who, int status = 200) {
  if (!values.text.contains("switch")) values.text["switch"] = req.path + "?";
  if (who) {
    web::Values n;
    n.text["csrf"] = who->session.csrf;
    n.text["who"] = who->name;
    n.flags.insert("at_" + std::string(page));
    auto nav = ctx.site->RenderPart("part_console_nav", lang, n);
    if (!nav) return std::unexpected(Problem(nav.error()));
    values.markup["nav"] = std::move(*nav);
  }
  auto html = ctx.site->Render(page, lang, values);
  if (!html) return std::unexpected(Problem(html.error()));
  res.status = status;
  res.set_content(std::move(*html), "text/html; charset=utf-8");
  res.set_header("Cache-Control", "no-store");
  res.set_header("Vary", "Accept-Language, Cookie");
  res.set_header("Content-Security-Policy", kPageCsp);
  return {};
}

// The sign-in form, with `error` (a strings key) shown when set.
Reply SignInForm(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, web::Lang lang,
                 std::string_view error, int status) {
  std::string csrf = CookieValue(req, kConsoleCsrfCookie);
  if (csrf.size() < 16 || csrf.size() > 64) {
    csrf = Base64UrlEncode(RandomBytes(24));
    res.headers.emplace_back("Set-Cookie",
                             ConsoleCookie(ctx, kConsoleCsrfCookie, csrf, "HttpOnly; SameSite=Strict"));
  }
  web::Values v;
  v.text["csrf"] = csrf;
  v.text["switch"] = "/console?";
  if (!error.empty()) {
    v.flags.insert("error");
    v.text["error_text"] = ctx.site->Text(lang, error);
  }
  return Page(ctx, req, res, "console_signin", lang, std::move(v), nullptr, status);
}

// The console's error page: `sentence` (a strings key) says what to do next.
Reply ErrorPage(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, web::Lang lang,
                const Signed* who, std::string_view sentence, int status) {
  web::Values v;
  v.text["detail"] = ctx.site->Text(lang, sentence);
  return Page(ctx, req, res, "console_error", lang, std::move(v), who, status);
}

// The signed-in browser, or: a GET is sent to the sign-in form, a POST gets it with a sentence.
std::optional<Signed> Require(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, web::Lang lang,
                              Reply& failure) {
  auto who = SessionOf(ctx, req, failure);
  if (who || !failure) return who;
  if (req.method == "POST")
    failure = SignInForm(ctx, req, res, lang, "console.error.signed_out", 401);
  else
    Redirect(res, "/console");
  return std::nullopt;
}

// Whether a form of a signed-in browser is its own.
bool FormIsOurs(const HttpRequest& req, const Signed& who, const std::map<std::string, std::string>& form) {
  auto it = form.find("csrf");
  return !CrossSite(req) && it != form.end() && ConstantTimeEqual(it->second, who.session.csrf);
}

// Counts and shares as the page's language writes them.
std::string FormatCount(int64_t n, web::Lang lang) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  const char* sep = lang == web::Lang::kEn ? "," : lang == web::Lang::kFr ? "\u202f" : ".";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += sep;
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}
std::string FormatShare(double fraction, web::Lang lang, int decimals = 1) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, fraction * 100);
  std::string s = buf;
  if (lang != web::Lang::kEn) s[s.find('.')] = ',';
  return lang == web::Lang::kEn ? s + "%" : s + "\u00a0%";
}

// The report's notes in the page's language: the "note.KEY" templates and terms of the strings,
// groups and the published total as the table names them, numbers as the page writes them
// (shares with two decimals, as the reconciliation compares them with the printed ones).
reports::NoteLanguage NotesIn(const ServiceContext& ctx, web::Lang lang) {
  const web::Site* site = ctx.site.get();
  return {
      [site, lang](std::string_view key) -> std::string_view {
        if (key.starts_with("group.")) return site->Text(lang, "console." + std::string(key));
        if (key == "total") return site->Text(lang, "console.total");
        return site->Text(lang, "note." + std::string(key));
      },
      [lang](int64_t n) { return FormatCount(n, lang); },
      [lang](double f) { return FormatShare(f, lang, 2); },
  };
}

// The adoption view's controls, checked; `error` is the strings key of the first bad one.
struct Selection {
  reports::Period period = reports::Period::kCalendar;
  reports::Dimension by = reports::Dimension::kNone;
  int from = 0, to = 0;         // 0: from or to the ledger's own first or last year
  std::string channel = "all";  // all | digital | subscription | starter | library
  std::string error;
  // The query string that selects the same again (validated values only).
  std::string Query() const {
    std::string q = "period=" + std::string(reports::PeriodName(period)) +
                    "&by=" + std::string(reports::DimensionName(by)) + "&channel=" + channel;
    if (from) q += "&from=" + std::to_string(from);
    if (to) q += "&to=" + std::to_string(to);
    return q;
  }
};

Selection ParseSelection(const HttpRequest& req) {
  Selection s;
  auto param = [&](const char* name) { return std::string(Trim(req.param(name).value_or(""))); };
  if (auto p = param("period"); !p.empty()) {
    auto period = reports::ParsePeriod(p);
    if (period)
      s.period = *period;
    else
      s.error = "console.error.period";
  }
  if (auto b = param("by"); !b.empty()) {
    auto by = reports::ParseDimension(b);
    if (by)
      s.by = *by;
    else
      s.error = "console.error.by";
  }
  if (auto c = param("channel"); !c.empty()) {
    if (c == "all" || c == "digital" || c == "subscription" || c == "starter" || c == "library")
      s.channel = c;
    else
      s.error = "console.error.channel";
  }
  for (auto [name, out] : {std::pair{"from", &s.from}, std::pair{"to", &s.to}}) {
    std::string y = param(name);
    if (y.empty()) continue;
    if (y.size() != 4 || y.find_first_not_of("0123456789") != std::string::npos || y < "2000" || y > "2199") {
      s.error = "console.error.years";
      continue;
    }
    *out = std::stoi(y);
  }
  if (s.from && s.to && s.from > s.to) s.error = "console.error.years";
  return s;
}

// The report of a selection; a year range without an end takes it from the ledger.
Result<reports::Report> BuildSelected(ServiceContext& ctx, const Selection& s) {
  reports::ReportOptions o;
  o.period = s.period;
  o.by = s.by;
  if (s.from || s.to) {
    // One open end: resolve the whole range first, then narrow it.
    reports::ReportOptions all = o;
    auto whole = reports::BuildAdoptionReport(*ctx.deps.ledger, all);
    if (!whole) return whole;
    o.first_year = s.from ? s.from : whole->first_year;
    o.last_year = s.to ? s.to : whole->last_year;
    if (o.first_year > o.last_year) return Fail(Code::kInvalidArgument, "empty range");
  }
  return reports::BuildAdoptionReport(*ctx.deps.ledger, o);
}

// The value a row has for the chart: holders, or the chosen channel's cards.
std::optional<int64_t> ChartValue(const reports::ReportRow& r, std::string_view channel) {
  if (channel == "digital") return r.digital;
  if (channel == "subscription") return r.subscription;
  if (channel == "starter") return r.starter;
  if (channel == "library") return r.library;
  return r.holders;
}

bool EmptyEverywhere(const reports::ReportRow& r) {
  for (const auto* f : {&r.eligible, &r.subscription, &r.starter, &r.library, &r.digital, &r.holders})
    if (f->value_or(0) != 0) return false;
  return true;
}

// A group value in the page's language ("basic" -> "basisonderwijs"); unknown values as given.
std::string GroupName(const ServiceContext& ctx, web::Lang lang, const std::string& group) {
  std::string_view t = ctx.site->Text(lang, "console.group." + group);
  return t.empty() ? group : std::string(t);
}

// The table rows of `rows` as markup (part_console_row), empty rows left out.
Result<std::string> TableRows(ServiceContext& ctx, web::Lang lang,
                              const std::vector<reports::ReportRow>& rows, const Selection& s, bool totals,
                              size_t& shown) {
  std::string out;
  auto count = [&](const std::optional<int64_t>& v) { return v ? FormatCount(*v, lang) : "–"; };
  for (const reports::ReportRow& r : rows) {
    if (EmptyEverywhere(r)) continue;
    ++shown;
    web::Values v;
    std::string_view total_label = ctx.site->Text(lang, "console.total");
    // "2017-2019", "2025-2026 to 2026-2027" (the report's English "to" becomes a dash), "Totaal".
    std::string period = r.period == "Totaal" ? std::string(total_label) : r.period;
    if (size_t to = period.find(" to "); to != std::string::npos) period.replace(to, 4, " – ");
    v.text["period"] = std::move(period);
    v.text["group"] = r.group ? GroupName(ctx, lang, *r.group) : std::string(total_label);
    std::string_view source = ctx.site->Text(lang, "console.source." + r.source);
    v.text["source"] = source.empty() ? r.source : std::string(source);
    v.text["eligible"] = count(r.eligible);
    v.text["holders"] = count(r.holders);
    v.text["share"] = r.share ? FormatShare(*r.share, lang) : "–";
    v.text["subscription"] = count(r.subscription);
    v.text["starter"] = count(r.starter);
    v.text["library"] = count(r.library);
    v.text["digital"] = count(r.digital);
    v.text["digital_share"] = r.digital_share ? FormatShare(*r.digital_share, lang) : "–";
    std::string refs;
    for (int n : r.note_refs) refs += (refs.empty() ? "" : " ") + std::to_string(n + 1);
    v.text["notes"] = refs;
    if (s.by != reports::Dimension::kNone) v.flags.insert("grouped");
    if (totals) v.flags.insert("total");
    v.flags.insert("col_" + s.channel);
    if (s.channel == "all") v.flags.insert("col_every");
    auto row = ctx.site->RenderPart("part_console_row", lang, v);
    if (!row) return row;
    out += *row;
  }
  return out;
}

// The chart: one slot per year of the report's range, the sum of its rows' values (a gap when
// no row of that year has one).
std::string Chart(ServiceContext& ctx, web::Lang lang, const reports::Report& rep, const Selection& s) {
  std::vector<web::ChartSlot> slots;
  int first = rep.first_year, last = std::min(rep.last_year, rep.first_year + 59);
  for (int y = first; y <= last && first > 0; ++y) {
    std::string period = rep.period == reports::Period::kSchool
                             ? std::to_string(y) + "-" + std::to_string(y + 1)
                             : std::to_string(y);
    web::ChartSlot slot{period, std::nullopt};
    if (rep.period == reports::Period::kSchool) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%d-%02d", y, (y + 1) % 100);
      slot.label = buf;
    }
    for (const reports::ReportRow& r : rep.rows)
      if (r.period == period)
        if (auto v = ChartValue(r, s.channel)) slot.value = slot.value.value_or(0) + *v;
    slots.push_back(std::move(slot));
  }
  std::string title(ctx.site->Text(lang, "console.chart." + s.channel));
  return web::BarChartSvg(slots, title, [lang](int64_t n) { return FormatCount(n, lang); });
}

// By province: a tile map of the digital share (of holders) in the latest period that has one;
// "" when no period has.
std::string ProvinceMap(ServiceContext& ctx, web::Lang lang, const reports::Report& rep) {
  struct Place {
    const char* name;
    int col, row;
  };
  static constexpr Place kPlaces[] = {{"West-Vlaanderen", 0, 0}, {"Oost-Vlaanderen", 1, 0},
                                      {"Antwerpen", 2, 0},       {"Limburg", 3, 0},
                                      {"Brussel", 1, 1},         {"Vlaams-Brabant", 2, 1},
                                      {"Henegouwen", 0, 2},      {"Waals-Brabant", 1, 2},
                                      {"Namen", 2, 2},           {"Luik", 3, 2},
                                      {"Luxemburg", 2, 3}};
  std::string period;
  for (const reports::ReportRow& r : rep.rows)
    if (r.group && r.digital_share) period = r.period;  // rows are in period order: the last wins
  if (period.empty()) return "";
  std::vector<web::MapTile> tiles;
  for (const Place& p : kPlaces) {
    web::MapTile t{p.col, p.row, GroupName(ctx, lang, p.name), std::nullopt};
    for (const reports::ReportRow& r : rep.rows)
      if (r.period == period && r.group == p.name) t.share = r.digital_share;
    tiles.push_back(std::move(t));
  }
  std::string title = std::string(ctx.site->Text(lang, "console.map.title")) + " " + period;
  return web::TileMapSvg(tiles, title, [lang](double f) { return FormatShare(f, lang); });
}

// The adoption view (the console's home for a signed-in browser).
Reply AdoptionView(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, web::Lang lang,
                   const Signed& who) {
  Selection s = ParseSelection(req);
  web::Values v;
  v.flags.insert("period_" + std::string(reports::PeriodName(s.period)));
  v.flags.insert("by_" + std::string(reports::DimensionName(s.by)));
  v.flags.insert("channel_" + s.channel);
  v.text["from"] = s.from ? std::to_string(s.from) : "";
  v.text["to"] = s.to ? std::to_string(s.to) : "";
  v.text["switch"] = "/console?" + s.Query() + "&";
  int status = 200;
  if (!s.error.empty()) {
    v.flags.insert("error");
    v.text["error_text"] = ctx.site->Text(lang, s.error);
    return Page(ctx, req, res, "console_adoption", lang, std::move(v), &who, 400);
  }
  auto rep = BuildSelected(ctx, s);
  if (!rep) {
    if (rep.error().code != Code::kInvalidArgument) return std::unexpected(Problem(rep.error()));
    v.flags.insert("error");
    v.text["error_text"] = ctx.site->Text(lang, "console.error.years");
    return Page(ctx, req, res, "console_adoption", lang, std::move(v), &who, 400);
  }
  size_t shown = 0;
  auto rows = TableRows(ctx, lang, rep->rows, s, false, shown);
  if (!rows) return std::unexpected(Problem(rows.error()));
  size_t data_rows = shown;
  auto totals = TableRows(ctx, lang, rep->totals, s, true, shown);
  if (!totals) return std::unexpected(Problem(totals.error()));
  if (data_rows == 0) {
    v.flags.insert("empty");
  } else {
    v.flags.insert("data");
    v.markup["rows"] = std::move(*rows) + *totals;
    v.markup["chart"] = Chart(ctx, lang, *rep, s);
    if (s.by == reports::Dimension::kProvince) {
      v.markup["map"] = ProvinceMap(ctx, lang, *rep);
      if (!v.markup["map"].empty()) v.flags.insert("map");
    }
  }
  if (s.by != reports::Dimension::kNone) v.flags.insert("grouped");
  v.flags.insert("col_" + s.channel);
  if (s.channel == "all") v.flags.insert("col_every");
  std::string notes;
  reports::NoteLanguage note_lang = NotesIn(ctx, lang);
  for (size_t i = 0; i < rep->notes.size(); ++i) {
    web::Values n;
    n.text["n"] = std::to_string(i + 1);
    n.text["text"] = reports::NoteText(rep->notes[i], note_lang);
    auto note = ctx.site->RenderPart("part_console_note", lang, n);
    if (!note) return std::unexpected(Problem(note.error()));
    notes += *note;
  }
  if (!notes.empty()) v.flags.insert("notes");
  v.markup["notes"] = std::move(notes);
  v.text["csv"] = "/console/adoption.csv?" + s.Query();
  v.text["xlsx"] = "/console/adoption.xlsx?" + s.Query();
  auto label = [&](int y) {
    return rep->period == reports::Period::kSchool ? std::to_string(y) + "-" + std::to_string(y + 1)
                                                   : std::to_string(y);
  };
  v.text["range"] = rep->first_year ? label(rep->first_year) + " – " + label(rep->last_year) : "";
  return Page(ctx, req, res, "console_adoption", lang, std::move(v), &who, status);
}

// A serial as the ledger writes them: 12 Crockford base32 characters.
bool LooksLikeSerial(std::string_view q) {
  static constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  return q.size() == 12 && q.find_first_not_of(kAlphabet) == std::string_view::npos;
}

std::string ChannelText(const ServiceContext& ctx, web::Lang lang, Channel c) {
  const char* name = c == Channel::kDigital        ? "digital"
                     : c == Channel::kSubscription ? "subscription"
                     : c == Channel::kStarter      ? "starter"
                                                   : "library";
  return std::string(ctx.site->Text(lang, std::string("console.channel.") + name));
}

// A time as the console writes it: 2026-03-01T10:00:00Z as "2026-03-01 10:00:00".
std::string ShownTime(std::string rfc3339) {
  if (rfc3339.size() == 20 && rfc3339[10] == 'T' && rfc3339[19] == 'Z')
    return rfc3339.substr(0, 10) + " " + rfc3339.substr(11, 8);
  return rfc3339;
}

// An audit entry's detail (a JSON object, as its action wrote it) as label: value pairs
// (part_console_detail): known keys by their translated label (console.detail.KEY) in a fixed
// order, then the others by name; counts in the page's style, times as dates, a card list as its
// length, a value with a translation (console.detail.KEY.VALUE) translated. Not an object: as is.
Result<std::string> AuditDetail(const ServiceContext& ctx, web::Lang lang, const std::string& detail) {
  static constexpr std::string_view kOrder[] = {"year",
                                                "table",
                                                "file",
                                                "rows",
                                                "added",
                                                "present",
                                                "requested",
                                                "codes",
                                                "cards",
                                                "serial",
                                                "reason",
                                                "revoked_at",
                                                "replaced_by",
                                                "roster_entry",
                                                "first_roster_entry",
                                                "last_roster_entry",
                                                "expires",
                                                "for",
                                                "kind",
                                                "name",
                                                "sha256"};
  static constexpr std::string_view kCounts[] = {"rows", "added", "present", "requested", "codes"};
  auto rank = [](std::string_view key) {
    return size_t(std::find(std::begin(kOrder), std::end(kOrder), key) - std::begin(kOrder));
  };
  std::vector<std::pair<std::string, std::string>> pairs;
  nlohmann::json j = nlohmann::json::parse(detail, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    std::vector<std::string> keys;
    for (const auto& item : j.items()) keys.push_back(item.key());
    std::stable_sort(keys.begin(), keys.end(),
                     [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
    for (const std::string& key : keys) {
      const nlohmann::json& value = j[key];
      std::string_view label = ctx.site->Text(lang, "console.detail." + key);
      std::string shown;
      if (value.is_number_integer()) {
        int64_t n = value.get<int64_t>();
        if (key == "revoked_at")
          shown = ShownTime(FormatRfc3339(Time(std::chrono::seconds(n))));
        else if (std::find(std::begin(kCounts), std::end(kCounts), key) != std::end(kCounts))
          shown = FormatCount(n, lang);
        else
          shown = std::to_string(n);
      } else if (value.is_string()) {
        shown = value.get<std::string>();
        if (key == "cards") {  // "SERIAL:fingerprint,..." of every card the entry made
          shown = FormatCount(shown.empty() ? 0 : 1 + std::count(shown.begin(), shown.end(), ','), lang);
        } else if (key == "expires") {
          shown = ShownTime(shown);
        } else if (std::string_view t = ctx.site->Text(lang, "console.detail." + key + "." + shown);
                   !t.empty()) {
          shown = t;
        }
      } else if (key == "cards" && value.is_array()) {
        shown = FormatCount(int64_t(value.size()), lang);
      } else {
        shown = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
      pairs.emplace_back(label.empty() ? key : std::string(label), std::move(shown));
    }
  } else {
    pairs.emplace_back(ctx.site->Text(lang, "console.audit.detail"), detail);
  }
  std::string out;
  for (auto& [label, value] : pairs) {
    web::Values d;
    d.text["label"] = std::move(label);
    d.text["value"] = std::move(value);
    auto part = ctx.site->RenderPart("part_console_detail", lang, d);
    if (!part) return part;
    out += *part;
  }
  return out;
}

// What the claim-code form holds: the person looked up, or what was posted (after an error).
struct ClaimForm {
  std::string staff_id, first_name, last_name, year;
  bool empty() const { return staff_id.empty() && first_name.empty() && last_name.empty() && year.empty(); }
};

// The cards page: the look-up form, what it found, one card's audit trail and revocation form,
// and the claim-code form (`claim` when posted; else filled from the person found: the staff id
// when looked up by it, the name split at its first space, which makes the same display name
// again, and the newest card's year). `notice` (strings key) and `code` (a new claim code) when set.
Reply CardsView(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, web::Lang lang,
                const Signed& who, std::string q, std::string_view notice, std::string_view error,
                const std::string& code, int status, ClaimForm claim = {}) {
  web::Values v;
  v.text["csrf"] = who.session.csrf;
  v.text["q"] = q;
  v.text["switch"] = q.empty() ? "/console/cards?" : "/console/cards?q=" + QueryEscape(q) + "&";
  if (!v.text.contains("year"))
    v.text["year"] = std::to_string(int(BrusselsDate(ctx.deps.clock->Now()).year()));
  if (!notice.empty()) {
    v.flags.insert("notice");
    v.text["notice_text"] = ctx.site->Text(lang, notice);
  }
  if (!error.empty()) {
    v.flags.insert("error");
    v.text["error_text"] = ctx.site->Text(lang, error);
  }
  if (!code.empty()) {
    v.flags.insert("code");
    v.text["code"] = code;
  }
  std::vector<Card> cards;
  bool by_staff_id = false;
  if (!q.empty()) {
    std::string upper;
    for (char c : q) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (LooksLikeSerial(upper)) {
      auto card = ctx.deps.ledger->cards().FindCard(upper);
      if (card)
        cards.push_back(std::move(*card));
      else if (card.error().code != Code::kNotFound)
        return std::unexpected(Problem(card.error()));
    }
    if (cards.empty()) {
      auto found = ctx.deps.ledger->cards().FindCardsOfStaff(q);
      if (!found && found.error().code != Code::kInvalidArgument)
        return std::unexpected(Problem(found.error()));
      if (found) cards = std::move(*found);
      by_staff_id = !cards.empty();
    }
    v.flags.insert(cards.empty() ? "none_found" : "found");
    if (cards.empty() && status == 200) status = 404;
  }
  std::string rows;
  for (const Card& c : cards) {
    web::Values r;
    r.text["serial"] = c.serial;
    r.text["link"] = "/console/cards?q=" + c.serial;
    r.text["year"] = std::to_string(c.year);
    r.text["channel"] = ChannelText(ctx, lang, c.channel);
    r.text["name"] = c.holder_name.empty() ? "–" : c.holder_name;
    r.text["school"] = c.school.empty() ? "–" : c.school;
    r.text["status"] = ctx.site->Text(lang, c.revoked ? "console.card.revoked" : "console.card.active");
    r.text["reason"] = c.revoked_reason;
    if (c.revoked) r.flags.insert("revoked");
    auto row = ctx.site->RenderPart("part_console_card", lang, r);
    if (!row) return std::unexpected(Problem(row.error()));
    rows += *row;
  }
  v.markup["cards"] = std::move(rows);
  if (cards.size() == 1) {
    const Card& c = cards.front();
    v.flags.insert("one");
    v.text["serial"] = c.serial;
    if (!c.revoked) v.flags.insert("revocable");
    auto trail = ctx.deps.ledger->audit().EntriesOfCard(c.serial);
    if (!trail) return std::unexpected(Problem(trail.error()));
    std::string entries;
    for (const ledger::AuditEntry& e : *trail) {
      web::Values r;
      r.text["seq"] = std::to_string(e.seq);
      std::string at = FormatRfc3339(e.at);  // 2026-03-01T10:00:00Z, shown as 2026-03-01 10:00:00
      if (at.size() == 20) at = at.substr(0, 10) + " " + at.substr(11, 8);
      r.text["at"] = std::move(at);
      std::string_view action = ctx.site->Text(lang, "console.action." + e.action);
      r.text["action"] = action.empty() ? e.action : std::string(action);
      auto detail = AuditDetail(ctx, lang, e.detail);
      if (!detail) return std::unexpected(Problem(detail.error()));
      r.markup["detail"] = std::move(*detail);
      auto row = ctx.site->RenderPart("part_console_audit", lang, r);
      if (!row) return std::unexpected(Problem(row.error()));
      entries += *row;
    }
    v.markup["audit"] = std::move(entries);
  }
  if (claim.empty() && !cards.empty()) {
    if (by_staff_id) claim.staff_id = q;
    for (const Card& c : cards) {
      if (c.holder_name.empty()) continue;
      size_t space = c.holder_name.find(' ');
      claim.first_name = c.holder_name.substr(0, space);
      claim.last_name = space == std::string::npos ? "" : c.holder_name.substr(space + 1);
      break;
    }
    claim.year = std::to_string(cards.front().year);  // newest first
    v.flags.insert("claim_prefilled");
    if (!by_staff_id) v.flags.insert("claim_no_staff_id");
  }
  v.text["claim_staff_id"] = claim.staff_id;
  v.text["claim_first_name"] = claim.first_name;
  v.text["claim_last_name"] = claim.last_name;
  if (!claim.year.empty()) v.text["year"] = claim.year;
  return Page(ctx, req, res, "console_cards", lang, std::move(v), &who, status);
}

// The fields of a multipart/form-data body (RFC 7578) by name, first one wins, a file's bytes as
// sent; nullopt when the body does not parse. At most 8 parts; every byte is hostile.
std::optional<std::map<std::string, std::string>> MultipartFields(std::string_view type,
                                                                  std::string_view body) {
  size_t b = type.find("boundary=");
  if (!type.starts_with("multipart/form-data") || b == std::string_view::npos) return std::nullopt;
  std::string_view boundary = type.substr(b + 9);
  boundary = boundary.substr(0, boundary.find(';'));
  if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"')
    boundary = boundary.substr(1, boundary.size() - 2);
  if (boundary.empty() || boundary.size() > 70) return std::nullopt;
  const std::string delimiter = "--" + std::string(boundary), next = "\r\n" + delimiter;
  if (!body.starts_with(delimiter)) return std::nullopt;
  size_t pos = delimiter.size();
  std::map<std::string, std::string> out;
  for (int parts = 0; parts < 8; ++parts) {
    if (body.substr(pos, 2) == "--") return out;  // the closing delimiter
    if (body.substr(pos, 2) != "\r\n") return std::nullopt;
    size_t head_end = body.find("\r\n\r\n", pos);
    if (head_end == std::string_view::npos || head_end - pos > 1024) return std::nullopt;
    std::string_view head = body.substr(pos, head_end - pos + 2);
    size_t end = body.find(next, head_end + 4);
    if (end == std::string_view::npos) return std::nullopt;
    // Content-Disposition: form-data; name="..."; the name is a plain token of ours.
    std::string name;
    if (size_t n = head.find("name=\""); n != std::string_view::npos) {
      size_t close = head.find('"', n + 6);
      if (close == std::string_view::npos) return std::nullopt;
      name = std::string(head.substr(n + 6, close - n - 6));
    }
    if (!name.empty())
      out.emplace(std::move(name), std::string(body.substr(head_end + 4, end - head_end - 4)));
    pos = end + next.size();
  }
  return std::nullopt;
}

// A refused import in the page's language (`v` of the system page): the "import.KEY" sentence of
// each problem with its values; the bad rows as a table, or the one problem of a file refused as
// a whole beside the summary. An error without ImportRefused detail gets a general sentence.
Reply RefusedImportIn(const ServiceContext& ctx, web::Lang lang, const Error& error, web::Values& v) {
  const web::Site& site = *ctx.site;
  const ledger::ImportRefused* refused = ledger::ImportRefusedOf(error);
  auto sentence = [&](const ledger::ImportProblem& p) {
    std::string_view tmpl = site.Text(lang, "import." + p.key);
    return tmpl.empty() ? p.text : ledger::FillImportTemplate(tmpl, p.values);
  };
  auto with_file = [&](std::string_view key, const std::vector<ledger::ImportValue>& values) {
    return ledger::FillImportTemplate(site.Text(lang, key), values);
  };
  v.flags.insert("import_error");
  if (!refused || refused->problems.empty()) {
    v.text["import_error_text"] = site.Text(lang, "console.error.import_other");
    return {};
  }
  const std::string file = std::filesystem::path(refused->file).filename().string();
  if (refused->whole_file) {
    v.text["import_error_text"] = site.Text(lang, "console.error.import_file");
    v.text["import_detail"] = with_file("console.import.summary.file", {{"file", file}}) + " " +
                              sentence(refused->problems.front());
    return {};
  }
  std::string rows;
  for (const ledger::ImportProblem& p : refused->problems) {
    web::Values r;
    r.text["line"] = std::to_string(p.line);
    r.text["column"] =
        p.column == 0 ? std::string()
                      : std::to_string(p.column) + (p.column_name.empty() ? "" : " (" + p.column_name + ")");
    r.text["what"] = sentence(p);
    auto row = site.RenderPart("part_console_import_error", lang, r);
    if (!row) return std::unexpected(Problem(row.error()));
    rows += *row;
  }
  const size_t n = refused->problems.size();
  v.text["import_error_text"] = site.Text(lang, "console.error.import");
  v.text["import_detail"] =
      with_file(n == 1 ? "console.import.summary.one" : "console.import.summary.many",
                {{"file", file}, {"count", FormatCount(static_cast<int64_t>(n), lang)}});
  v.flags.insert("import_rows");
  v.markup["import_rows"] = std::move(rows);
  return {};
}

// The system page: the import form (with `import` values), ledger verify on demand, the keys.
Reply SystemView(ServiceContext& ctx, const HttpRequest& req, HttpResponse& res, web::Lang lang,
                 const Signed& who, web::Values v, int status) {
  v.text["csrf"] = who.session.csrf;
  if (!v.text.contains("year"))
    v.text["year"] = std::to_string(int(BrusselsDate(ctx.deps.clock->Now()).year()));
  v.text["switch"] = "/console/system?";
  auto creds = ctx.deps.ledger->access().ListCredentials();
  if (!creds) return std::unexpected(Problem(creds.error()));
  std::string rows;
  for (const ledger::Credential& c : *creds) {
    web::Values r;
    r.text["kind"] =
        ctx.site->Text(lang, std::string("console.kind.") + std::string(ledger::CredentialKindName(c.kind)));
    r.text["name"] = c.name;
    std::string at = FormatRfc3339(c.created);
    if (at.size() == 20) at = at.substr(0, 10) + " " + at.substr(11, 8);
    r.text["created"] = std::move(at);
    auto row = ctx.site->RenderPart("part_console_credential", lang, r);
    if (!row) return std::unexpected(Problem(row.error()));
    rows += *row;
  }
  v.markup["credentials"] = std::move(rows);
  if (req.method == "GET" && req.param("verify") == "1") {
    auto report = ctx.deps.ledger->audit().Verify();
    if (!report) return std::unexpected(Problem(report.error()));
    v.flags.insert(report->ok ? "verify_ok" : "verify_bad");
    v.text["entries"] = FormatCount(report->entries, lang);
    v.text["problem"] = report->problem;
  }
  return Page(ctx, req, res, "console_system", lang, std::move(v), &who, status);
}

}  // namespace

bool ConsoleSignedIn(ServiceContext& ctx, const HttpRequest& req) {
  Reply failure;
  return SessionOf(ctx, req, failure).has_value();
}

Result<> InitConsole(ServiceContext& ctx) {
  ctx.console_sessions = NewLedgerSessions(ctx.deps.ledger->sessions(), ledger::SessionKind::kConsole,
                                           ctx.options.console_session_lifetime, 10'000);
  return {};
}

Reply ConsoleHome(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  Reply failure;
  auto who = SessionOf(ctx, req, failure);
  if (!failure) return failure;
  if (!who) return SignInForm(ctx, req, res, lang, "", 200);
  return AdoptionView(ctx, req, res, lang, *who);
}

Reply ConsoleSignIn(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  auto form = FormFields(req.body);
  std::string cookie = CookieValue(req, kConsoleCsrfCookie);
  if (CrossSite(req) || cookie.empty() || !ConstantTimeEqual(cookie, form["csrf"]))
    return SignInForm(ctx, req, res, lang, "console.error.form", 403);
  std::string secret(Trim(form["credential"]));
  if (secret.empty()) return SignInForm(ctx, req, res, lang, "console.error.empty", 400);
  auto cred = ctx.deps.ledger->access().Authenticate(ledger::CredentialKind::kStaff, secret);
  if (!cred) {
    if (cred.error().code == Code::kUnauthenticated)
      return SignInForm(ctx, req, res, lang, "console.error.credential", 401);
    return std::unexpected(Problem(cred.error()));
  }
  Reply failure;
  if (auto old = SessionOf(ctx, req, failure))
    if (auto r = ctx.console_sessions->End(old->id); !r) return std::unexpected(Problem(r.error()));
  if (!failure) return failure;
  auto id = ctx.console_sessions->Create(std::to_string(cred->id));
  if (!id) return std::unexpected(Problem(id.error()));
  res.headers.emplace_back(
      "Set-Cookie", ConsoleCookie(ctx, kConsoleCookie, *id,
                                  "Max-Age=" + std::to_string(ctx.options.console_session_lifetime.count()) +
                                      "; HttpOnly; SameSite=Strict"));
  Redirect(res, "/console");
  return {};
}

namespace {

// The console's pages behind the sign-in: each handler below gets the page's language and the
// signed-in browser; without a session a GET goes to the sign-in form and a POST gets it back with
// a sentence (Require).
using SignedHandler = Reply (*)(ServiceContext&, HttpRequest&, HttpResponse&, web::Lang, const Signed&);

Reply AsSignedIn(SignedHandler handler, ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  web::Lang lang = PageLang(ctx, req, res);
  Reply failure;
  auto who = Require(ctx, req, res, lang, failure);
  if (!who) return failure;
  return handler(ctx, req, res, lang, *who);
}

Reply SignOutFor(ServiceContext& ctx, HttpRequest& req, HttpResponse& res, web::Lang lang,
                 const Signed& who) {
  auto form = FormFields(req.body);
  if (!FormIsOurs(req, who, form))
    return ErrorPage(ctx, req, res, lang, &who, "console.error.form_signed_in", 403);
  if (auto r = ctx.console_sessions->End(who.id); !r) return std::unexpected(Problem(r.error()));
  res.headers.emplace_back("Set-Cookie",
                           ConsoleCookie(ctx, kConsoleCookie, "", "Max-Age=0; HttpOnly; SameSite=Strict"));
  Redirect(res, "/console");
  return {};
}

Reply ExportFor(ServiceContext& ctx, HttpRequest& req, HttpResponse& res, web::Lang lang, const Signed& who) {
  Selection s = ParseSelection(req);
  if (!s.error.empty()) return ErrorPage(ctx, req, res, lang, &who, s.error, 400);
  auto rep = BuildSelected(ctx, s);
  if (!rep) {
    if (rep.error().code == Code::kInvalidArgument)
      return ErrorPage(ctx, req, res, lang, &who, "console.error.years", 400);
    return std::unexpected(Problem(rep.error()));
  }
  bool xlsx = req.path.ends_with(".xlsx");
  // The workbook's notes and reconciliation sheets follow the page's language (the CSV is the
  // rows table, whose notes column holds only their numbers).
  auto body =
      reports::Export(*rep, xlsx ? reports::Format::kXlsx : reports::Format::kCsv, {}, NotesIn(ctx, lang));
  if (!body) return std::unexpected(Problem(body.error()));
  res.set_content(std::move(*body), xlsx ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                                         : "text/csv; charset=utf-8");
  res.set_header("Content-Disposition",
                 std::string("attachment; filename=\"adoptie.") + (xlsx ? "xlsx" : "csv") + "\"");
  res.set_header("Cache-Control", "no-store");
  return {};
}

Reply CardsFor(ServiceContext& ctx, HttpRequest& req, HttpResponse& res, web::Lang lang, const Signed& who) {
  std::string q(Trim(req.param("q").value_or("")));
  if (q.size() > 64) return CardsView(ctx, req, res, lang, who, "", "", "console.error.query", "", 400);
  std::string_view notice = req.param("done") == "revoked" ? "console.notice.revoked" : "";
  return CardsView(ctx, req, res, lang, who, q, notice, "", "", 200);
}

Reply RevokeFor(ServiceContext& ctx, HttpRequest& req, HttpResponse& res, web::Lang lang, const Signed& who) {
  auto form = FormFields(req.body);
  std::string serial(Trim(form["serial"])), reason(Trim(form["reason"]));
  if (!FormIsOurs(req, who, form))
    return ErrorPage(ctx, req, res, lang, &who, "console.error.form_signed_in", 403);
  if (!LooksLikeSerial(serial))
    return CardsView(ctx, req, res, lang, who, "", "", "console.error.serial", "", 400);
  if (reason.empty() || reason.size() > 200)
    return CardsView(ctx, req, res, lang, who, serial, "", "console.error.reason", "", 400);
  auto r = RevokeEverywhere(ctx, req, serial, reason + " (" + who.name + ")");
  if (!r) {
    if (r.error().code == Code::kNotFound)
      return CardsView(ctx, req, res, lang, who, serial, "", "console.error.serial", "", 404);
    if (r.error().code == Code::kFailedPrecondition)
      return CardsView(ctx, req, res, lang, who, serial, "", "console.error.already_revoked", "", 409);
    return std::unexpected(Problem(r.error()));
  }
  Redirect(res, "/console/cards?q=" + serial + "&done=revoked");
  return {};
}

Reply ClaimCodeFor(ServiceContext& ctx, HttpRequest& req, HttpResponse& res, web::Lang lang,
                   const Signed& who) {
  auto form = FormFields(req.body);
  if (!FormIsOurs(req, who, form))
    return ErrorPage(ctx, req, res, lang, &who, "console.error.form_signed_in", 403);
  std::string staff(Trim(form["staff_id"])), first(Trim(form["first_name"])), last(Trim(form["last_name"])),
      year_text(Trim(form["year"]));
  ClaimForm posted{staff, first, last, year_text};
  auto bad = [&](std::string_view key) {
    return CardsView(ctx, req, res, lang, who, "", "", key, "", 400, posted);
  };
  if (staff.empty() || staff.size() > 64) return bad("console.error.staff_id");
  if (first.empty() || last.empty() || first.size() + last.size() > 99) return bad("console.error.name");
  if (year_text.size() != 4 || year_text.find_first_not_of("0123456789") != std::string::npos ||
      year_text < "2000" || year_text > "2199")
    return bad("console.error.year");
  // One roster-shaped CSV row, quoted, through the same all-or-nothing path as `claims create`.
  auto quote = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  ledger::CsvSource csv{"console.csv", "staff_id,first_name,last_name\r\n" + quote(staff) + "," +
                                           quote(first) + "," + quote(last) + "\r\n"};
  auto codes = ctx.deps.ledger->access().CreateClaimCodes(csv, std::stoi(year_text),
                                                          ctx.deps.clock->Now() + std::chrono::days(60));
  if (!codes) {
    if (codes.error().code == Code::kInvalidArgument || codes.error().code == Code::kFailedPrecondition ||
        codes.error().code == Code::kNotFound)
      return bad("console.error.not_on_roster");
    return std::unexpected(Problem(codes.error()));
  }
  return CardsView(ctx, req, res, lang, who, "", "console.notice.code", "", codes->front().code, 200);
}

Reply SystemFor(ServiceContext& ctx, HttpRequest& req, HttpResponse& res, web::Lang lang, const Signed& who) {
  return SystemView(ctx, req, res, lang, who, {}, 200);
}

Reply ImportFor(ServiceContext& ctx, HttpRequest& req, HttpResponse& res, web::Lang lang, const Signed& who) {
  web::Values v;
  auto fail = [&](std::string_view key, int status) {
    v.flags.insert("import_error");
    v.text["import_error_text"] = ctx.site->Text(lang, key);
    return SystemView(ctx, req, res, lang, who, std::move(v), status);
  };
  auto form = MultipartFields(req.header("Content-Type"), req.body);
  if (!form) return fail("console.error.upload", 400);
  if (!FormIsOurs(req, who, *form))
    return ErrorPage(ctx, req, res, lang, &who, "console.error.form_signed_in", 403);
  const std::string kind = (*form)["kind"];
  static const char* kKinds[] = {"roster", "subscriptions", "starters", "library", "published"};
  if (std::none_of(std::begin(kKinds), std::end(kKinds), [&](const char* k) { return kind == k; }))
    return fail("console.error.kind", 400);
  int year = 0;
  if (kind != "published") {
    std::string y(Trim((*form)["year"]));
    if (y.size() != 4 || y.find_first_not_of("0123456789") != std::string::npos || y < "2000" || y > "2199")
      return fail("console.error.year", 400);
    year = std::stoi(y);
  }
  std::string& file = (*form)["file"];
  if (file.empty()) return fail("console.error.no_file", 400);
  auto sum = RunImport(ctx, kind, year, std::move(file));
  if (!sum) {
    // The form comes back as it was sent (kind and card year), to import the corrected file.
    v.flags.insert("kind_" + kind);
    if (year) v.text["year"] = std::to_string(year);
    if (sum.error().code != Code::kInvalidArgument && sum.error().code != Code::kFailedPrecondition)
      return std::unexpected(Problem(sum.error()));
    auto shown = RefusedImportIn(ctx, lang, sum.error(), v);
    if (!shown) return std::unexpected(shown.error());
    return SystemView(ctx, req, res, lang, who, std::move(v), 400);
  }
  v.flags.insert("imported");
  v.text["rows"] = FormatCount(int64_t(sum->rows), lang);
  v.text["added"] = FormatCount(int64_t(sum->added), lang);
  v.text["present"] = FormatCount(int64_t(sum->present), lang);
  return SystemView(ctx, req, res, lang, who, std::move(v), 200);
}

}  // namespace

Reply ConsoleSignOut(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  return AsSignedIn(SignOutFor, ctx, req, res);
}

Reply ConsoleExport(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  return AsSignedIn(ExportFor, ctx, req, res);
}

Reply ConsoleCards(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  return AsSignedIn(CardsFor, ctx, req, res);
}

Reply ConsoleRevoke(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  return AsSignedIn(RevokeFor, ctx, req, res);
}

Reply ConsoleClaimCode(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  return AsSignedIn(ClaimCodeFor, ctx, req, res);
}

Reply ConsoleSystem(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  return AsSignedIn(SystemFor, ctx, req, res);
}

Reply ConsoleImport(ServiceContext& ctx, HttpRequest& req, HttpResponse& res) {
  return AsSignedIn(ImportFor, ctx, req, res);
}

}  // namespace lk::api::internal
