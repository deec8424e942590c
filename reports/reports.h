#pragma once
// Adoption reports: cards per period, channel and group, the share of eligible staff holding a
// card, the digital picture, and a reconciliation of the published figures, rendered as a
// terminal table, one rectangular CSV table (plus its reconciliation and notes apart), JSON, a
// self-contained HTML page with SVG charts, or an XLSX workbook.
// Everything here is a plain function of its inputs (no clock, no state; the only I/O is reading
// the ledger in the overload that takes one, and the XLSX writer's private temporary directory):
// thread-safe.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "ledger/ledger.h"

namespace lk::reports {

// The ledger's own types: a report is built from what Ledger::Counts and Ledger::Published return.
using Period = ledger::Period;  // calendar: "2026"; school: "2025-2026" (1 Sep - 31 Aug)
using Dimension = ledger::Dimension;
using CountsRow = ledger::CountsRow;        // one (period, group) cell from per-card records
using PublishedRow = ledger::PublishedRow;  // figures imported from a published aggregate file
enum class Format { kTable, kCsv, kJson, kHtml, kXlsx };
// The three CSV outputs: the rectangular table of rows and totals, the reconciliation, the notes.
enum class CsvPart { kRows, kReconciliation, kNotes };

// How CSV is written. ';' (default) goes with a decimal comma (a Belgian Excel or LibreOffice
// reads the numbers as numbers), ',' with a decimal point.
struct CsvOptions {
  char delimiter = ';';           // ';' or ','
  CsvPart part = CsvPart::kRows;  // default: the rows
};

struct ReportOptions {
  Period period = Period::kCalendar;
  Dimension by = Dimension::kNone;
  int first_year = 0, last_year = 0;  // inclusive; 0/0 = every year in the inputs. School view:
                                      // the first calendar year of the school year (2017 = 2017-2018)
};

// One line of the report. A null field means "the data cannot answer"; `note_refs` index
// Report::notes and say why. Sources never mix within a row.
struct ReportRow {
  std::string period;  // "2017", "2017-2018"; totals: the span summed ("2017-2019") or "Totaal"
  std::optional<std::string> group;
  std::string source;  // "cards" | "published" | "none" | "sum" (of the rows above)
  std::optional<int64_t> eligible, subscription, starter, library, digital, not_itemised, holders;
  std::optional<double> share;  // holders / eligible, a fraction of 1
  std::optional<int64_t> digital_only, physical_only, both;
  std::optional<double> digital_share;       // (digital_only + both) / holders
  std::optional<std::string> printed_share;  // published rows: the share as printed
  std::vector<int> note_refs;
};

// One value a note speaks of, named as its template's placeholder ({name}). kText is written as
// is (a period label, a list of years, a share as printed); kCount and kShare in the language's
// number style; kTerm is a word the language names (`text` its key: "field.holders",
// "dimension.province", "group.Antwerpen", "total"; `other` when the language has none); kSpan
// two periods joined by the language's "span" term ({first} to {last}; `other` the last).
struct NoteArg {
  enum class Kind { kText, kCount, kShare, kTerm, kSpan };
  std::string name;
  Kind kind = Kind::kText;
  std::string text, other;
  int64_t count = 0;
  double share = 0;  // a fraction of 1
  friend bool operator==(const NoteArg&, const NoteArg&) = default;
};

// A note as data: its kind (`key`, one of NoteKeys()) and the values it speaks of. NoteText
// writes it in a language, so a page can show the notes in its own.
struct Note {
  std::string key;
  std::vector<NoteArg> args;
  friend bool operator==(const Note&, const Note&) = default;
};

// How notes are written: `text(key)` gives the template of a note key or a term ("" when the
// language has none: the English template, or the term's `other`, is used instead); `count` and
// `share` write numbers.
struct NoteLanguage {
  std::function<std::string_view(std::string_view key)> text;
  std::function<std::string(int64_t)> count;
  std::function<std::string(double)> share;
};
// The report's own English ("138 365", "67.65%"): the CLI's, and the renderers' default.
const NoteLanguage& EnglishNotes();
// Every note key the builder makes, and the terms its notes use ("field.eligible", "span", ...).
std::span<const std::string_view> NoteKeys();
std::span<const std::string_view> NoteTerms();
// The note as one sentence in `language`.
std::string NoteText(const Note& note, const NoteLanguage& language = EnglishNotes());

// One checked number about the published figures (or cards against them).
struct Check {
  std::string kind;       // "not_itemised" | "share" | "total" | "pooled_share" | "cards_vs_published"
  std::string subject;    // "2017", "Totaal", "2017-2019"
  std::string field;      // "holders", "share", "eligible", ...
  bool is_share = false;  // values below are fractions of 1, else counts
  double stated = 0;      // what the publication says (printed value, parsed)
  double computed = 0;    // what the inputs give
  double difference = 0;  // stated - computed (counts) or computed - stated (shares)
  std::string printed;    // the stated value as printed, when there is one
  Note note;              // what it says, as a note (also in Report::notes)
};

struct Report {
  Period period = Period::kCalendar;
  Dimension by = Dimension::kNone;
  int first_year = 0, last_year = 0;  // the range covered (resolved from the data if 0/0)
  std::vector<ReportRow> rows;        // by period, then group (provinces in a fixed order)
  std::vector<ReportRow> totals;      // "sum" over rows with values (per group, then "all"); the
                                      // published "Totaal" when all its years are in range (no --by)
  std::vector<Note> notes;            // deduplicated by their English text; rows refer to them by index
  std::vector<Check> reconciliation;
};

// Builds the adoption report. Merging rule: per-card records win. A (period) with per-card rows
// is reported from them (source "cards"); if published totals also exist for that year, they are
// not mixed in but compared field by field in `reconciliation` ("cards_vs_published") and a note.
// Years known only as published totals are reported from them (source "published") in the
// calendar view without groups; in the school view or by a dimension they yield null cells.
// Fails with kInvalidArgument on inputs that cannot be read (a period label not of the view, a
// negative count, a duplicated cell or published year, an unreadable printed share, a bad range).
Result<Report> BuildAdoptionReport(const std::vector<CountsRow>& counts,
                                   const std::vector<PublishedRow>& published, const ReportOptions& options);
// The same from the ledger's counts for `options` and its published figures.
Result<Report> BuildAdoptionReport(const ledger::Ledger& ledger, const ReportOptions& options);

// Renderers; each returns the whole document. Table: UTF-8, aligned by display width, LF.
// CSV (docs/reports.md): UTF-8 with BOM, CRLF; the rows part is one rectangular table (one
// header, `row_kind` data|total); the reconciliation part a second table; the notes part plain
// text "[n] sentence" lines (no BOM). JSON: see docs/reports.md.
// HTML: one self-contained page (inline CSS and SVG, no scripts, no external resources).
// Table, JSON and HTML write notes in English; CSV and XLSX in `notes` (default English).
std::string RenderTable(const Report& report);
std::string RenderCsv(const Report& report, const CsvOptions& options = {},
                      const NoteLanguage& notes = EnglishNotes());
std::string RenderJson(const Report& report);
std::string RenderHtml(const Report& report);
// The text formats. kXlsx yields RenderXlsx's bytes, or "" if it failed: use Export for the error.
std::string Render(const Report& report, Format format);

// The XLSX workbook (libxlsxwriter): sheets Rijen, Afstemming, Noten with Dutch headers, numbers
// as numbers (counts #,##0, shares 0.00%), frozen header row, autofilter. WriteXlsx writes `path`
// (replacing it); RenderXlsx returns the bytes, written in and read back from a private temporary
// directory that is removed. Errors (kInternal, or kInvalidArgument for an unwritable path) name
// the libxlsxwriter failure.
Result<> WriteXlsx(const Report& report, const std::filesystem::path& path,
                   const NoteLanguage& notes = EnglishNotes());
Result<std::string> RenderXlsx(const Report& report, const NoteLanguage& notes = EnglishNotes());
// Any format as bytes: text formats as Render, kCsv as RenderCsv(report, csv, notes), kXlsx as
// RenderXlsx(report, notes).
Result<std::string> Export(const Report& report, Format format, const CsvOptions& csv = {},
                           const NoteLanguage& notes = EnglishNotes());

// Command-line helpers; errors are kInvalidArgument naming the flag and the value.
Result<std::pair<int, int>> ParseYears(std::string_view text);  // "2017-2026" or "2019"
Result<Period> ParsePeriod(std::string_view text);              // calendar | school
Result<Dimension> ParseDimension(std::string_view text);        // none | province | network | role | level
Result<Format> ParseFormat(std::string_view text);              // table | csv | json | html | xlsx
Result<CsvPart> ParseCsvPart(std::string_view text);            // rows | reconciliation | notes
Result<char> ParseDelimiter(std::string_view text);             // ";" | "," (or semicolon | comma)
std::string_view PeriodName(Period p);
std::string_view DimensionName(Dimension d);  // "none" for kNone
// Parses a share as printed ("67,50%", "67.5 %", "67%") into a fraction of 1 (0.675).
Result<double> ParsePrintedShare(std::string_view text);
// Display width of UTF-8 text in a terminal (combining marks 0, East Asian wide 2).
size_t DisplayWidth(std::string_view utf8);

}  // namespace lk::reports
