// Setup for card_year_load.sh: a ledger whose card year Y has N holders with a digital card each,
// all N on the roster of Y + 1, so that `cards refresh --year Y` and `cards renew --year Y+1`
// then walk the same N cards. Prints one JSON line with the setup time.
//   card_year_load DATA_DIR N YEAR [LEDGER_URL]
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "base/base.h"
#include "ledger/ledger.h"

namespace {
int Die(const std::string& what, const lk::Error& e) {
  std::fprintf(stderr, "card_year_load: %s: %s\n", what.c_str(), e.message.c_str());
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: card_year_load DATA_DIR N YEAR [LEDGER_URL]\n");
    return 2;
  }
  const std::filesystem::path data = argv[1];
  const size_t n = std::stoul(argv[2]);
  const int year = std::stoi(argv[3]);
  lk::SystemClock clock;
  lk::ledger::LedgerOptions lo;
  lo.data_dir = data;
  lo.keys_dir = data / "keys";  // the CLI's staff-id key, so that its commands find the same holders
  if (argc > 4) lo.url = argv[4];
  auto t0 = std::chrono::steady_clock::now();
  auto ledger = lk::ledger::OpenLedger(lo, clock);
  if (!ledger) return Die("ledger", ledger.error());
  std::string csv =
      "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n";
  std::vector<std::string> staff;
  staff.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    staff.push_back("S" + std::to_string(i));
    csv +=
        staff.back() + ",Voornaam,Achternaam,teaching,GO,basic,1234" + std::to_string(i % 10) + ",2000,no\n";
  }
  const std::filesystem::path roster = data / "roster.csv";
  if (auto w = lk::WriteFileAtomic(roster, csv); !w) return Die("roster", w.error());
  for (int y : {year, year + 1})
    if (auto r = (*ledger)->imports().ImportRoster(roster, y); !r) return Die("import", r.error());
  auto cards = (*ledger)->cards().IssueDigitalBatch(staff, year);
  if (!cards) return Die("issue", cards.error());
  std::printf("{\"setup_s\":%.1f,\"holders\":%zu,\"year\":%d}\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), cards->size(),
              year);
  return 0;
}
