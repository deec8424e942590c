// libFuzzer target: the ledger's CSV imports. The first input byte picks what reads the rest:
//   'c' the CSV parser alone (base/csv.h): a file read without a problem, written out
//       again with every field quoted, reads back to the same delimiter, header and records
//       (with a header of one field, where the delimiter cannot show, to the same header);
//   'r' Ledger::ImportRoster of card year 2026, 'p' Ledger::ImportPublished, anything else
//       Ledger::ImportChannel (subscriptions of 2026), each on one real SQLite ledger (in
//       $LK_FUZZ_TMPDIR, else /dev/shm when there is one) whose 2026 roster holds T1..T4.
// An import either succeeds, reading exactly the records the parser finds (all well-formed), and
// importing the same file again adds nothing; or it fails with kInvalidArgument naming the file
// first, with its problems as data (known keys, each sentence in the message). Build with clang
// >= 16 and -DLK_FUZZ=ON (see token_verify_fuzz.cc); otherwise ctest replays
// tests/fuzz/corpus/csv_import.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "base/csv.h"
#include "ledger/ledger.h"

namespace {
using namespace lk;
namespace fs = std::filesystem;
using lk::CsvProblem;
using lk::CsvTable;
using lk::ParseCsv;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "csv_import_fuzz: %s\n", what);
    std::abort();
  }
}

// `t` as CSV again: every field quoted ("" for a quote), the same delimiter, CRLF line ends.
std::string WriteCsv(const CsvTable& t) {
  std::string out;
  auto line = [&](const std::vector<std::string>& fields) {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) out += t.delimiter;
      out += '"';
      for (char c : fields[i]) out += c == '"' ? std::string("\"\"") : std::string(1, c);
      out += '"';
    }
    out += "\r\n";
  };
  if (!t.header.empty()) line(t.header);
  for (const auto& r : t.records) line(r.fields);
  return out;
}

void CheckParser(std::string_view text) {
  std::vector<CsvProblem> problems;
  CsvTable t = ParseCsv(text, problems);
  int last_line = 0;
  for (const auto& p : problems)
    Check(p.line >= 1 && p.column >= 0 && !p.what.empty(), "a problem without a place");
  for (const auto& r : t.records) {
    Check(r.line > last_line && r.line >= 2 && !r.fields.empty(), "records out of line order");
    last_line = r.line;
  }
  if (!problems.empty()) return;
  // The delimiter shows in a header of two fields or more (the imports refuse the rest): with one
  // field, only the header itself must read back; the records could split at the other delimiter.
  if (t.header.size() < 2) {
    CsvTable header_only;
    header_only.header = t.header;
    std::vector<CsvProblem> header_problems;
    CsvTable again = ParseCsv(WriteCsv(header_only), header_problems);
    Check(header_problems.empty(), "a clean header written out does not read back cleanly");
    Check(again.header == t.header, "the header does not read back the same");
    return;
  }
  std::vector<CsvProblem> again_problems;
  CsvTable again = ParseCsv(WriteCsv(t), again_problems);
  Check(again_problems.empty(), "a clean table written out does not read back cleanly");
  Check(again.header == t.header, "the header does not read back the same");
  Check(again.delimiter == t.delimiter, "the delimiter does not read back the same");
  Check(again.records.size() == t.records.size(), "the records do not read back the same");
  for (size_t i = 0; i < t.records.size(); ++i)
    Check(again.records[i].fields == t.records[i].fields, "a record does not read back the same");
}

struct Target {
  Target() {
    // $LK_FUZZ_TMPDIR (run_fuzzers.sh removes it afterwards: libFuzzer's timed end skips this
    // destructor), else /dev/shm when there is one.
    std::error_code ec;
    const char* scratch = std::getenv("LK_FUZZ_TMPDIR");
    fs::path base = scratch                            ? fs::path(scratch)
                    : fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm")
                                                       : fs::temp_directory_path();
    dir = base / ("lk-fuzz-csv-" + HexEncode(RandomBytes(6)));
    fs::create_directories(dir);
    file = dir / "import.csv";
    ledger::LedgerOptions options;
    options.url = (dir / "ledger.sqlite").string();
    options.data_dir = dir;
    auto opened = ledger::OpenLedger(options, clock);
    Check(opened.has_value(), "cannot open the ledger");
    db = std::move(*opened);
    Write(
        "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n"
        "T1,An,Peeters,teaching,GO,basic,12345,2000,no\n"
        "T2,Bert,Janssens,support,OGO,secondary,23456,9000,yes\n"
        "T3,Cas,Maes,administrative,VGO,higher,34567,1000,no\n"
        "T4,Dina,Claes,teaching,VGO,adult,45678,3500,no\n");
    Check(db->imports().ImportRoster(file, 2026).has_value(), "cannot import the seed roster");
  }
  ~Target() {
    db.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void Write(std::string_view bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  // One import of `bytes` (as `import`), checked as the header comment says.
  template <typename Import>
  void CheckImport(std::string_view bytes, Import import) {
    Write(bytes);
    Result<ledger::ImportSummary> first = import();
    if (!first) {
      Check(first.error().code == Code::kInvalidArgument,
            "an import refused with a code other than kInvalidArgument");
      Check(first.error().message.starts_with(file.string()),
            "an import error that does not name the file first");
      const ledger::ImportRefused* refused = ledger::ImportRefusedOf(first.error());
      Check(refused != nullptr && !refused->problems.empty(),
            "an import refused without its problems as data");
      for (const ledger::ImportProblem& p : refused->problems) {
        Check(!ledger::ImportProblemEnglish(p.key).empty(), "an import problem with an unknown key");
        Check(first.error().message.find(p.text) != std::string::npos,
              "an import problem whose sentence is not in the message");
      }
      return;
    }
    std::vector<CsvProblem> problems;
    CsvTable t = ParseCsv(bytes, problems);
    Check(problems.empty(), "an import accepted a file the CSV parser found problems in");
    for (const auto& r : t.records)
      Check(r.fields.size() == t.header.size(), "an import accepted a ragged row");
    Check(first->rows == t.records.size(), "an import read another number of rows than the parser");
    Check(first->added + first->present == first->rows, "an import's added and present do not add up");
    Result<ledger::ImportSummary> second = import();
    Check(second.has_value(), "importing an accepted file again fails");
    Check(second->added == 0 && second->present == first->rows,
          "importing an accepted file again adds something");
  }

  fs::path dir;
  fs::path file;
  FakeClock clock{Time(std::chrono::seconds(1772359200))};  // 2026-03-01
  std::unique_ptr<ledger::Ledger> db;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Target t;
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0]) {
    case 'c':
      CheckParser(rest);
      break;
    case 'r':
      t.CheckImport(rest, [&] { return t.db->imports().ImportRoster(t.file, 2026); });
      break;
    case 'p':
      t.CheckImport(rest, [&] { return t.db->imports().ImportPublished(t.file); });
      break;
    default:
      t.CheckImport(
          rest, [&] { return t.db->imports().ImportChannel(ledger::Channel::kSubscription, t.file, 2026); });
      break;
  }
  return 0;
}
