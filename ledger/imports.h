#pragma once
// Roster, channel, published-figure and school-list imports from CSV (comma or semicolon, UTF-8 with or
// without BOM, header row; see docs/ledger.md). Thread-safe: writes are serialised with the
// rest of the ledger's writes; several processes may import into one ledger.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "base/base.h"
#include "ledger/channel.h"
#include "ledger/import_problem.h"

namespace lk::ledger {
namespace internal {
struct Core;
}

// A CSV to import: its bytes, and the name error messages and the audit entry give it
// ("library.csv" for an upload, the path as given for a file).
struct CsvSource {
  std::string name;
  std::string bytes;
};
// Reads `file` once; the source is named by the path as given. kInvalidArgument if unreadable.
Result<CsvSource> ReadCsvSource(const std::filesystem::path& file);

// Called during long work with (rows done, rows total); may be empty.
using Progress = std::function<void(uint64_t done, uint64_t total)>;

struct ImportSummary {
  uint64_t rows = 0;     // data rows read
  uint64_t added = 0;    // new records (roster entries, cards or published rows)
  uint64_t present = 0;  // rows that were already in the ledger (re-import)
};

// Dutch province name of a Belgian postcode (Brussels included); kInvalidArgument outside 1000-9999.
Result<std::string> ProvinceOfPostcode(int postcode);

// All or nothing: on any bad row nothing is imported and the kInvalidArgument message lists every
// bad row as "NAME:LINE:COLUMN (column name): what"; the error's ImportRefused detail
// (ImportRefusedOf, import_problem.h) has them as data, as it has a file refused as a whole
// (also a channel file before its roster: kFailedPrecondition). Re-importing adds nothing.
class Imports {
 public:
  explicit Imports(internal::Core& core) : core_(core) {}  // `core` must outlive this

  Result<ImportSummary> ImportRoster(const CsvSource& csv, int year, const Progress& progress = {});
  // REQUIRES: channel != kDigital. Every staff member must be on the roster of `year`.
  Result<ImportSummary> ImportChannel(Channel channel, const CsvSource& csv, int year,
                                      const Progress& progress = {});
  Result<ImportSummary> ImportPublished(const CsvSource& csv);
  // The official list of schools: columns school_number (1-12 digits), name (1-200 bytes of UTF-8),
  // postcode (Belgian, 4 digits), municipality. A school already listed with other values is
  // updated (counted as added); one listed alike is present. Audited; not tied to a card year.
  Result<ImportSummary> ImportSchools(const CsvSource& csv);

  // The same, reading a file once first (its path names it in errors).
  Result<ImportSummary> ImportRoster(const std::filesystem::path& csv, int year,
                                     const Progress& progress = {});
  Result<ImportSummary> ImportChannel(Channel channel, const std::filesystem::path& csv, int year,
                                      const Progress& progress = {});
  Result<ImportSummary> ImportPublished(const std::filesystem::path& csv);
  Result<ImportSummary> ImportSchools(const std::filesystem::path& csv);

 private:
  internal::Core& core_;
};

}  // namespace lk::ledger
