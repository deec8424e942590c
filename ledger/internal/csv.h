#pragma once
// RFC 4180 CSV reading for the imports: comma or semicolon (detected from the header line),
// UTF-8 with or without BOM, quoted fields with "" escapes and embedded line breaks.
#include <string>
#include <string_view>
#include <vector>

namespace lk::ledger::internal {

struct CsvProblem {
  int line = 0;    // 1-based physical line where the record starts (header = 1)
  int column = 0;  // 1-based field number; 0 when the whole record is at fault
  std::string what;
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

}  // namespace lk::ledger::internal
