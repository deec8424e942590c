// libFuzzer target: the cards CSV of `google sync --cards` (passgen::ReadCardsCsv) for card year
// 2026. It either succeeds with cards that are all valid Google cards (passgen::ValidateCard) of
// 2026 with distinct serials, one per data record the CSV parser finds; or it fails with
// kInvalidArgument whose message starts with the file's name and, past the header checks, says
// nothing was sent to Google. Reading the same bytes twice gives the same answer. Build with clang
// >= 16 and -DLK_FUZZ=ON (see token_verify_fuzz.cc); otherwise ctest replays
// tests/fuzz/corpus/cards_csv.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "base/csv.h"
#include "passgen/google_wallet.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "cards_csv_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto cards = lk::passgen::ReadCardsCsv(bytes, "fuzz.csv", 2026);
  auto again = lk::passgen::ReadCardsCsv(bytes, "fuzz.csv", 2026);
  Check(cards.has_value() == again.has_value(), "the same bytes read twice disagree");
  if (!cards) {
    Check(cards.error().code == lk::Code::kInvalidArgument, "an error other than kInvalidArgument");
    Check(cards.error().message.starts_with("fuzz.csv:"), "an error that does not start with the file");
    Check(cards.error().message == again.error().message, "two different errors for the same bytes");
    Check(cards.error().message.find("nothing was sent to Google") != std::string::npos,
          "an error that does not say nothing was sent");
    return 0;
  }
  std::vector<lk::CsvProblem> problems;
  lk::CsvTable t = lk::ParseCsv(bytes, problems);
  Check(problems.empty(), "accepted a file the CSV parser found faults in");
  Check(cards->size() == t.records.size(), "not one card per data record");
  std::set<std::string> serials;
  for (const lk::Card& c : *cards) {
    Check(lk::passgen::ValidateCard(c).has_value(), "accepted a card Google objects refuse");
    Check(c.year == 2026, "accepted a card of another year");
    Check(serials.insert(c.serial).second, "accepted a serial twice");
  }
  return 0;
}
