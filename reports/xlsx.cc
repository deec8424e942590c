// The XLSX workbook through libxlsxwriter: rows, reconciliation and notes on three sheets.
#include <xlsxwriter.h>

#include <algorithm>
#include <system_error>

#include "reports/internal/format.h"
#include "reports/reports.h"

namespace lk::reports {
namespace {

namespace fs = std::filesystem;

// XML needs valid UTF-8: group names come from imported data, so invalid bytes become U+FFFD.
std::string ValidUtf8(const std::string& s) {
  if (IsValidUtf8(s)) return s;
  std::string out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len && i + len <= s.size() && IsValidUtf8(std::string_view(s).substr(i, len))) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\uFFFD";
      ++i;
    }
  }
  return out;
}

const char* SourceNl(const std::string& source) {
  if (source == "cards") return "kaarten";
  if (source == "published") return "gepubliceerd";
  if (source == "sum") return "som";
  return "geen";
}

const char* GroupHeaderNl(Dimension by) {
  switch (by) {
    case Dimension::kProvince:
      return "Provincie";
    case Dimension::kNetwork:
      return "Onderwijsnet";
    case Dimension::kRole:
      return "Functie";
    case Dimension::kLevel:
      return "Onderwijsniveau";
    case Dimension::kNone:
      break;
  }
  return "Groep";
}

// One sheet being written: remembers the first libxlsxwriter error and each column's widest text.
class Sheet {
 public:
  Sheet(lxw_workbook* wb, const char* name, lxw_error& first_error) : error_(first_error) {
    ws_ = workbook_add_worksheet(wb, name);
    if (!ws_ && error_ == LXW_NO_ERROR) error_ = LXW_ERROR_MEMORY_MALLOC_FAILED;
  }
  bool ok() const { return ws_ != nullptr; }

  void Header(const std::vector<std::string>& labels, lxw_format* bold) {
    for (size_t c = 0; c < labels.size(); ++c) Text(0, c, labels[c], bold);
    columns_ = labels.size();
  }
  void Text(size_t row, size_t col, const std::string& text, lxw_format* f = nullptr) {
    if (text.empty()) return;
    std::string t = ValidUtf8(text);
    Check(worksheet_write_string(ws_, lxw_row_t(row), lxw_col_t(col), t.c_str(), f));
    Width(col, DisplayWidth(t));
    last_row_ = std::max(last_row_, row);
  }
  // An absent value stays an empty cell: n/a is never 0.
  void Number(size_t row, size_t col, std::optional<double> v, lxw_format* f, size_t shown_width) {
    last_row_ = std::max(last_row_, row);
    if (!v) return;
    Check(worksheet_write_number(ws_, lxw_row_t(row), lxw_col_t(col), *v, f));
    Width(col, shown_width);
  }
  // Frozen header row, autofilter over the table, column widths from the contents (capped).
  void Finish(size_t max_width) {
    worksheet_freeze_panes(ws_, 1, 0);
    Check(worksheet_autofilter(ws_, 0, 0, lxw_row_t(last_row_), lxw_col_t(columns_ - 1)));
    for (size_t c = 0; c < columns_; ++c)
      Check(worksheet_set_column(ws_, lxw_col_t(c), lxw_col_t(c), double(std::min(widths_[c], max_width) + 3),
                                 nullptr));
  }

 private:
  void Check(lxw_error e) {
    if (e != LXW_NO_ERROR && error_ == LXW_NO_ERROR) error_ = e;
  }
  void Width(size_t col, size_t w) {
    if (widths_.size() <= col) widths_.resize(col + 1, 0);
    widths_[col] = std::max(widths_[col], w);
  }

  lxw_worksheet* ws_ = nullptr;
  lxw_error& error_;
  size_t columns_ = 0, last_row_ = 0;
  std::vector<size_t> widths_;
};

std::optional<double> D(const std::optional<int64_t>& v) {
  return v ? std::optional<double>(double(*v)) : std::nullopt;
}

// Writes the workbook to `path`; libxlsxwriter's own temporary files go to `tmpdir`.
Result<> Write(const Report& r, const fs::path& path, const fs::path& tmpdir, const NoteLanguage& lang) {
  std::string tmp = tmpdir.string();
  lxw_workbook_options options{};
  options.constant_memory = LXW_FALSE;
  options.tmpdir = tmp.data();
  options.use_zip64 = LXW_FALSE;
  lxw_workbook* wb = workbook_new_opt(path.c_str(), &options);
  if (!wb)
    return Fail(Code::kInternal, "xlsx: libxlsxwriter could not start a workbook for " + path.string());
  lxw_error error = LXW_NO_ERROR;

  lxw_format* bold = workbook_add_format(wb);
  format_set_bold(bold);
  format_set_text_wrap(bold);
  format_set_align(bold, LXW_ALIGN_VERTICAL_TOP);
  lxw_format* count = workbook_add_format(wb);
  format_set_num_format(count, "#,##0");
  lxw_format* share = workbook_add_format(wb);
  format_set_num_format(share, "0.00%");
  lxw_format* points = workbook_add_format(wb);
  format_set_num_format(points, "+0.00%;-0.00%;0.00%");
  lxw_format* total_text = workbook_add_format(wb);
  format_set_bold(total_text);
  lxw_format* total_count = workbook_add_format(wb);
  format_set_bold(total_count);
  format_set_num_format(total_count, "#,##0");
  lxw_format* total_share = workbook_add_format(wb);
  format_set_bold(total_share);
  format_set_num_format(total_share, "0.00%");
  lxw_doc_properties props{};
  std::string title = "Adoptierapport lerarenkaart";
  props.title = title.data();
  if (auto e = workbook_set_properties(wb, &props); e != LXW_NO_ERROR) error = e;

  Sheet rows(wb, "Rijen", error);
  Sheet checks(wb, "Afstemming", error);
  Sheet notes(wb, "Noten", error);
  if (rows.ok() && checks.ok() && notes.ok()) {
    rows.Header({"Soort rij", "Bron", r.period == Period::kCalendar ? "Kaartjaar" : "Schooljaar",
                 GroupHeaderNl(r.by), "Gerechtigd", "Abonnement", "Starters", "Bibliotheek", "Digitaal",
                 "Niet uitgesplitst", "Houders", "Aandeel", "Aandeel zoals gepubliceerd", "Enkel digitaal",
                 "Enkel fysiek", "Beide", "Digitaal aandeel", "Noten"},
                bold);
    size_t n = 1;
    auto add = [&](const ReportRow& row, bool total) {
      lxw_format* t = total ? total_text : nullptr;
      lxw_format* c = total ? total_count : count;
      lxw_format* s = total ? total_share : share;
      rows.Text(n, 0, total ? "totaal" : "gegevens", t);
      rows.Text(n, 1, SourceNl(row.source), t);
      rows.Text(n, 2, row.period, t);
      rows.Text(n, 3, row.group.value_or(""), t);
      size_t col = 4;
      for (auto f : {&ReportRow::eligible, &ReportRow::subscription, &ReportRow::starter, &ReportRow::library,
                     &ReportRow::digital, &ReportRow::not_itemised, &ReportRow::holders})
        rows.Number(n, col++, D(row.*f), c, 9);
      rows.Number(n, col++, row.share, s, 7);
      rows.Text(n, col++, row.printed_share.value_or(""), t);
      for (auto f : {&ReportRow::digital_only, &ReportRow::physical_only, &ReportRow::both})
        rows.Number(n, col++, D(row.*f), c, 9);
      rows.Number(n, col++, row.digital_share, s, 7);
      rows.Text(n, col, internal::NoteRefs(row.note_refs), t);
      ++n;
    };
    for (const auto& row : r.rows) add(row, false);
    for (const auto& row : r.totals) add(row, true);
    rows.Finish(30);

    checks.Header({"Controle", "Onderwerp", "Veld", "Eenheid", "Gepubliceerd", "Berekend", "Verschil",
                   "Zoals gedrukt", "Toelichting"},
                  bold);
    n = 1;
    for (const auto& k : r.reconciliation) {
      checks.Text(n, 0, k.kind);
      checks.Text(n, 1, k.subject);
      checks.Text(n, 2, k.field);
      checks.Text(n, 3, k.is_share ? "aandeel" : "aantal");
      checks.Number(n, 4, k.stated, k.is_share ? share : count, 9);
      checks.Number(n, 5, k.computed, k.is_share ? share : count, 9);
      checks.Number(n, 6, k.difference, k.is_share ? points : count, 9);
      checks.Text(n, 7, k.printed);
      checks.Text(n, 8, NoteText(k.note, lang));
      ++n;
    }
    checks.Finish(80);

    notes.Header({"Nr", "Noot"}, bold);
    for (size_t i = 0; i < r.notes.size(); ++i) {
      notes.Number(i + 1, 0, double(i + 1), nullptr, 3);
      notes.Text(i + 1, 1, NoteText(r.notes[i], lang));
    }
    notes.Finish(120);
  }
  lxw_error closed = workbook_close(wb);  // writes the file and frees the workbook
  if (error == LXW_NO_ERROR) error = closed;
  if (error == LXW_ERROR_CREATING_XLSX_FILE || error == LXW_ERROR_CREATING_TMPFILE)
    return Fail(Code::kInvalidArgument, "xlsx: cannot write " + path.string() + ": " + lxw_strerror(error));
  if (error != LXW_NO_ERROR)
    return Fail(Code::kInternal,
                "xlsx: libxlsxwriter failed writing " + path.string() + ": " + lxw_strerror(error));
  return {};
}

// A directory only this process can read, removed when this goes out of scope.
class PrivateDir {
 public:
  PrivateDir() {
    std::error_code ec;
    path_ = fs::temp_directory_path(ec) / ("lk-xlsx-" + RandomBase32(16));
    if (ec || !fs::create_directory(path_, ec) || ec) {
      error_ = "xlsx: cannot create a temporary directory " + path_.string() + ": " + ec.message();
      return;
    }
    fs::permissions(path_, fs::perms::owner_all, ec);
  }
  ~PrivateDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  PrivateDir(const PrivateDir&) = delete;
  PrivateDir& operator=(const PrivateDir&) = delete;
  const fs::path& path() const { return path_; }
  const std::string& error() const { return error_; }

 private:
  fs::path path_;
  std::string error_;
};

}  // namespace

Result<> WriteXlsx(const Report& report, const fs::path& path, const NoteLanguage& notes) {
  PrivateDir tmp;
  if (!tmp.error().empty()) return Fail(Code::kInternal, tmp.error());
  return Write(report, path, tmp.path(), notes);
}

Result<std::string> RenderXlsx(const Report& report, const NoteLanguage& notes) {
  PrivateDir tmp;
  if (!tmp.error().empty()) return Fail(Code::kInternal, tmp.error());
  fs::path file = tmp.path() / "report.xlsx";
  if (auto w = Write(report, file, tmp.path(), notes); !w) return std::unexpected(w.error());
  return ReadFile(file);
}

}  // namespace lk::reports
