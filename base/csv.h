#pragma once
// RFC 4180 CSV reading, the one parser of the project (the ledger's imports, the pass batch
// command): comma or semicolon (detected from the header line), UTF-8 with or without BOM, quoted
// fields with "" escapes and embedded line breaks. Pure functions: thread-safe.
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace lk {

struct CsvProblem {
  int line = 0;          // 1-based physical line where the record starts (header = 1)
  int column = 0;        // 1-based field number; 0 when the whole record is at fault
  std::string what;      // in English
  std::string key = {};  // stable: "unclosed_quote", "after_quote" or "not_utf8" (no values)
};

struct CsvRecord {
  int line = 0;
  std::vector<std::string> fields;
};

struct CsvTable {
  char delimiter = ',';
  std::vector<std::string> header;  // names trimmed and lower-cased
  std::vector<CsvRecord> records;   // data records; blank lines are skipped
};

// Parses `text`; structural faults (unterminated quote, stray quote, invalid UTF-8) are
// appended to `problems` and the affected records left out.
CsvTable ParseCsv(std::string_view text, std::vector<CsvProblem>& problems);

// Index of `name` in the header, or -1.
int ColumnIndex(const CsvTable& t, std::string_view name);

// One record that must fit on one line (a line of a file read line by line), split at
// `delimiter` with the same quoting rules as ParseCsv; kInvalidArgument naming the fault and
// the field (1-based) when a quoted field is not closed on the line, text follows a closing
// quote, or a field is not valid UTF-8.
Result<std::vector<std::string>> ParseCsvLine(std::string_view line, char delimiter = ',');

}  // namespace lk
