#include "base/csv.h"

#include <algorithm>
#include <cstdint>

#include "base/base.h"

namespace lk {
namespace {

// Reads the record that starts at text[i], split at `d`, into `rec`; moves `i` past it and its
// line break and counts in `line` the line breaks read. A fault is appended to `problems` (one per
// record) and sets `bad`. Returns false when a quoted field is never closed: the file ends there.
bool ReadRecord(std::string_view text, size_t& i, int& line, char d, CsvRecord& rec, bool& bad,
                std::vector<CsvProblem>& problems) {
  std::string field;
  while (true) {
    field.clear();
    if (i < text.size() && text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        char c = text[i++];
        if (c == '"') {
          if (i < text.size() && text[i] == '"') {
            field += '"';
            ++i;
            continue;
          }
          closed = true;
          break;
        }
        if (c == '\n') ++line;
        field += c;
      }
      if (!closed) {
        problems.push_back({rec.line, static_cast<int>(rec.fields.size() + 1), "quoted field is never closed",
                            "unclosed_quote"});
        return false;
      }
      if (i < text.size() && text[i] != d && text[i] != '\n' && text[i] != '\r') {
        if (!bad)
          problems.push_back({rec.line, static_cast<int>(rec.fields.size() + 1),
                              "unexpected character after a closing quote", "after_quote"});
        bad = true;
        while (i < text.size() && text[i] != d && text[i] != '\n' && text[i] != '\r') ++i;
      }
    } else {
      while (i < text.size() && text[i] != d && text[i] != '\n' && text[i] != '\r') field += text[i++];
    }
    if (!IsValidUtf8(field) && !bad) {
      problems.push_back({rec.line, static_cast<int>(rec.fields.size() + 1), "not valid UTF-8", "not_utf8"});
      bad = true;
    }
    rec.fields.push_back(field);
    if (i >= text.size()) return true;
    if (text[i] == d) {
      ++i;
    } else {  // line break: \n, \r\n or a lone \r
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++i;
      ++line;
      return true;
    }
  }
}

bool IsBlank(const CsvRecord& rec) { return rec.fields.size() == 1 && Trim(rec.fields[0]).empty(); }

// ',' or ';': whichever stands more often between the fields of the header line (the first line
// with more than spaces and tabs), ',' on a tie. Quotes are read as the parser reads them: '"'
// opens a quoted field only at the start of a field (elsewhere it is a plain character), and what
// a quoted field holds does not count.
char DetectDelimiter(std::string_view text) {
  size_t i = 0;
  for (size_t j = 0; j < text.size(); ++j) {  // skip blank lines
    if (text[j] == '\n' || text[j] == '\r')
      i = j + 1;
    else if (text[j] != ' ' && text[j] != '\t')
      break;
  }
  size_t commas = 0, semis = 0;
  bool field_start = true;
  while (i < text.size() && text[i] != '\n' && text[i] != '\r') {
    const char c = text[i++];
    if (field_start && c == '"') {
      while (i < text.size()) {  // to the closing quote; "" is a quote
        if (text[i++] != '"') continue;
        if (i < text.size() && text[i] == '"') {
          ++i;
          continue;
        }
        break;
      }
      field_start = false;
    } else if (c == ',' || c == ';') {
      ++(c == ',' ? commas : semis);
      field_start = true;
    } else {
      field_start = false;
    }
  }
  return semis > commas ? ';' : ',';
}

}  // namespace

CsvTable ParseCsv(std::string_view text, std::vector<CsvProblem>& problems) {
  CsvTable t;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  t.delimiter = DetectDelimiter(text);
  size_t i = 0;
  int line = 1;
  bool have_header = false;
  while (i < text.size()) {
    CsvRecord rec;
    rec.line = line;
    bool bad = false;
    const bool more = ReadRecord(text, i, line, t.delimiter, rec, bad, problems);
    if (!more) return t;
    if (IsBlank(rec)) continue;
    if (!have_header) {
      have_header = true;
      for (auto& f : rec.fields) {
        std::string h(Trim(f));
        std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::tolower(c); });
        t.header.push_back(h);
      }
      continue;
    }
    if (!bad) t.records.push_back(std::move(rec));
  }
  return t;
}

int ColumnIndex(const CsvTable& t, std::string_view name) {
  for (size_t i = 0; i < t.header.size(); ++i)
    if (t.header[i] == name) return static_cast<int>(i);
  return -1;
}

Result<std::vector<std::string>> ParseCsvLine(std::string_view line, char delimiter) {
  if (line.find_first_of("\r\n") != std::string_view::npos)
    return Fail(Code::kInvalidArgument, "a record must fit on one line");
  std::vector<CsvProblem> problems;
  CsvRecord rec;
  rec.line = 1;
  size_t i = 0;
  int lines = 1;
  bool bad = false;
  const bool closed = ReadRecord(line, i, lines, delimiter, rec, bad, problems);
  if (!problems.empty()) {
    const CsvProblem& p = problems.front();
    return Fail(Code::kInvalidArgument, "field " + std::to_string(p.column) + ": " + p.what +
                                            (closed ? "" : " (fields cannot span lines)"));
  }
  return std::move(rec.fields);
}

}  // namespace lk
