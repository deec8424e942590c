#pragma once
// Why an import was refused, as data: each problem is a stable key and the values it speaks of,
// with its place in the file and its English sentence. The CLI prints the error's message; a page
// reads the ImportRefused detail of the same error and says each problem in its own language
// (the console's strings hold "import.KEY" for every key of ImportProblemKeys()). Thread-safe.
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/base.h"

namespace lk::ledger {

// A value named as its sentence's placeholder ({name}): a cell as written, a line, a card year.
using ImportValue = std::pair<std::string, std::string>;

struct ImportProblem {
  int line = 0;             // 1-based physical line (the header is 1); 0: the file as a whole
  int column = 0;           // 1-based field number; 0: the whole row (or file)
  std::string column_name;  // the header's name of `column` (lower-cased), "" when none
  std::string key;          // one of ImportProblemKeys()
  std::vector<ImportValue> values;
  std::string text;  // the English sentence, as the error's message has it
};

// The detail of an import's kInvalidArgument (or kFailedPrecondition) error: nothing was
// imported because of `problems`. `whole_file`: the file cannot be read as this import at all
// (empty, header columns missing, no data rows, no roster yet), one problem says why; otherwise
// the problems are the bad rows, by line.
struct ImportRefused final : ErrorDetail {
  std::string file;  // the source's name, as the message gives it
  bool whole_file = false;
  std::vector<ImportProblem> problems;
};
inline const ImportRefused* ImportRefusedOf(const Error& e) { return DetailOf<ImportRefused>(e); }

// Every key an import problem can have.
std::span<const std::string_view> ImportProblemKeys();
// The English template of `key` ("'{value}' is not yes or no"), "" for an unknown key.
std::string_view ImportProblemEnglish(std::string_view key);
// `tmpl` with each {name} of `values` filled in; other braces stay as written.
std::string FillImportTemplate(std::string_view tmpl, const std::vector<ImportValue>& values);

}  // namespace lk::ledger
