// Notes as data and their English: NoteText fills a note's template with its values in a
// language. The templates here are the report's own English; pages bring their own (the
// console's web/strings/*.strings hold "note.KEY" for every key of NoteKeys()).
#include <array>
#include <utility>

#include "reports/internal/format.h"
#include "reports/reports.h"

namespace lk::reports {
namespace {

using Entry = std::pair<std::string_view, std::string_view>;

// Every note the builder makes, by key. Placeholders are {name}; see build.cc for the values.
constexpr std::array kNotes = {
    Entry{"itemised_cards",
          "not_itemised: only published totals can hold holders that no channel explains; per-card rows "
          "itemise every card, so the column is empty (n/a) for them."},
    Entry{"school_eligible_end",
          "eligible (school year {period}): the roster of card year {year}, the card year of its January to "
          "August; staff are eligible per card year and a school year spans two."},
    Entry{"school_eligible_start",
          "eligible (school year {period}): the roster of card year {year}, the card year it starts in (no "
          "roster of the following card year is recorded yet); staff are eligible per card year and a school "
          "year spans two."},
    Entry{"no_roster_school",
          "eligible: no roster of eligible staff is recorded for either card year this school year spans, so "
          "there is no share."},
    Entry{"no_roster_calendar",
          "eligible: no roster of eligible staff is recorded for this card year (and group), so there is no "
          "share."},
    Entry{"empty_roster", "share: the roster of eligible staff is empty for {period}, so there is no share."},
    Entry{"empty_roster_group",
          "share: the roster of eligible staff is empty for {period} {group}, so there is no share."},
    Entry{"no_holders", "digital share: a cell without holders has no digital share."},
    Entry{
        "inconsistent",
        "Inconsistent input for {period}: digital only + physical only + both = {sum}, holders = {holders}. "
        "Both are shown as recorded."},
    Entry{"inconsistent_group",
          "Inconsistent input for {period} {group}: digital only + physical only + both = {sum}, holders = "
          "{holders}. Both are shown as recorded."},
    Entry{"published_rows",
          "Published rows (source \"published\") are the figures printed in the minister's answer to a "
          "parliamentary question, imported as totals: they have no digital channel and do not say which "
          "holders held which kind of card, so digital, digital only, physical only, both and the digital "
          "share are n/a; share is recomputed from the printed counts, the printed share is kept beside it."},
    Entry{
        "not_itemised_published",
        "not_itemised = published holders minus the cards of the three itemised channels (subscription, "
        "starter, library): holders the publication counts but no channel explains. The answer does not say "
        "why."},
    Entry{"sum_rows",
          "Sum rows add the rows above over the periods shown: a cell is n/a when any of its rows is n/a. "
          "Holders are counted once per period in which they held a card (as the published total does), so a "
          "person holding a card in three years counts three times; share = summed holders / summed eligible "
          "(the pooled share)."},
    Entry{"sum_mixed",
          "This sum adds per-card counts and published totals (see the source column of each row)."},
    Entry{"cards_win",
          "{period}: both per-card records and published totals exist. Per-card records win: the row shows "
          "the per-card counts only; the published totals are compared with them in the reconciliation "
          "(cards_vs_published)."},
    Entry{"published_only_by",
          "{period}: known only as published totals, which have no split by {dimension}; every cell is n/a. "
          "The report without --by shows the year's totals."},
    Entry{"school_published_one",
          "{period}: the only figures for this time are the published totals of card year {years}, counted "
          "per calendar year; they cannot be split by school year, so every cell is n/a. The calendar view "
          "(--period calendar) shows them."},
    Entry{"school_published_many",
          "{period}: the only figures for this time are the published totals of card years {years}, counted "
          "per calendar year; they cannot be split by school year, so every cell is n/a. The calendar view "
          "(--period calendar) shows them."},
    Entry{
        "no_data_calendar",
        "{period}: there are no per-card records and no published totals for this card year; it has no row."},
    Entry{"no_data_school",
          "{period}: there are no per-card records and no published totals for this school year; it has no "
          "row."},
    Entry{"empty_report", "There are no per-card records and no published totals: the report is empty."},
    Entry{"sums_cover",
          "The sums cover {span} only: {left_out} have no values in this view (their rows are n/a) and are "
          "left "
          "out."},
    Entry{"not_itemised",
          "{year}: published holders {holders} exceed the itemised channels ({subscription} + {starter} + "
          "{library} = {itemised}) by {rest}: not itemised."},
    Entry{"over_itemised",
          "{year}: the itemised channels ({itemised}) exceed the published holders ({holders}) by {excess}."},
    Entry{"share", "{year}: computed share {holders} / {eligible} = {share}; printed {printed}."},
    Entry{"total_equal", "{label}: printed {field} {stated} equals the sum of {years}."},
    Entry{"total_less",
          "{label}: printed {field} {stated}; the years {years} sum to {sum} (the printed total is "
          "{difference} "
          "less)."},
    Entry{"total_more",
          "{label}: printed {field} {stated}; the years {years} sum to {sum} (the printed total is "
          "{difference} "
          "more)."},
    Entry{"pooled_share",
          "{years}: pooled share {holders} / {eligible} = {share}; printed total share {printed}."},
    Entry{"mean_is_printed",
          "{years}: the mean of the printed shares ({printed_list}) is {mean}; the printed total share "
          "{printed} is that mean, not a pooled share."},
    Entry{
        "mean_of_shares",
        "{years}: the mean of the printed shares ({printed_list}) is {mean}; printed total share {printed}."},
    Entry{"cards_vs_published_equal",
          "{year}: published {field} {stated}, per-card records {cards} (equal)."},
    Entry{"cards_vs_published",
          "{year}: published {field} {stated}, per-card records {cards} (difference {difference})."},
};

// The words notes use. English leaves "total" and the groups to the values' own text.
constexpr std::array kTerms = {
    Entry{"field.eligible", "eligible"},   Entry{"field.subscription", "subscription"},
    Entry{"field.starter", "starter"},     Entry{"field.library", "library"},
    Entry{"field.holders", "holders"},     Entry{"dimension.province", "province"},
    Entry{"dimension.network", "network"}, Entry{"dimension.role", "role"},
    Entry{"dimension.level", "level"},     Entry{"span", "{first} to {last}"},
};
// Terms that have no English entry (the value's own text is the English).
constexpr std::array<std::string_view, 1> kUntranslatedTerms = {"total"};

std::string_view English(std::string_view key) {
  for (const auto& [k, v] : kNotes)
    if (k == key) return v;
  for (const auto& [k, v] : kTerms)
    if (k == key) return v;
  return {};
}

// `tmpl` with each {name} replaced by fill(name); an unknown or unclosed brace stays as written.
template <typename Fill>
std::string Substitute(std::string_view tmpl, const Fill& fill) {
  std::string out;
  out.reserve(tmpl.size() + 64);
  for (size_t i = 0; i < tmpl.size();) {
    size_t open = tmpl.find('{', i);
    size_t close = open == std::string_view::npos ? open : tmpl.find('}', open);
    if (close == std::string_view::npos) {
      out += tmpl.substr(i);
      break;
    }
    out += tmpl.substr(i, open - i);
    std::string_view name = tmpl.substr(open + 1, close - open - 1);
    if (std::optional<std::string> v = fill(name))
      out += *v;
    else
      out += tmpl.substr(open, close - open + 1);
    i = close + 1;
  }
  return out;
}

std::string_view Lookup(const NoteLanguage& lang, std::string_view key) {
  std::string_view t = lang.text ? lang.text(key) : std::string_view();
  return t.empty() ? English(key) : t;
}

std::string ArgText(const NoteArg& a, const NoteLanguage& lang) {
  switch (a.kind) {
    case NoteArg::Kind::kText:
      return a.text;
    case NoteArg::Kind::kCount:
      return lang.count ? lang.count(a.count) : internal::Count(a.count);
    case NoteArg::Kind::kShare:
      return lang.share ? lang.share(a.share) : internal::Percent(a.share);
    case NoteArg::Kind::kTerm: {
      std::string_view t = Lookup(lang, a.text);
      return t.empty() ? a.other : std::string(t);
    }
    case NoteArg::Kind::kSpan:
      if (a.other.empty() || a.other == a.text) return a.text;
      return Substitute(Lookup(lang, "span"), [&](std::string_view n) -> std::optional<std::string> {
        if (n == "first") return a.text;
        if (n == "last") return a.other;
        return std::nullopt;
      });
  }
  return a.text;
}

}  // namespace

const NoteLanguage& EnglishNotes() {
  static const NoteLanguage kEnglish{
      [](std::string_view key) { return English(key); },
      [](int64_t n) { return internal::Count(n); },
      [](double f) { return internal::Percent(f); },
  };
  return kEnglish;
}

std::span<const std::string_view> NoteKeys() {
  static const auto kKeys = [] {
    std::array<std::string_view, kNotes.size()> keys{};
    for (size_t i = 0; i < kNotes.size(); ++i) keys[i] = kNotes[i].first;
    return keys;
  }();
  return kKeys;
}

std::span<const std::string_view> NoteTerms() {
  static const auto kKeys = [] {
    std::array<std::string_view, kTerms.size() + kUntranslatedTerms.size()> keys{};
    for (size_t i = 0; i < kTerms.size(); ++i) keys[i] = kTerms[i].first;
    for (size_t i = 0; i < kUntranslatedTerms.size(); ++i) keys[kTerms.size() + i] = kUntranslatedTerms[i];
    return keys;
  }();
  return kKeys;
}

std::string NoteText(const Note& note, const NoteLanguage& language) {
  std::string_view tmpl = Lookup(language, note.key);
  if (tmpl.empty()) tmpl = note.key;  // a key this build does not know: say at least which
  return Substitute(tmpl, [&](std::string_view name) -> std::optional<std::string> {
    for (const NoteArg& a : note.args)
      if (a.name == name) return ArgText(a, language);
    return std::nullopt;
  });
}

}  // namespace lk::reports
