#pragma once
// The SQLite ledger the report and console benchmarks read: ten card years (2017-2026) of about
// 200,000 cards each, built once per process in a temporary directory that is removed after.
// $LK_LEDGER_BENCH_SCALE (0-1, default 1) shrinks it, for smoke runs; $LK_BENCH_LEDGER_URL puts
// it in a PostgreSQL database instead of SQLite.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "base/base.h"
#include "ledger/ledger.h"

namespace lk::bench {

inline int Scaled(int n) {
  const char* s = std::getenv("LK_LEDGER_BENCH_SCALE");
  double f = s && *s ? std::atof(s) : 1.0;
  if (!(f > 0) || f > 1) f = 1.0;
  return std::max(1, static_cast<int>(n * f));
}

inline std::string StaffId(int year, int i) {
  return "Y" + std::to_string(year % 100) + "-" + std::to_string(i);
}

// A ledger like the ledger benchmark's: per card year 210,000 eligible and 200,000 cards (100k
// library, 20k subscription, 15k starter, 65k digital of which 10k also hold a library card).
class TenYearLedger {
 public:
  TenYearLedger() {
    namespace fs = std::filesystem;
    dir_ = fs::temp_directory_path() / ("lk-report-bench-" + HexEncode(RandomBytes(6)));
    fs::create_directories(dir_);
    options_.data_dir = dir_;
    // $LK_BENCH_LEDGER_URL: build it in that PostgreSQL database instead (an empty one).
    if (const char* url = std::getenv("LK_BENCH_LEDGER_URL"); url && *url) options_.url = url;
    auto l = ledger::OpenLedger(options_, clock_);
    if (!l) {
      error_ = l.error().message;
      return;
    }
    std::mt19937 rng(20261127);
    static const char* kRoles[] = {"teaching", "teaching", "teaching", "support", "administrative"};
    static const char* kNets[] = {"GO", "OGO", "VGO"};
    static const char* kLevels[] = {"basic", "secondary", "higher", "adult", "part_time_arts", "other"};
    std::uniform_int_distribution<int> pc(1000, 9999), school(10000, 99999), pick(0, 99);
    auto write = [&](const std::string& text) {
      std::ofstream(dir_ / "in.csv", std::ios::binary) << text;
      return dir_ / "in.csv";
    };
    for (int year = 2017; year <= 2026 && error_.empty(); ++year) {
      std::string roster =
          "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n";
      for (int i = 0; i < Scaled(210000); ++i)
        roster += StaffId(year, i) + ",F,L," + kRoles[pick(rng) % 5] + "," + kNets[pick(rng) % 3] + "," +
                  kLevels[pick(rng) % 6] + "," + std::to_string(school(rng)) + "," + std::to_string(pc(rng)) +
                  "," + (pick(rng) < 8 ? "yes" : "no") + "\n";
      if (auto r = (*l)->imports().ImportRoster(write(roster), year); !r) error_ = r.error().message;
      struct Part {
        ledger::Channel ch;
        int from, to;
      };
      for (Part p : {Part{ledger::Channel::kLibrary, 0, Scaled(100000)},
                     Part{ledger::Channel::kSubscription, Scaled(100000), Scaled(120000)},
                     Part{ledger::Channel::kStarter, Scaled(120000), Scaled(135000)}}) {
        std::string f = "staff_id,date\n";
        for (int i = p.from; i < p.to; ++i) f += StaffId(year, i) + "," + std::to_string(year) + "-03-01\n";
        if (auto r = (*l)->imports().ImportChannel(p.ch, write(f), year); !r && error_.empty())
          error_ = r.error().message;
      }
      std::vector<std::string> ids;
      for (int i = Scaled(90000); i < Scaled(190000); ++i)
        if (i < Scaled(100000) || i >= Scaled(135000)) ids.push_back(StaffId(year, i));
      if (auto r = (*l)->cards().IssueDigitalBatch(ids, year); !r && error_.empty())
        error_ = r.error().message;
    }
  }
  ~TenYearLedger() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& error() const { return error_; }
  const ledger::LedgerOptions& options() const { return options_; }
  const Clock& clock() const { return clock_; }

 private:
  FakeClock clock_{std::chrono::sys_days(std::chrono::year(2026) / 3 / 2)};
  std::filesystem::path dir_;
  ledger::LedgerOptions options_;
  std::string error_;
};

}  // namespace lk::bench
