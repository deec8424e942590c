// Report arithmetic and the table/CSV/JSON renderers, from the published 2017-2019 figures and
// synthesised per-card counts.
#include "reports/reports.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "tests/reports/report_inputs.h"

namespace lk::reports {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using testing::LoadPublishedCsv;
using testing::SyntheticCell;

constexpr std::string_view kNnbsp = "\u202F";  // the thousands separator of table, HTML and notes
std::string N(std::string s) {                 // "138 365" with narrow no-break spaces
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    bool between_digits = s[i] == ' ' && i > 0 && i + 1 < s.size() && std::isdigit((unsigned char)s[i - 1]) &&
                          std::isdigit((unsigned char)s[i + 1]);
    out += between_digits ? std::string(kNnbsp) : std::string(1, s[i]);
  }
  return out;
}

std::string Pct(double f) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", f * 100);
  return b;
}

Report Build(const std::vector<CountsRow>& c, const std::vector<PublishedRow>& p, ReportOptions o) {
  auto r = BuildAdoptionReport(c, p, o);
  EXPECT_TRUE(r.has_value()) << r.error().message;
  return r.value_or(Report{});
}

const Check* Find(const Report& r, std::string_view kind, std::string_view subject, std::string_view field) {
  for (const auto& c : r.reconciliation)
    if (c.kind == kind && c.subject == subject && c.field == field) return &c;
  return nullptr;
}

std::vector<std::string> NoteTexts(const Report& r) {
  std::vector<std::string> out;
  for (const Note& n : r.notes) out.push_back(NoteText(n));
  return out;
}

std::vector<std::string> NotesOf(const Report& r, const ReportRow& row) {
  std::vector<std::string> out;
  for (int n : row.note_refs) out.push_back(NoteText(r.notes.at(size_t(n))));
  return out;
}

Report PublishedReport() {
  return Build({}, LoadPublishedCsv(), {.period = Period::kCalendar, .first_year = 2017, .last_year = 2019});
}

TEST(PublishedFigures, RowsShowExactlyThePublishedCountsWithNotItemisedRemainder) {
  Report r = PublishedReport();
  ASSERT_EQ(r.rows.size(), 3u);
  struct Want {
    const char* period;
    int64_t eligible, subscription, starter, library, holders, not_itemised;
    const char* printed;
  } want[] = {{"2017", 204530, 15570, 14852, 102478, 138365, 5465, "67.50%"},
              {"2018", 208204, 18276, 16527, 103966, 139705, 936, "67%"},
              {"2019", 213132, 19931, 17583, 100102, 138516, 900, "65%"}};
  for (size_t i = 0; i < 3; ++i) {
    const ReportRow& row = r.rows[i];
    SCOPED_TRACE(row.period);
    EXPECT_EQ(row.period, want[i].period);
    EXPECT_EQ(row.source, "published");
    EXPECT_EQ(row.group, std::nullopt);
    EXPECT_EQ(row.eligible, want[i].eligible);
    EXPECT_EQ(row.subscription, want[i].subscription);
    EXPECT_EQ(row.starter, want[i].starter);
    EXPECT_EQ(row.library, want[i].library);
    EXPECT_EQ(row.holders, want[i].holders);
    EXPECT_EQ(row.not_itemised, want[i].not_itemised);
    EXPECT_EQ(row.printed_share, want[i].printed);
    ASSERT_TRUE(row.share.has_value());
    EXPECT_DOUBLE_EQ(*row.share, double(want[i].holders) / double(want[i].eligible));
    // The published answer has no digital channel and no split by card kind: n/a, never 0.
    EXPECT_EQ(row.digital, std::nullopt);
    EXPECT_EQ(row.digital_only, std::nullopt);
    EXPECT_EQ(row.physical_only, std::nullopt);
    EXPECT_EQ(row.both, std::nullopt);
    EXPECT_EQ(row.digital_share, std::nullopt);
    EXPECT_THAT(NotesOf(r, row), Contains(HasSubstr("no digital channel")));
  }
}

TEST(PublishedFigures, TotalsShowTheSumAndThePrintedTotalSideBySide) {
  Report r = PublishedReport();
  ASSERT_EQ(r.totals.size(), 2u);
  const ReportRow& sum = r.totals[0];
  EXPECT_EQ(sum.source, "sum");
  EXPECT_EQ(sum.period, "2017-2019");
  EXPECT_EQ(sum.eligible, 625866);
  EXPECT_EQ(sum.subscription, 53777);
  EXPECT_EQ(sum.starter, 48962);
  EXPECT_EQ(sum.library, 306546);
  EXPECT_EQ(sum.holders, 416586);
  EXPECT_EQ(sum.not_itemised, 5465 + 936 + 900);
  ASSERT_TRUE(sum.share);
  EXPECT_DOUBLE_EQ(*sum.share, 416586.0 / 625866.0);
  const ReportRow& printed = r.totals[1];
  EXPECT_EQ(printed.source, "published");
  EXPECT_EQ(printed.period, "Totaal");
  EXPECT_EQ(printed.holders, 416585);
  EXPECT_EQ(printed.eligible, 625866);
  EXPECT_EQ(printed.not_itemised, 7300);
  EXPECT_EQ(printed.printed_share, "66.50%");
}

TEST(PublishedFigures, ReconciliationChecksEveryPublishedNumber) {
  Report r = PublishedReport();
  // Not-itemised remainder per year.
  for (auto [year, holders, itemised, rest] : std::vector<std::tuple<const char*, int64_t, int64_t, int64_t>>{
           {"2017", 138365, 132900, 5465}, {"2018", 139705, 138769, 936}, {"2019", 138516, 137616, 900}}) {
    const Check* c = Find(r, "not_itemised", year, "holders");
    ASSERT_NE(c, nullptr) << year;
    EXPECT_EQ(c->stated, double(holders));
    EXPECT_EQ(c->computed, double(itemised));
    EXPECT_EQ(c->difference, double(rest));
  }
  // Computed share next to printed share.
  for (auto [year, computed, printed_text, printed, shown] :
       std::vector<std::tuple<const char*, double, const char*, double, const char*>>{
           {"2017", 138365.0 / 204530.0, "67.50%", 0.675, "67.65%"},
           {"2018", 139705.0 / 208204.0, "67%", 0.67, "67.10%"},
           {"2019", 138516.0 / 213132.0, "65%", 0.65, "64.99%"}}) {
    const Check* c = Find(r, "share", year, "share");
    ASSERT_NE(c, nullptr) << year;
    EXPECT_TRUE(c->is_share);
    EXPECT_DOUBLE_EQ(c->computed, computed);
    EXPECT_DOUBLE_EQ(c->stated, printed);
    EXPECT_EQ(c->printed, printed_text);
    EXPECT_THAT(NoteText(c->note), AllOf(HasSubstr(std::string("= ") + shown), HasSubstr(printed_text)));
  }
  // The printed total is one card less than the sum of the years; the other totals agree.
  const Check* holders = Find(r, "total", "Totaal", "holders");
  ASSERT_NE(holders, nullptr);
  EXPECT_EQ(holders->stated, 416585);
  EXPECT_EQ(holders->computed, 416586);
  EXPECT_EQ(holders->difference, -1);
  EXPECT_THAT(NoteText(holders->note), HasSubstr(N("sum to 416 586 (the printed total is 1 less)")));
  for (const char* f : {"eligible", "subscription", "starter", "library"}) {
    const Check* c = Find(r, "total", "Totaal", f);
    ASSERT_NE(c, nullptr) << f;
    EXPECT_EQ(c->difference, 0) << f;
  }
  EXPECT_EQ(Find(r, "total", "Totaal", "eligible")->stated, 625866);
  // Pooled share next to the printed mean of shares.
  const Check* pooled = Find(r, "pooled_share", "2017-2019", "share");
  ASSERT_NE(pooled, nullptr);
  EXPECT_DOUBLE_EQ(pooled->computed, 416586.0 / 625866.0);
  EXPECT_DOUBLE_EQ(pooled->stated, 0.665);
  EXPECT_THAT(NoteText(pooled->note), HasSubstr(N("416 586 / 625 866 = 66.56%")));
  const Check* mean = Find(r, "mean_of_shares", "2017-2019", "share");
  ASSERT_NE(mean, nullptr);
  EXPECT_NEAR(mean->computed, (0.675 + 0.67 + 0.65) / 3, 1e-12);
  EXPECT_NEAR(mean->difference, 0, 1e-12);
  EXPECT_THAT(NoteText(mean->note), HasSubstr("is that mean, not a pooled share"));
  // Every reconciliation sentence is also a note, so a reader of `notes` alone sees them.
  for (const auto& c : r.reconciliation) EXPECT_THAT(r.notes, Contains(c.note));
}

// Notes are data: a key and typed values, written by NoteText in any language. A language
// without a template or term falls back to the English one; numbers follow the language's style.
TEST(Notes, AreKeysWithValuesThatALanguageWrites) {
  Report r = PublishedReport();
  const Check* total = Find(r, "total", "Totaal", "eligible");
  ASSERT_NE(total, nullptr);
  EXPECT_EQ(total->note.key, "total_equal");
  EXPECT_EQ(NoteText(total->note), N("Totaal: printed eligible 625 866 equals the sum of 2017-2019."));
  std::map<std::string, std::string, std::less<>> dutch = {
      {"total_equal", "{label}: {field} {stated} = som {years}."},
      {"field.eligible", "rechthebbenden"},
      {"total", "Totaal (gepubliceerd)"},
      {"span", "{first} t/m {last}"}};
  NoteLanguage lang{[&](std::string_view key) {
                      auto it = dutch.find(key);
                      return it == dutch.end() ? std::string_view() : std::string_view(it->second);
                    },
                    [](int64_t n) { return "#" + std::to_string(n); },
                    [](double f) { return std::to_string(int(f * 1000)) + " promille"; }};
  EXPECT_EQ(NoteText(total->note, lang), "Totaal (gepubliceerd): rechthebbenden #625866 = som 2017-2019.");
  // No Dutch template for "share": the English one, with the language's numbers.
  const Check* share = Find(r, "share", "2017", "share");
  ASSERT_NE(share, nullptr);
  EXPECT_EQ(NoteText(share->note, lang),
            "2017: computed share #138365 / #204530 = 676 promille; printed 67.50%.");
  // Every note the builder made has an English template, and the JSON carries the keys and values.
  for (const Note& n : r.notes) {
    EXPECT_THAT(NoteKeys(), Contains(n.key));
    EXPECT_EQ(NoteText(n).find('{'), std::string::npos) << NoteText(n);
  }
  auto j = nlohmann::json::parse(RenderJson(r));
  ASSERT_EQ(j["note_data"].size(), r.notes.size());
  EXPECT_EQ(j["note_data"][0]["key"], r.notes[0].key);
  // A school span is a term, so a page can join the two periods in its own words.
  Note span{"sums_cover",
            {{.name = "span", .kind = NoteArg::Kind::kSpan, .text = "2017-2018", .other = "2019-2020"},
             {.name = "left_out", .text = "2018-2019"}}};
  EXPECT_THAT(NoteText(span), HasSubstr("The sums cover 2017-2018 to 2019-2020 only: 2018-2019 have"));
  EXPECT_THAT(NoteText(span, lang), HasSubstr("The sums cover 2017-2018 t/m 2019-2020 only"));
}

TEST(PublishedFigures, TableShowsTheNumbersAligned) {
  std::string t = RenderTable(PublishedReport());
  for (const char* s : {"138 365", "5 465", "936", "900", "416 585", "416 586", "67.65%", "67.50%", "67.10%",
                        "64.99%", "66.56%", "66.50%", "n/a", "+0.15 pt", "-0.01 pt", "+0.06 pt", "+0.00 pt"})
    EXPECT_THAT(t, HasSubstr(N(s))) << s;
  // Every line of the main table has its "Holders" column ending at the same display column.
  auto lines = [&] {
    std::vector<std::string> v;
    std::stringstream ss(t);
    for (std::string l; std::getline(ss, l);) v.push_back(l);
    return v;
  }();
  ASSERT_GT(lines.size(), 8u);
  size_t header_end = DisplayWidth(lines[2].substr(0, lines[2].find("Holders") + 7));
  for (size_t i = 4; i < 7; ++i) {
    std::string holders = N(i == 4 ? "138 365" : i == 5 ? "139 705" : "138 516");
    auto pos = lines[i].find(holders);
    ASSERT_NE(pos, std::string::npos) << lines[i];
    EXPECT_EQ(DisplayWidth(lines[i].substr(0, pos + holders.size())), header_end) << lines[i];
  }
}

TEST(PublishedFigures, SchoolViewHasNullCellsAndSaysWhy) {
  Report r =
      Build({}, LoadPublishedCsv(), {.period = Period::kSchool, .first_year = 2017, .last_year = 2019});
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0].period, "2017-2018");
  EXPECT_EQ(r.rows[2].period, "2019-2020");
  for (const auto& row : r.rows) {
    SCOPED_TRACE(row.period);
    EXPECT_EQ(row.source, "none");
    for (auto f : {&ReportRow::eligible, &ReportRow::subscription, &ReportRow::starter, &ReportRow::library,
                   &ReportRow::digital, &ReportRow::not_itemised, &ReportRow::holders})
      EXPECT_EQ(row.*f, std::nullopt);
    EXPECT_EQ(row.share, std::nullopt);
    EXPECT_THAT(NotesOf(r, row), Contains(HasSubstr("cannot be split by school year")));
  }
  EXPECT_THAT(NotesOf(r, r.rows[0]), Contains(HasSubstr("card years 2017, 2018")));
  // JSON: nulls, not zeros.
  auto j = nlohmann::json::parse(RenderJson(r));
  EXPECT_EQ(j["period"], "school");
  for (const auto& row : j["rows"]) {
    EXPECT_TRUE(row["holders"].is_null());
    EXPECT_TRUE(row["eligible"].is_null());
    EXPECT_TRUE(row["share"].is_null());
    for (const char* c : {"subscription", "starter", "library", "digital", "not_itemised"})
      EXPECT_TRUE(row["cards"][c].is_null()) << c;
    EXPECT_FALSE(row["notes"].empty());
  }
}

TEST(PublishedFigures, ByProvinceHasNullCellsForEveryProvinceAndSaysWhy) {
  Report r =
      Build({}, LoadPublishedCsv(),
            {.period = Period::kCalendar, .by = Dimension::kProvince, .first_year = 2017, .last_year = 2019});
  ASSERT_EQ(r.rows.size(), 33u);
  EXPECT_EQ(r.rows[0].group, "Brussel");
  EXPECT_EQ(r.rows[10].group, "Oost-Vlaanderen");
  for (const auto& row : r.rows) {
    EXPECT_EQ(row.holders, std::nullopt);
    EXPECT_EQ(row.eligible, std::nullopt);
    EXPECT_EQ(row.share, std::nullopt);
    EXPECT_THAT(NotesOf(r, row), Contains(HasSubstr("no split by province")));
  }
  // Sums of n/a cells stay n/a; the reconciliation of the publication is still there.
  for (const auto& t : r.totals) EXPECT_EQ(t.holders, std::nullopt);
  EXPECT_NE(Find(r, "total", "Totaal", "holders"), nullptr);
  auto j = nlohmann::json::parse(RenderJson(r));
  EXPECT_EQ(j["by"], "province");
  EXPECT_EQ(j["rows"][0]["group"], "Brussel");
  EXPECT_TRUE(j["rows"][0]["holders"].is_null());
}

TEST(MergingRule, PerCardRecordsWinAndAreComparedWithThePublishedTotals) {
  auto published = LoadPublishedCsv();
  CountsRow c = SyntheticCell("2019", std::nullopt, 0, 0);
  c.eligible = 213132;
  c.holders = 138500;
  c.both = 0;
  c.digital_only = 0;
  c.digital = 0;
  c.physical_only = 138500;
  c.subscription = 19931;
  c.starter = 17583;
  c.library = 100986;
  Report r = Build({c}, published, {.first_year = 2017, .last_year = 2019});
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[2].source, "cards");
  EXPECT_EQ(r.rows[2].holders, 138500);
  EXPECT_EQ(r.rows[2].not_itemised, std::nullopt);
  EXPECT_EQ(r.rows[2].digital, 0);
  EXPECT_THAT(NotesOf(r, r.rows[2]), Contains(HasSubstr("Per-card records win")));
  const Check* h = Find(r, "cards_vs_published", "2019", "holders");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->stated, 138516);
  EXPECT_EQ(h->computed, 138500);
  EXPECT_EQ(h->difference, 16);
  EXPECT_EQ(Find(r, "cards_vs_published", "2019", "subscription")->difference, 0);
  EXPECT_EQ(Find(r, "cards_vs_published", "2019", "library")->difference, 100102 - 100986);
  // The sum adds both sources, says so, and keeps n/a where a source has no value.
  const ReportRow& sum = r.totals[0];
  EXPECT_EQ(sum.holders, 138365 + 139705 + 138500);
  EXPECT_EQ(sum.digital, std::nullopt);
  EXPECT_EQ(sum.not_itemised, std::nullopt);
  EXPECT_THAT(NotesOf(r, sum), Contains(HasSubstr("adds per-card counts and published totals")));
}

TEST(DigitalPicture, CardRowsCarryTheSplitAndTheDigitalShare) {
  std::vector<CountsRow> cards;
  for (int y = 0; y < 3; ++y) cards.push_back(SyntheticCell(std::to_string(2024 + y), std::nullopt, y, 0));
  cards[2].digital_only = 3000;
  cards[2].both = 1000;
  cards[2].physical_only = cards[2].holders - 4000;
  Report r = Build(cards, {}, {});
  EXPECT_EQ(r.first_year, 2024);
  EXPECT_EQ(r.last_year, 2026);
  ASSERT_EQ(r.rows.size(), 3u);
  const ReportRow& row = r.rows[2];
  EXPECT_EQ(row.digital_only, 3000);
  EXPECT_EQ(row.both, 1000);
  ASSERT_TRUE(row.digital_share);
  EXPECT_DOUBLE_EQ(*row.digital_share, 4000.0 / double(*row.holders));
  EXPECT_DOUBLE_EQ(*row.share, double(*row.holders) / double(*row.eligible));
  EXPECT_EQ(r.rows[0].digital_share, 0.0);  // year 0 of the synthetic data has no digital holders
  EXPECT_EQ(r.reconciliation.size(), 0u);
  const ReportRow& sum = r.totals.at(0);
  EXPECT_EQ(sum.digital_only, *r.rows[0].digital_only + *r.rows[1].digital_only + 3000);
  std::string t = RenderTable(r);
  EXPECT_THAT(t, HasSubstr("Digital only"));
  EXPECT_THAT(t, HasSubstr(Pct(*row.digital_share)));
}

TEST(DigitalPicture, InconsistentSplitIsShownAndNoted) {
  CountsRow c = SyntheticCell("2026", std::nullopt, 1, 0);
  c.both += 5;
  Report r = Build({c}, {}, {});
  EXPECT_THAT(NotesOf(r, r.rows[0]), Contains(HasSubstr("Inconsistent input for 2026")));
}

TEST(SchoolView, EligibleIsNullWithANote) {
  CountsRow c = SyntheticCell("2025-2026", std::nullopt, 1, 0, /*school=*/true);
  Report r = Build({c}, {}, {.period = Period::kSchool});
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].eligible, std::nullopt);
  EXPECT_EQ(r.rows[0].share, std::nullopt);
  EXPECT_EQ(r.rows[0].holders, c.holders);
  EXPECT_THAT(NotesOf(r, r.rows[0]),
              Contains(HasSubstr("no roster of eligible staff is recorded for either")));
}

TEST(SchoolView, EligibleFromTheRosterOfItsJanuaryToAugustWithTheRuleInANote) {
  CountsRow c = SyntheticCell("2025-2026", std::nullopt, 1, 0, /*school=*/true);
  c.eligible = 4 * c.holders;
  c.eligible_year = 2026;
  CountsRow early = SyntheticCell("2026-2027", std::nullopt, 1, 0, /*school=*/true);
  early.eligible = 2 * early.holders;
  early.eligible_year = 2026;
  Report r = Build({c, early}, {}, {.period = Period::kSchool});
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].eligible, c.eligible);
  ASSERT_TRUE(r.rows[0].share.has_value());
  EXPECT_DOUBLE_EQ(*r.rows[0].share, 0.25);
  EXPECT_THAT(NotesOf(r, r.rows[0]),
              Contains(HasSubstr("roster of card year 2026, the card year of its January")));
  EXPECT_THAT(NotesOf(r, r.rows[1]), Contains(HasSubstr("the card year it starts in")));
}

TEST(Range, YearsWithoutAnyDataGetANoteAndNoRow) {
  Report r = Build({SyntheticCell("2021", std::nullopt, 1, 0)}, LoadPublishedCsv(),
                   {.first_year = 2019, .last_year = 2021});
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].period, "2019");
  EXPECT_EQ(r.rows[1].period, "2021");
  EXPECT_THAT(NoteTexts(r),
              Contains(HasSubstr("2020: there are no per-card records and no published totals")));
  // The printed total covers 2017-2019, which is not all in range: it is not shown.
  for (const auto& t : r.totals) EXPECT_NE(t.period, "Totaal");
  EXPECT_EQ(Find(r, "total", "Totaal", "holders"), nullptr);
}

TEST(Grouped, ProvincesAreOrderedAndSummedPerProvince) {
  std::vector<CountsRow> cards;
  for (const char* p : {"Antwerpen", "Brussel", "Limburg"})
    for (int y = 0; y < 2; ++y)
      cards.push_back(SyntheticCell(std::to_string(2025 + y), p, y, int(cards.size() % 3)));
  Report r = Build(cards, {}, {.by = Dimension::kProvince});
  ASSERT_EQ(r.rows.size(), 6u);
  EXPECT_EQ(r.rows[0].group, "Brussel");  // postcode order, not alphabetical
  EXPECT_EQ(r.rows[1].group, "Antwerpen");
  ASSERT_EQ(r.totals.size(), 4u);
  EXPECT_EQ(r.totals[0].group, "Brussel");
  EXPECT_EQ(r.totals[0].holders, *r.rows[0].holders + *r.rows[3].holders);
  EXPECT_EQ(r.totals[3].group, "all");
}

TEST(Grouped, SumsLeaveOutYearsWithoutProvincesAndSaySo) {
  std::vector<CountsRow> cards{SyntheticCell("2020", "Limburg", 0, 0),
                               SyntheticCell("2021", "Limburg", 1, 0)};
  Report r =
      Build(cards, LoadPublishedCsv(), {.by = Dimension::kProvince, .first_year = 2017, .last_year = 2021});
  ASSERT_EQ(r.rows.size(), 33u + 2u);
  ASSERT_EQ(r.totals.size(), 2u);  // Limburg, all
  EXPECT_EQ(r.totals[0].group, "Limburg");
  EXPECT_EQ(r.totals[0].period, "2020-2021");
  EXPECT_EQ(r.totals[0].holders, cards[0].holders + cards[1].holders);
  EXPECT_EQ(r.totals[1].group, "all");
  EXPECT_THAT(
      NotesOf(r, r.totals[0]),
      Contains(HasSubstr("The sums cover 2020-2021 only: 2017, 2018, 2019 have no values in this view")));
}

TEST(Errors, BadInputsAreRefusedWithTheirPlace) {
  auto err = [](const std::vector<CountsRow>& c, const std::vector<PublishedRow>& p, ReportOptions o) {
    auto r = BuildAdoptionReport(c, p, o);
    EXPECT_FALSE(r.has_value());
    if (r) return std::string();
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    return r.error().message;
  };
  CountsRow c = SyntheticCell("2025", std::nullopt, 0, 0);
  EXPECT_THAT(err({c}, {}, {.period = Period::kSchool}),
              HasSubstr("counts row 1 (period \"2025\"): not a school"));
  EXPECT_THAT(err({c, c}, {}, {}), HasSubstr("counts row 2 (period \"2025\"): duplicate cell"));
  CountsRow neg = c;
  neg.library = -1;
  EXPECT_THAT(err({neg}, {}, {}), HasSubstr("negative count -1"));
  EXPECT_THAT(err({c}, {}, {.by = Dimension::kProvince}), HasSubstr("has no group"));
  auto pub = LoadPublishedCsv();
  pub[1].printed_share = "67 procent";
  EXPECT_THAT(err({}, pub, {}), HasSubstr("published row 2 (\"2018\"): printed share \"67 procent\""));
  pub = LoadPublishedCsv();
  pub.push_back(pub[0]);
  EXPECT_THAT(err({}, pub, {}), HasSubstr("duplicate year"));
  EXPECT_THAT(err({}, {}, {.first_year = 2020, .last_year = 2019}), HasSubstr("not a range of years"));
}

TEST(Parsing, OptionsAndPrintedShares) {
  EXPECT_EQ(ParseYears("2017-2026"), (std::pair{2017, 2026}));
  EXPECT_EQ(ParseYears("2019"), (std::pair{2019, 2019}));
  for (const char* bad : {"2026-2017", "17-26", "2017-", "2017..2026", "", "abcd", "2017-20266"}) {
    auto y = ParseYears(bad);
    ASSERT_FALSE(y) << bad;
    EXPECT_EQ(y.error().code, Code::kInvalidArgument);
    EXPECT_THAT(y.error().message, HasSubstr(std::string("--years \"") + bad + "\""));
  }
  EXPECT_EQ(ParsePeriod("school"), Period::kSchool);
  EXPECT_THAT(ParsePeriod("fiscal").error().message, HasSubstr("--period \"fiscal\""));
  EXPECT_EQ(ParseDimension("province"), Dimension::kProvince);
  EXPECT_EQ(ParseDimension("level"), Dimension::kLevel);
  EXPECT_THAT(ParseDimension("gemeente").error().message, HasSubstr("--by \"gemeente\""));
  EXPECT_EQ(ParseFormat("html"), Format::kHtml);
  EXPECT_EQ(ParseFormat("xlsx"), Format::kXlsx);
  EXPECT_THAT(ParseFormat("pdf").error().message, HasSubstr("--format \"pdf\""));
  EXPECT_EQ(ParsePrintedShare("67,50%"), 0.675);
  EXPECT_EQ(ParsePrintedShare("67.5 %"), 0.675);
  EXPECT_EQ(ParsePrintedShare("67%"), 0.67);
  EXPECT_EQ(ParsePrintedShare("66,50%"), 0.665);
  for (const char* bad : {"67", "67,%", "abc%", "101%", "-5%", "6 7%"})
    EXPECT_FALSE(ParsePrintedShare(bad)) << bad;
}

TEST(Table, DisplayWidthCountsCharactersNotBytes) {
  EXPECT_EQ(DisplayWidth("Luik"), 4u);
  EXPECT_EQ(DisplayWidth("Liège"), 5u);
  EXPECT_EQ(DisplayWidth("Lie\u0300ge"), 5u);  // combining grave accent
  EXPECT_EQ(DisplayWidth(N("138 365")), 7u);
  EXPECT_EQ(DisplayWidth("\u6771\u4eac"), 4u);  // wide CJK
  EXPECT_EQ(DisplayWidth("\u2500\u2500"), 2u);
}

TEST(Table, NonAsciiGroupsStayAligned) {
  std::vector<CountsRow> cards{SyntheticCell("2026", "Gemeenschapsonderwijs", 1, 0),
                               SyntheticCell("2026", "Liège–Ōsaka", 1, 1),
                               SyntheticCell("2026", "OVSG", 1, 2)};
  std::string t = RenderTable(Build(cards, {}, {.by = Dimension::kNetwork}));
  std::stringstream ss(t);
  std::vector<size_t> cols;
  for (std::string l; std::getline(ss, l);) {
    auto pos = l.find("  cards  ");
    if (pos != std::string::npos) cols.push_back(DisplayWidth(l.substr(0, pos)));
    if (l.rfind("Digital picture", 0) == 0) break;
  }
  ASSERT_EQ(cols.size(), 3u) << t;
  EXPECT_EQ(cols[0], cols[1]);
  EXPECT_EQ(cols[1], cols[2]);
}

TEST(Json, HasTheAgreedFieldsAndTypes) {
  auto published = LoadPublishedCsv();
  std::vector<CountsRow> cards{SyntheticCell("2025", std::nullopt, 1, 0),
                               SyntheticCell("2026", std::nullopt, 2, 0)};
  auto j = nlohmann::json::parse(RenderJson(Build(cards, published, {})));
  EXPECT_EQ(j["period"], "calendar");
  EXPECT_TRUE(j["by"].is_null());
  ASSERT_TRUE(j["rows"].is_array());
  ASSERT_EQ(j["rows"].size(), 5u);  // 2017-2019 published, 2025-2026 cards (2020-2024 noted, no rows)
  for (const auto& row : j["rows"]) {
    EXPECT_TRUE(row["period"].is_string());
    EXPECT_TRUE(row["group"].is_null());
    EXPECT_TRUE(row["eligible"].is_number_integer());
    EXPECT_TRUE(row["holders"].is_number_integer());
    EXPECT_TRUE(row["share"].is_number_float());
    EXPECT_GT(row["share"].get<double>(), 0);
    EXPECT_LT(row["share"].get<double>(), 1);
    for (const char* c : {"subscription", "starter", "library", "digital", "not_itemised"})
      EXPECT_TRUE(row["cards"].contains(c)) << c;
    EXPECT_TRUE(row["notes"].is_array());
  }
  EXPECT_EQ(j["rows"][0]["period"], "2017");
  EXPECT_EQ(j["rows"][0]["cards"]["not_itemised"], 5465);
  EXPECT_TRUE(j["rows"][0]["cards"]["digital"].is_null());
  EXPECT_EQ(j["rows"][0]["printed_share"], "67.50%");
  EXPECT_DOUBLE_EQ(j["rows"][0]["share"].get<double>(), 138365.0 / 204530.0);
  EXPECT_TRUE(j["rows"][3]["cards"]["not_itemised"].is_null());
  EXPECT_TRUE(j["rows"][3]["cards"]["digital"].is_number_integer());
  EXPECT_TRUE(j["rows"][3]["digital_picture"]["digital_share"].is_number());
  ASSERT_TRUE(j["notes"].is_array());
  for (const auto& n : j["notes"]) EXPECT_TRUE(n.is_string());
  for (const auto& row : j["rows"])
    for (const auto& n : row["notes"]) EXPECT_LT(n.get<size_t>(), j["notes"].size());
  bool found = false;
  for (const auto& c : j["reconciliation"])
    if (c["kind"] == "total" && c["field"] == "holders") {
      found = true;
      EXPECT_EQ(c["published"], 416585);
      EXPECT_EQ(c["computed"], 416586);
      EXPECT_EQ(c["difference"], -1);
      EXPECT_EQ(c["unit"], "count");
    }
  EXPECT_TRUE(found);
}

// Splits CSV text (BOM stripped, CRLF lines) into fields; quoted fields may hold the delimiter.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text, char d) {
  std::vector<std::vector<std::string>> lines;
  std::string body = text.rfind("\xEF\xBB\xBF", 0) == 0 ? text.substr(3) : text;
  std::vector<std::string> row;
  std::string cell;
  bool quoted = false;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (quoted) {
      if (c == '"' && i + 1 < body.size() && body[i + 1] == '"')
        cell += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        cell += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == d) {
      row.push_back(cell), cell.clear();
    } else if (c == '\r' && i + 1 < body.size() && body[i + 1] == '\n') {
      row.push_back(cell), cell.clear();
      lines.push_back(row), row.clear();
      ++i;
    } else {
      cell += c;
    }
  }
  return lines;
}

size_t Col(const std::vector<std::string>& header, std::string_view name) {
  auto it = std::find(header.begin(), header.end(), name);
  EXPECT_NE(it, header.end()) << name;
  return size_t(it - header.begin());
}

TEST(Csv, OpensInABelgianSpreadsheet) {
  std::string csv = RenderCsv(PublishedReport());
  ASSERT_GE(csv.size(), 3u);
  EXPECT_EQ(csv.substr(0, 3), "\xEF\xBB\xBF");
  // Every line ends in CRLF; no bare LF.
  for (size_t i = 0; i < csv.size(); ++i)
    if (csv[i] == '\n') {
      ASSERT_TRUE(i > 0 && csv[i - 1] == '\r') << "bare LF at byte " << i;
    }
  auto lines = ParseCsv(csv, ';');
  ASSERT_EQ(lines.size(), 6u);  // header, 2017-2019, the sum, the printed Totaal
  const auto& h = lines[0];
  EXPECT_EQ(h[0], "row_kind");
  EXPECT_EQ(lines[1][Col(h, "period")], "2017");
  EXPECT_EQ(lines[1][Col(h, "eligible")], "204530");
  EXPECT_EQ(lines[1][Col(h, "not_itemised")], "5465");
  EXPECT_EQ(lines[1][Col(h, "holders")], "138365");
  EXPECT_EQ(lines[1][Col(h, "share_pct")], "67,6502");  // a percentage with a decimal comma
  EXPECT_EQ(lines[1][Col(h, "digital")], "");           // n/a is an empty cell
  EXPECT_EQ(lines[3][Col(h, "holders")], "138516");
  EXPECT_EQ(lines[3][Col(h, "eligible")], "213132");
  EXPECT_EQ(lines[3][Col(h, "share_pct")], "64,9907");
  EXPECT_EQ(lines[4][Col(h, "holders")], "416586");
  EXPECT_EQ(lines[4][Col(h, "share_pct")], "66,5615");  // 416586 / 625866
  EXPECT_EQ(lines[5][Col(h, "period")], "Totaal");
  EXPECT_EQ(lines[5][Col(h, "holders")], "416585");
  // No number uses a decimal point.
  for (size_t i = 1; i < lines.size(); ++i)
    for (const char* c : {"eligible", "holders", "share_pct", "digital_share_pct", "not_itemised"})
      EXPECT_EQ(lines[i][Col(h, c)].find('.'), std::string::npos) << lines[i][Col(h, c)];
}

TEST(Csv, IsOneRectangularTableWithTotalsAndSourcesMarked) {
  std::vector<CountsRow> cards;
  for (const char* p : {"Antwerpen", "Limburg"})
    for (int y = 0; y < 2; ++y)
      cards.push_back(SyntheticCell(std::to_string(2020 + y), p, y, int(cards.size())));
  for (const auto& [by, first] :
       std::vector<std::pair<Dimension, int>>{{Dimension::kNone, 2017}, {Dimension::kProvince, 2017}}) {
    std::vector<CountsRow> c = cards;
    if (by == Dimension::kNone)
      for (auto& row : c) row.group.reset();
    if (by == Dimension::kNone) c.erase(c.begin() + 2, c.end());
    Report r = Build(c, LoadPublishedCsv(), {.by = by, .first_year = first, .last_year = 2021});
    for (char d : {';', ','}) {
      SCOPED_TRACE(std::string("by ") + std::string(DimensionName(by)) + ", delimiter " + d);
      std::string csv = RenderCsv(r, {.delimiter = d});
      auto lines = ParseCsv(csv, d);
      ASSERT_GT(lines.size(), 2u);
      const auto& h = lines[0];
      // Exactly one header: no later line repeats it, and every line has its column count.
      for (size_t i = 0; i < lines.size(); ++i) {
        EXPECT_EQ(lines[i].size(), h.size()) << "line " << i + 1;
        if (i) {
          EXPECT_NE(lines[i][0], "row_kind");
        }
      }
      size_t kind = Col(h, "row_kind"), source = Col(h, "source"), share = Col(h, "share_pct");
      size_t data = 0, totals = 0;
      for (size_t i = 1; i < lines.size(); ++i) {
        const auto& l = lines[i];
        ASSERT_TRUE(l[kind] == "data" || l[kind] == "total") << l[kind];
        (l[kind] == "data" ? data : totals)++;
        if (l[kind] == "data") {
          EXPECT_THAT(l[source], ::testing::AnyOf("cards", "published", "none"));
          EXPECT_EQ(totals, 0u);  // totals come after every data row
        } else {
          EXPECT_THAT(l[source], ::testing::AnyOf("sum", "published"));
        }
        if (!l[share].empty()) {
          EXPECT_NE(l[share].find(d == ';' ? ',' : '.'), std::string::npos) << l[share];
          EXPECT_EQ(l[share].find(d == ';' ? '.' : ','), std::string::npos) << l[share];
        }
      }
      EXPECT_EQ(data, r.rows.size());
      EXPECT_EQ(totals, r.totals.size());
      EXPECT_GT(totals, 0u);
      // The reconciliation and the notes are not in the table.
      EXPECT_THAT(csv, ::testing::Not(HasSubstr("pooled_share")));
    }
  }
}

TEST(Csv, ReconciliationAndNotesAreSeparateOutputs) {
  Report r = PublishedReport();
  std::string checks = RenderCsv(r, {.part = CsvPart::kReconciliation});
  auto lines = ParseCsv(checks, ';');
  ASSERT_EQ(lines.size(), r.reconciliation.size() + 1);
  EXPECT_EQ(lines[0], (std::vector<std::string>{"check", "subject", "field", "unit", "published", "computed",
                                                "difference", "printed", "text"}));
  for (const auto& l : lines) EXPECT_EQ(l.size(), lines[0].size());
  EXPECT_THAT(checks, HasSubstr("pooled_share;2017-2019;share;percent;66,5000;66,5615;0,0615;66.50%;"));
  EXPECT_THAT(checks, HasSubstr("total;Totaal;holders;count;416585;416586;-1;;"));
  std::string comma = RenderCsv(r, {.delimiter = ',', .part = CsvPart::kReconciliation});
  EXPECT_THAT(comma, HasSubstr("pooled_share,2017-2019,share,percent,66.5000,66.5615,0.0615,66.50%,"));
  std::string notes = RenderCsv(r, {.part = CsvPart::kNotes});
  EXPECT_EQ(notes.rfind("[1] ", 0), 0u) << notes;
  EXPECT_EQ(std::count(notes.begin(), notes.end(), '\n'), std::ptrdiff_t(r.notes.size()));
  EXPECT_THAT(notes, HasSubstr("[" + std::to_string(r.notes.size()) + "] " + NoteText(r.notes.back())));
  EXPECT_EQ(ParseCsvPart("notes"), CsvPart::kNotes);
  EXPECT_THAT(ParseCsvPart("all").error().message, HasSubstr("--part \"all\""));
  EXPECT_EQ(ParseDelimiter(","), ',');
  EXPECT_EQ(ParseDelimiter("semicolon"), ';');
  EXPECT_THAT(ParseDelimiter("\t").error().message, HasSubstr("--delimiter"));
}

TEST(Csv, ImportedTextCannotStartAFormulaAndBadUtf8DoesNotBreakJson) {
  std::vector<CountsRow> cards{SyntheticCell("2026", "=HYPERLINK(\"x\")", 1, 0),
                               SyntheticCell("2026", std::string("Li\xE8ge"), 1, 1)};  // Latin-1, not UTF-8
  Report r = Build(cards, {}, {.by = Dimension::kNetwork});
  std::string csv = RenderCsv(r);
  EXPECT_THAT(csv, HasSubstr(";\"'=HYPERLINK(\"\"x\"\")\";"));
  // With ',' as the delimiter, a group name holding a comma is quoted: the table stays rectangular.
  Report comma = Build({SyntheticCell("2026", "Liège, Ōsaka", 1, 0)}, {}, {.by = Dimension::kNetwork});
  EXPECT_THAT(RenderCsv(comma, {.delimiter = ','}), HasSubstr(",\"Liège, Ōsaka\","));
  auto j = nlohmann::json::parse(RenderJson(r));
  EXPECT_EQ(j["rows"][1]["group"], "Li\uFFFDge");
}

}  // namespace
}  // namespace lk::reports
