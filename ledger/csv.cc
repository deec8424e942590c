#include <algorithm>
#include <cstdint>

#include "ledger/internal/csv.h"

namespace lk::ledger::internal {
namespace {

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) n = 1, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) n = 2, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) n = 3, cp = c & 0x07;
    else return false;
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

char DetectDelimiter(std::string_view text) {
  size_t commas = 0, semis = 0;
  bool quoted = false;
  for (char c : text) {
    if (c == '"') quoted = !quoted;
    else if (!quoted && (c == '\n' || c == '\r')) break;
    else if (!quoted && c == ',') ++commas;
    else if (!quoted && c == ';') ++semis;
  }
  return semis > commas ? ';' : ',';
}

}  // namespace

CsvTable ParseCsv(std::string_view text, std::vector<CsvProblem>& problems) {
  CsvTable t;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  t.delimiter = DetectDelimiter(text);
  const char d = t.delimiter;
  size_t i = 0;
  int line = 1;
  bool have_header = false;
  while (i < text.size()) {
    CsvRecord rec;
    rec.line = line;
    bool bad = false;
    std::string field;
    bool end_of_record = false;
    while (!end_of_record) {
      field.clear();
      if (i < text.size() && text[i] == '"') {
        ++i;
        bool closed = false;
        while (i < text.size()) {
          char c = text[i++];
          if (c == '"') {
            if (i < text.size() && text[i] == '"') { field += '"'; ++i; continue; }
            closed = true;
            break;
          }
          if (c == '\n') ++line;
          field += c;
        }
        if (!closed) {
          problems.push_back({rec.line, static_cast<int>(rec.fields.size() + 1), "quoted field is never closed"});
          return t;
        }
        if (i < text.size() && text[i] != d && text[i] != '\n' && text[i] != '\r') {
          if (!bad)
            problems.push_back({rec.line, static_cast<int>(rec.fields.size() + 1),
                                "unexpected character after a closing quote"});
          bad = true;
          while (i < text.size() && text[i] != d && text[i] != '\n' && text[i] != '\r') ++i;
        }
      } else {
        while (i < text.size() && text[i] != d && text[i] != '\n' && text[i] != '\r') field += text[i++];
      }
      if (!ValidUtf8(field) && !bad) {
        problems.push_back({rec.line, static_cast<int>(rec.fields.size() + 1), "not valid UTF-8"});
        bad = true;
      }
      rec.fields.push_back(field);
      if (i >= text.size()) {
        end_of_record = true;
      } else if (text[i] == d) {
        ++i;
      } else {  // line break: \n, \r\n or a lone \r
        if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
        ++i;
        ++line;
        end_of_record = true;
      }
    }
    if (rec.fields.size() == 1 && Trim(rec.fields[0]).empty()) continue;  // blank line
    if (!have_header) {
      have_header = true;
      for (auto& f : rec.fields) {
        std::string h = Trim(f);
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

}  // namespace lk::ledger::internal
