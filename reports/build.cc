// BuildAdoptionReport: the report arithmetic. See reports.h for the merging rule.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <set>

#include "reports/internal/format.h"
#include "reports/reports.h"

namespace lk::reports {
namespace {

std::string PeriodLabel(Period p, int year) {
  return p == Period::kCalendar ? std::to_string(year)
                                : std::to_string(year) + "-" + std::to_string(year + 1);
}

std::optional<int> ParseInt(std::string_view s) {
  int v = 0;
  if (s.empty() || s.size() > 9) return std::nullopt;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// "2026" (calendar) or "2025-2026" (school) -> the first calendar year.
std::optional<int> ParsePeriodLabel(Period p, std::string_view label) {
  if (p == Period::kCalendar) return label.size() == 4 ? ParseInt(label) : std::nullopt;
  if (label.size() != 9 || label[4] != '-') return std::nullopt;
  auto a = ParseInt(label.substr(0, 4)), b = ParseInt(label.substr(5));
  if (!a || !b || *b != *a + 1) return std::nullopt;
  return a;
}

// A note's values (see NoteArg).
NoteArg Text(std::string name, std::string text) {
  return {.name = std::move(name), .kind = NoteArg::Kind::kText, .text = std::move(text)};
}
NoteArg Num(std::string name, int64_t n) {
  return {.name = std::move(name), .kind = NoteArg::Kind::kCount, .count = n};
}
NoteArg Pct(std::string name, double fraction) {
  return {.name = std::move(name), .kind = NoteArg::Kind::kShare, .share = fraction};
}
NoteArg Term(std::string name, std::string key, std::string fallback) {
  return {.name = std::move(name),
          .kind = NoteArg::Kind::kTerm,
          .text = std::move(key),
          .other = std::move(fallback)};
}
NoteArg FieldTerm(std::string_view field) {
  return Term("field", "field." + std::string(field), std::string(field));
}
NoteArg Group(const std::string& group) { return Term("group", "group." + group, group); }
// A period label of the publication: its total row ("Totaal") is a term, other labels as printed.
NoteArg Label(std::string name, const std::string& label) {
  return label == "Totaal" ? Term(std::move(name), "total", label) : Text(std::move(name), label);
}
Note N(std::string key, std::vector<NoteArg> args = {}) { return Note{std::move(key), std::move(args)}; }

// Notes are deduplicated by their English text; rows refer to them by index.
class Notes {
 public:
  explicit Notes(std::vector<Note>& out) : out_(out) {}
  int Add(Note note) {
    std::string text = NoteText(note);
    auto it = index_.find(text);
    if (it != index_.end()) return it->second;
    out_.push_back(std::move(note));
    return index_[std::move(text)] = int(out_.size() - 1);
  }

 private:
  std::vector<Note>& out_;
  std::map<std::string, int> index_;
};

void Ref(ReportRow& row, int note) {
  if (std::find(row.note_refs.begin(), row.note_refs.end(), note) == row.note_refs.end())
    row.note_refs.push_back(note);
}

bool GroupLess(Dimension by, const std::optional<std::string>& a, const std::optional<std::string>& b) {
  if (!a || !b) return bool(b) && !a;  // null group first
  if (by == Dimension::kProvince) {
    int ra = internal::ProvinceRank(*a), rb = internal::ProvinceRank(*b);
    if (ra != rb) return ra < rb;
  }
  return *a < *b;
}

std::optional<double> Ratio(std::optional<int64_t> num, std::optional<int64_t> den) {
  if (!num || !den || *den <= 0) return std::nullopt;
  return double(*num) / double(*den);
}

std::string YearList(const std::vector<int>& years) {
  std::string s;
  for (size_t i = 0; i < years.size(); ++i) s += (i ? ", " : "") + std::to_string(years[i]);
  return s;
}

struct ParsedCounts {
  int year;
  const CountsRow* row;
};

Result<std::vector<ParsedCounts>> CheckCounts(const std::vector<CountsRow>& counts, const ReportOptions& o) {
  std::vector<ParsedCounts> out;
  std::set<std::pair<std::string, std::optional<std::string>>> seen;
  for (size_t i = 0; i < counts.size(); ++i) {
    const CountsRow& r = counts[i];
    std::string where = "counts row " + std::to_string(i + 1) + " (period \"" + r.period + "\")";
    auto year = ParsePeriodLabel(o.period, r.period);
    if (!year)
      return Fail(Code::kInvalidArgument,
                  where + ": not a " + std::string(PeriodName(o.period)) + " period label (expected " +
                      (o.period == Period::kCalendar ? "\"2026\"" : "\"2025-2026\"") + ")");
    if (bool(r.group) != (o.by != Dimension::kNone))
      return Fail(Code::kInvalidArgument, where + (r.group ? ": has a group but the report is not grouped"
                                                           : ": has no group but the report is grouped by " +
                                                                 std::string(DimensionName(o.by))));
    for (int64_t v : {r.subscription, r.starter, r.library, r.digital, r.holders, r.digital_only,
                      r.physical_only, r.both, r.eligible.value_or(0)})
      if (v < 0) return Fail(Code::kInvalidArgument, where + ": negative count " + std::to_string(v));
    if (!seen.insert({r.period, r.group}).second)
      return Fail(Code::kInvalidArgument, where + ": duplicate cell for group " + r.group.value_or("(none)"));
    out.push_back({*year, &r});
  }
  return out;
}

Result<std::pair<std::map<int, const PublishedRow*>, const PublishedRow*>> CheckPublished(
    const std::vector<PublishedRow>& published) {
  std::map<int, const PublishedRow*> years;
  const PublishedRow* total = nullptr;
  for (size_t i = 0; i < published.size(); ++i) {
    const PublishedRow& p = published[i];
    std::string where = "published row " + std::to_string(i + 1) + " (\"" + p.label + "\")";
    for (int64_t v : {p.eligible, p.subscribers, p.starters, p.library, p.holders})
      if (v < 0) return Fail(Code::kInvalidArgument, where + ": negative count " + std::to_string(v));
    if (!p.printed_share.empty())
      if (auto s = ParsePrintedShare(p.printed_share); !s)
        return Fail(Code::kInvalidArgument, where + ": " + s.error().message);
    if (p.year) {
      if (*p.year < 1900 || *p.year > 9998)
        return Fail(Code::kInvalidArgument, where + ": year out of range");
      if (!years.emplace(*p.year, &p).second) return Fail(Code::kInvalidArgument, where + ": duplicate year");
    } else {
      if (total) return Fail(Code::kInvalidArgument, where + ": a second total row");
      total = &p;
    }
  }
  return std::pair{years, total};
}

ReportRow FromCounts(const CountsRow& c, Period period, Notes& notes) {
  ReportRow r;
  r.period = c.period;
  r.group = c.group;
  r.source = "cards";
  r.eligible = c.eligible;
  r.subscription = c.subscription;
  r.starter = c.starter;
  r.library = c.library;
  r.digital = c.digital;
  r.holders = c.holders;
  r.digital_only = c.digital_only;
  r.physical_only = c.physical_only;
  r.both = c.both;
  Ref(r, notes.Add(N("itemised_cards")));
  if (period == Period::kSchool && c.eligible)
    Ref(r, notes.Add(N(c.period.ends_with("-" + std::to_string(c.eligible_year)) ? "school_eligible_end"
                                                                                 : "school_eligible_start",
                       {Text("period", c.period), Text("year", std::to_string(c.eligible_year))})));
  if (!c.eligible) {
    Ref(r, notes.Add(N(period == Period::kSchool ? "no_roster_school" : "no_roster_calendar")));
  } else if (*c.eligible == 0) {
    Ref(r, notes.Add(c.group ? N("empty_roster_group", {Text("period", c.period), Group(*c.group)})
                             : N("empty_roster", {Text("period", c.period)})));
  }
  r.share = Ratio(c.holders, c.eligible);
  if (c.holders > 0) {
    r.digital_share = double(c.digital_only + c.both) / double(c.holders);
  } else {
    Ref(r, notes.Add(N("no_holders")));
  }
  if (c.digital_only + c.physical_only + c.both != c.holders) {
    std::vector<NoteArg> args = {Text("period", c.period),
                                 Num("sum", c.digital_only + c.physical_only + c.both),
                                 Num("holders", c.holders)};
    if (c.group) args.push_back(Group(*c.group));
    Ref(r, notes.Add(N(c.group ? "inconsistent_group" : "inconsistent", std::move(args))));
  }
  return r;
}

ReportRow FromPublished(const PublishedRow& p, const std::string& period, Notes& notes) {
  ReportRow r;
  r.period = period;
  r.source = "published";
  r.eligible = p.eligible;
  r.subscription = p.subscribers;
  r.starter = p.starters;
  r.library = p.library;
  r.holders = p.holders;
  r.not_itemised = p.holders - (p.subscribers + p.starters + p.library);
  r.share = Ratio(p.holders, p.eligible);
  if (!p.printed_share.empty()) r.printed_share = p.printed_share;
  Ref(r, notes.Add(N("published_rows")));
  Ref(r, notes.Add(N("not_itemised_published")));
  return r;
}

// Sums the rows of `members` into one row; a field is null if any member lacks it.
ReportRow Sum(const std::vector<const ReportRow*>& members, const std::string& period,
              const std::optional<std::string>& group, Notes& notes) {
  ReportRow s;
  s.period = period;
  s.group = group;
  s.source = "sum";
  auto add = [&](std::optional<int64_t> ReportRow::*f) {
    std::optional<int64_t> total = 0;
    for (const ReportRow* m : members) {
      if (!(m->*f)) return std::optional<int64_t>();
      *total += *(m->*f);
    }
    return total;
  };
  s.eligible = add(&ReportRow::eligible);
  s.subscription = add(&ReportRow::subscription);
  s.starter = add(&ReportRow::starter);
  s.library = add(&ReportRow::library);
  s.digital = add(&ReportRow::digital);
  s.not_itemised = add(&ReportRow::not_itemised);
  s.holders = add(&ReportRow::holders);
  s.digital_only = add(&ReportRow::digital_only);
  s.physical_only = add(&ReportRow::physical_only);
  s.both = add(&ReportRow::both);
  s.share = Ratio(s.holders, s.eligible);
  if (s.holders && *s.holders > 0 && s.digital_only && s.both)
    s.digital_share = double(*s.digital_only + *s.both) / double(*s.holders);
  Ref(s, notes.Add(N("sum_rows")));
  std::set<std::string> sources;
  for (const ReportRow* m : members) sources.insert(m->source);
  if (sources.count("cards") && sources.count("published")) Ref(s, notes.Add(N("sum_mixed")));
  return s;
}

// The steps of BuildAdoptionReport, in order; each adds to `rep` and its notes.
class Builder {
 public:
  Builder(const ReportOptions& o, const std::vector<ParsedCounts>& parsed,
          const std::map<int, const PublishedRow*>& pub_years, const PublishedRow* pub_total)
      : o_(o), parsed_(parsed), pub_years_(pub_years), pub_total_(pub_total), notes_(rep_.notes) {
    rep_.period = o.period;
    rep_.by = o.by;
  }

  Report Build() {
    if (!ResolveRange()) return std::move(rep_);
    CollectGroups();
    for (int y = first_; y <= last_; ++y) AddPeriod(y);
    AddTotals();
    ReconcilePublished();
    CompareCardsWithPublished();
    for (auto* rows : {&rep_.rows, &rep_.totals})
      for (auto& r : *rows) std::sort(r.note_refs.begin(), r.note_refs.end());
    return std::move(rep_);
  }

 private:
  // The range: as asked, or every year in the inputs. False when there is nothing to report.
  bool ResolveRange() {
    first_ = o_.first_year;
    last_ = o_.last_year;
    if (first_ == 0) {
      std::set<int> ys;
      for (const auto& p : parsed_) ys.insert(p.year);
      for (const auto& [y, p] : pub_years_) ys.insert(y);
      if (ys.empty()) {
        notes_.Add(N("empty_report"));
        return false;
      }
      first_ = *ys.begin();
      last_ = *ys.rbegin();
    }
    rep_.first_year = first_;
    rep_.last_year = last_;
    for (const auto& p : parsed_)
      if (p.year >= first_ && p.year <= last_) by_year_[p.year].push_back(p.row);
    for (const auto& [y, p] : pub_years_)
      if (y >= first_ && y <= last_) in_range_.push_back(p);
    return true;
  }

  // The groups a null row is made for when a year cannot be split.
  void CollectGroups() {
    if (o_.by == Dimension::kProvince) {
      for (auto name : internal::kProvinces) groups_.emplace_back(std::string(name));
    } else if (o_.by != Dimension::kNone) {
      std::set<std::string> g;
      for (const auto& [y, rows] : by_year_)
        for (const CountsRow* r : rows) g.insert(*r->group);
      for (const auto& name : g) groups_.emplace_back(name);
      if (groups_.empty()) groups_.emplace_back(std::nullopt);
    } else {
      groups_.emplace_back(std::nullopt);
    }
  }

  // Rows of `label` with no values in this view, each referring to note `n`.
  void AddEmptyRows(const std::string& label, int n) {
    for (const auto& g : groups_) {
      ReportRow r{.period = label, .group = g, .source = "none"};
      Ref(r, n);
      rep_.rows.push_back(std::move(r));
    }
  }

  // The rows of period `y`: per-card records win, then published totals, then nothing.
  void AddPeriod(int y) {
    std::string label = PeriodLabel(o_.period, y);
    auto cards = by_year_.find(y);
    auto pub_row = pub_years_.find(y);
    bool calendar = o_.period == Period::kCalendar;
    if (cards != by_year_.end()) {
      std::vector<const CountsRow*> rows = cards->second;
      std::sort(rows.begin(), rows.end(),
                [&](const CountsRow* a, const CountsRow* b) { return GroupLess(o_.by, a->group, b->group); });
      for (const CountsRow* c : rows) rep_.rows.push_back(FromCounts(*c, o_.period, notes_));
      if (calendar && pub_row != pub_years_.end()) {
        int n = notes_.Add(N("cards_win", {Text("period", label)}));
        for (auto& r : rep_.rows)
          if (r.period == label) Ref(r, n);
      }
      return;
    }
    if (calendar && pub_row != pub_years_.end()) {
      if (o_.by == Dimension::kNone) {
        rep_.rows.push_back(FromPublished(*pub_row->second, label, notes_));
      } else {
        std::string dimension(DimensionName(o_.by));
        AddEmptyRows(
            label,
            notes_.Add(N("published_only_by",
                         {Text("period", label), Term("dimension", "dimension." + dimension, dimension)})));
      }
      return;
    }
    if (!calendar) {
      std::vector<int> overlapping;
      for (int cy : {y, y + 1})
        if (pub_years_.count(cy)) overlapping.push_back(cy);
      if (!overlapping.empty()) {
        AddEmptyRows(label,
                     notes_.Add(N(overlapping.size() > 1 ? "school_published_many" : "school_published_one",
                                  {Text("period", label), Text("years", YearList(overlapping))})));
        return;
      }
    }
    notes_.Add(N(calendar ? "no_data_calendar" : "no_data_school", {Text("period", label)}));
  }

  // Totals: the sum over periods (per group when grouped, then overall). Rows that are n/a
  // throughout (source "none") are left out of the sums, and the span says which periods are in.
  void AddTotals() {
    if (rep_.rows.size() <= 1) return;
    std::vector<const ReportRow*> summed;
    std::vector<std::string> left_out;
    for (const auto& r : rep_.rows) {
      if (r.source != "none")
        summed.push_back(&r);
      else if (std::find(left_out.begin(), left_out.end(), r.period) == left_out.end())
        left_out.push_back(r.period);
    }
    if (summed.empty()) {
      for (const auto& r : rep_.rows) summed.push_back(&r);
      left_out.clear();
    }
    const std::string& from = summed.front()->period;
    const std::string& to = summed.back()->period;
    std::string span = from == to ? from : from + (o_.period == Period::kCalendar ? "-" : " to ") + to;
    std::optional<int> left_out_note;
    if (!left_out.empty()) {
      std::string list;
      for (const auto& p : left_out) list += (list.empty() ? "" : ", ") + p;
      NoteArg span_arg =
          o_.period == Period::kCalendar
              ? Text("span", span)
              : NoteArg{.name = "span", .kind = NoteArg::Kind::kSpan, .text = from, .other = to};
      left_out_note = notes_.Add(N("sums_cover", {std::move(span_arg), Text("left_out", list)}));
    }
    auto sum = [&](const std::optional<std::string>& g, bool all_groups) {
      std::vector<const ReportRow*> members;
      for (const ReportRow* r : summed)
        if (all_groups || r->group == g) members.push_back(r);
      ReportRow t = Sum(members, span, g, notes_);
      if (left_out_note) Ref(t, *left_out_note);
      return t;
    };
    if (o_.by == Dimension::kNone) {
      rep_.totals.push_back(sum(std::nullopt, true));
      return;
    }
    std::vector<std::optional<std::string>> gs;
    for (const ReportRow* r : summed)
      if (std::find(gs.begin(), gs.end(), r->group) == gs.end()) gs.push_back(r->group);
    std::sort(gs.begin(), gs.end(), [&](const auto& a, const auto& b) { return GroupLess(o_.by, a, b); });
    for (const auto& g : gs) rep_.totals.push_back(sum(g, false));
    rep_.totals.push_back(sum("all", true));
  }

  void AddCheck(Check c) {
    notes_.Add(c.note);
    rep_.reconciliation.push_back(std::move(c));
  }

  // The published figures in range against themselves: holders the channels do not itemise, each
  // printed share, and the printed total (its sums, its pooled share, the mean of the shares).
  void ReconcilePublished() {
    for (const PublishedRow* p : in_range_) {
      std::string y = std::to_string(*p->year);
      int64_t itemised = p->subscribers + p->starters + p->library;
      int64_t rest = p->holders - itemised;
      AddCheck({.kind = "not_itemised",
                .subject = y,
                .field = "holders",
                .stated = double(p->holders),
                .computed = double(itemised),
                .difference = double(rest),
                .printed = "",
                .note = rest < 0 ? N("over_itemised", {Text("year", y), Num("itemised", itemised),
                                                       Num("holders", p->holders), Num("excess", -rest)})
                                 : N("not_itemised", {Text("year", y), Num("holders", p->holders),
                                                      Num("subscription", p->subscribers),
                                                      Num("starter", p->starters), Num("library", p->library),
                                                      Num("itemised", itemised), Num("rest", rest)})});
      if (!p->printed_share.empty() && p->eligible > 0) {
        double printed = *ParsePrintedShare(p->printed_share);
        double computed = double(p->holders) / double(p->eligible);
        AddCheck(
            {.kind = "share",
             .subject = y,
             .field = "share",
             .is_share = true,
             .stated = printed,
             .computed = computed,
             .difference = computed - printed,
             .printed = p->printed_share,
             .note = N("share", {Text("year", y), Num("holders", p->holders), Num("eligible", p->eligible),
                                 Pct("share", computed), Text("printed", p->printed_share)})});
      }
    }
    // The printed total, when it covers exactly the published years and they are all in range.
    if (pub_total_ && !pub_years_.empty() && in_range_.size() == pub_years_.size()) ReconcileTotal();
  }

  void ReconcileTotal() {
    const PublishedRow& total = *pub_total_;
    std::string years =
        std::to_string(pub_years_.begin()->first) + "-" + std::to_string(pub_years_.rbegin()->first);
    if (o_.period == Period::kCalendar && o_.by == Dimension::kNone)
      rep_.totals.push_back(FromPublished(total, total.label, notes_));
    struct Field {
      const char* name;
      int64_t PublishedRow::*f;
    };
    for (Field f :
         {Field{"eligible", &PublishedRow::eligible}, Field{"subscription", &PublishedRow::subscribers},
          Field{"starter", &PublishedRow::starters}, Field{"library", &PublishedRow::library},
          Field{"holders", &PublishedRow::holders}}) {
      int64_t sum = 0;
      for (const PublishedRow* p : in_range_) sum += p->*f.f;
      int64_t stated = total.*f.f, diff = stated - sum;
      std::vector<NoteArg> args = {Label("label", total.label), FieldTerm(f.name), Num("stated", stated),
                                   Text("years", years)};
      if (diff != 0) {
        args.push_back(Num("sum", sum));
        args.push_back(Num("difference", diff < 0 ? -diff : diff));
      }
      AddCheck({.kind = "total",
                .subject = total.label,
                .field = f.name,
                .stated = double(stated),
                .computed = double(sum),
                .difference = double(diff),
                .printed = "",
                .note = N(diff == 0  ? "total_equal"
                          : diff < 0 ? "total_less"
                                     : "total_more",
                          std::move(args))});
    }
    int64_t holders = 0, eligible = 0;
    double mean = 0;
    bool all_printed = true;
    std::string printed_list;
    for (const PublishedRow* p : in_range_) {
      holders += p->holders;
      eligible += p->eligible;
      if (p->printed_share.empty())
        all_printed = false;
      else
        mean += *ParsePrintedShare(p->printed_share) / double(in_range_.size());
      printed_list += (printed_list.empty() ? "" : ", ") + p->printed_share;
    }
    if (total.printed_share.empty() || eligible <= 0) return;
    double printed = *ParsePrintedShare(total.printed_share);
    double pooled = double(holders) / double(eligible);
    AddCheck(
        {.kind = "pooled_share",
         .subject = years,
         .field = "share",
         .is_share = true,
         .stated = printed,
         .computed = pooled,
         .difference = pooled - printed,
         .printed = total.printed_share,
         .note = N("pooled_share", {Text("years", years), Num("holders", holders), Num("eligible", eligible),
                                    Pct("share", pooled), Text("printed", total.printed_share)})});
    if (all_printed)
      AddCheck({.kind = "mean_of_shares",
                .subject = years,
                .field = "share",
                .is_share = true,
                .stated = printed,
                .computed = mean,
                .difference = mean - printed,
                .printed = total.printed_share,
                .note = N(std::abs(mean - printed) < 5e-7 ? "mean_is_printed" : "mean_of_shares",
                          {Text("years", years), Text("printed_list", printed_list), Pct("mean", mean),
                           Text("printed", total.printed_share)})});
  }

  // Per-card counts against published totals for the same calendar year.
  void CompareCardsWithPublished() {
    if (o_.period != Period::kCalendar) return;
    for (const PublishedRow* p : in_range_) {
      auto it = by_year_.find(*p->year);
      if (it == by_year_.end()) continue;
      std::string y = std::to_string(*p->year);
      auto total = [&](auto get) {
        std::optional<int64_t> s = 0;
        for (const CountsRow* c : it->second) {
          std::optional<int64_t> v = get(*c);
          if (!v) return std::optional<int64_t>();
          *s += *v;
        }
        return s;
      };
      struct Pair {
        const char* name;
        int64_t stated;
        std::optional<int64_t> cards;
      };
      for (Pair f : {Pair{"eligible", p->eligible, total([](const CountsRow& c) { return c.eligible; })},
                     Pair{"subscription", p->subscribers,
                          total([](const CountsRow& c) { return std::optional<int64_t>(c.subscription); })},
                     Pair{"starter", p->starters,
                          total([](const CountsRow& c) { return std::optional<int64_t>(c.starter); })},
                     Pair{"library", p->library,
                          total([](const CountsRow& c) { return std::optional<int64_t>(c.library); })},
                     Pair{"holders", p->holders,
                          total([](const CountsRow& c) { return std::optional<int64_t>(c.holders); })}}) {
        if (!f.cards) continue;
        int64_t diff = f.stated - *f.cards;
        AddCheck({.kind = "cards_vs_published",
                  .subject = y,
                  .field = f.name,
                  .stated = double(f.stated),
                  .computed = double(*f.cards),
                  .difference = double(diff),
                  .printed = "",
                  .note = N(diff == 0 ? "cards_vs_published_equal" : "cards_vs_published",
                            {Text("year", y), FieldTerm(f.name), Num("stated", f.stated),
                             Num("cards", *f.cards), Num("difference", diff)})});
      }
    }
  }

  const ReportOptions& o_;
  const std::vector<ParsedCounts>& parsed_;
  const std::map<int, const PublishedRow*>& pub_years_;
  const PublishedRow* pub_total_;
  Report rep_;
  Notes notes_;
  int first_ = 0, last_ = 0;
  std::map<int, std::vector<const CountsRow*>> by_year_;  // the per-card cells in range, by year
  std::vector<const PublishedRow*> in_range_;             // the published years in range
  std::vector<std::optional<std::string>> groups_;
};

}  // namespace

Result<Report> BuildAdoptionReport(const std::vector<CountsRow>& counts,
                                   const std::vector<PublishedRow>& published, const ReportOptions& o) {
  if ((o.first_year == 0) != (o.last_year == 0) ||
      (o.first_year != 0 && (o.first_year < 1900 || o.last_year > 9998 || o.first_year > o.last_year)))
    return Fail(Code::kInvalidArgument, "report years: " + std::to_string(o.first_year) + "-" +
                                            std::to_string(o.last_year) +
                                            " is not a range of years (first <= last, 1900-9998, or both 0)");
  auto parsed = CheckCounts(counts, o);
  if (!parsed) return std::unexpected(parsed.error());
  auto pub = CheckPublished(published);
  if (!pub) return std::unexpected(pub.error());
  return Builder(o, *parsed, pub->first, pub->second).Build();
}

Result<Report> BuildAdoptionReport(const ledger::Ledger& ledger, const ReportOptions& o) {
  ledger::CountsQuery q;
  q.period = o.period;
  q.by = o.by;
  q.first_year = o.first_year;
  q.last_year = o.last_year;
  auto counts = ledger.counts().Query(q);
  if (!counts) return std::unexpected(counts.error());
  auto published = ledger.counts().Published();
  if (!published) return std::unexpected(published.error());
  return BuildAdoptionReport(*counts, *published, o);
}

// ---- Command-line helpers ----

Result<std::pair<int, int>> ParseYears(std::string_view text) {
  auto bad = [&](std::string why) {
    return Fail(Code::kInvalidArgument, "--years \"" + std::string(text) + "\": " + why);
  };
  auto dash = text.find('-');
  auto a = ParseInt(text.substr(0, dash));
  auto b = dash == std::string_view::npos ? a : ParseInt(text.substr(dash + 1));
  if (!a || !b || (dash != std::string_view::npos && dash != 4) || text.size() != (dash == text.npos ? 4 : 9))
    return bad("expected YEAR or FIRST-LAST, e.g. 2017-2026");
  if (*a < 1900 || *b > 9998) return bad("years must lie in 1900-9998");
  if (*a > *b) return bad("the first year is after the last");
  return std::pair{*a, *b};
}

Result<Period> ParsePeriod(std::string_view text) {
  if (text == "calendar") return Period::kCalendar;
  if (text == "school") return Period::kSchool;
  return Fail(Code::kInvalidArgument, "--period \"" + std::string(text) + "\": expected calendar or school");
}

Result<Dimension> ParseDimension(std::string_view text) {
  for (Dimension d :
       {Dimension::kNone, Dimension::kProvince, Dimension::kNetwork, Dimension::kRole, Dimension::kLevel})
    if (text == DimensionName(d)) return d;
  return Fail(Code::kInvalidArgument,
              "--by \"" + std::string(text) + "\": expected province, network, role, level or none");
}

Result<Format> ParseFormat(std::string_view text) {
  if (text == "table") return Format::kTable;
  if (text == "csv") return Format::kCsv;
  if (text == "json") return Format::kJson;
  if (text == "html") return Format::kHtml;
  if (text == "xlsx") return Format::kXlsx;
  return Fail(Code::kInvalidArgument,
              "--format \"" + std::string(text) + "\": expected table, csv, json, html or xlsx");
}

Result<CsvPart> ParseCsvPart(std::string_view text) {
  if (text == "rows") return CsvPart::kRows;
  if (text == "reconciliation") return CsvPart::kReconciliation;
  if (text == "notes") return CsvPart::kNotes;
  return Fail(Code::kInvalidArgument,
              "--part \"" + std::string(text) + "\": expected rows, reconciliation or notes");
}

Result<char> ParseDelimiter(std::string_view text) {
  if (text == ";" || text == "semicolon") return ';';
  if (text == "," || text == "comma") return ',';
  return Fail(Code::kInvalidArgument, "--delimiter \"" + std::string(text) +
                                          "\": expected ';' (decimal comma) or ',' (decimal point)");
}

std::string_view PeriodName(Period p) { return p == Period::kCalendar ? "calendar" : "school"; }

std::string_view DimensionName(Dimension d) {
  switch (d) {
    case Dimension::kNone:
      return "none";
    case Dimension::kProvince:
      return "province";
    case Dimension::kNetwork:
      return "network";
    case Dimension::kRole:
      return "role";
    case Dimension::kLevel:
      return "level";
  }
  return "none";
}

Result<double> ParsePrintedShare(std::string_view text) {
  auto bad = [&] {
    return Fail(Code::kInvalidArgument,
                "printed share \"" + std::string(text) + "\" is not a percentage like 67,50% or 67%");
  };
  std::string_view s = text;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty() || s.back() != '%') return bad();
  s.remove_suffix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  // Integer hundredths of a percent, so that "67,50" and "67.5" parse to the same exact value.
  size_t sep = s.find_first_of(",.");
  std::string_view whole = s.substr(0, sep), frac = sep == s.npos ? "" : s.substr(sep + 1);
  if (whole.empty() || whole.size() > 3 || frac.size() > 4 || (sep != s.npos && frac.empty())) return bad();
  for (char c : whole)
    if (c < '0' || c > '9') return bad();
  for (char c : frac)
    if (c < '0' || c > '9') return bad();
  int64_t units = 0;  // 1/10000 of a percent
  for (char c : whole) units = units * 10 + (c - '0');
  for (size_t i = 0; i < 4; ++i) units = units * 10 + (i < frac.size() ? frac[i] - '0' : 0);
  if (units > 100 * 10000) return bad();
  return double(units) / 1e6;
}

size_t DisplayWidth(std::string_view s) {
  size_t width = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    uint32_t cp = c;
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (len > 1 && i + len <= s.size()) {
      cp = c & (0x3F >> (len - 1));
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    } else {
      len = 1;
    }
    i += len;
    bool zero = (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) ||
                (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0x1AB0 && cp <= 0x1AFF) || cp < 0x20;
    bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
                (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD);
    width += zero ? 0 : wide ? 2 : 1;
  }
  return width;
}

}  // namespace lk::reports
