#pragma once
// Inputs for report tests: the published CSV (copied from ../shared/data so CI needs only the
// repository) parsed into PublishedRow, and synthesised per-card counts.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "reports/reports.h"

namespace lk::reports::testing {

// Parses published-uptake-2017-2019.csv: calendar_year,eligible_staff,sent_to_subscribers,
// sent_to_starters,picked_up_at_library,holders_total,published_share.
inline std::vector<PublishedRow> LoadPublishedCsv() {
  std::filesystem::path path = LK_REPORTS_TESTDATA "/published-uptake-2017-2019.csv";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::vector<PublishedRow> rows;
  std::string line;
  std::getline(in, line);
  if (line.rfind("calendar_year,eligible_staff,", 0) != 0)
    throw std::runtime_error("unexpected header: " + line);
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    if (f.size() != 7) throw std::runtime_error("bad line: " + line);
    PublishedRow p;
    p.label = f[0];
    if (f[0] != "Totaal") p.year = std::stoi(f[0]);
    p.eligible = std::stoll(f[1]);
    p.subscribers = std::stoll(f[2]);
    p.starters = std::stoll(f[3]);
    p.library = std::stoll(f[4]);
    p.holders = std::stoll(f[5]);
    p.printed_share = f[6];
    rows.push_back(p);
  }
  return rows;
}

// A per-card cell whose numbers depend on the year and group, consistent with itself:
// holders = digital_only + physical_only + both, cards >= holders.
inline CountsRow SyntheticCell(const std::string& period, std::optional<std::string> group, int year_index,
                               int group_index, bool school = false) {
  CountsRow c;
  c.period = period;
  c.group = std::move(group);
  int64_t base = 20000 + 1000 * group_index;
  if (!school) c.eligible = base;
  c.holders = base * 6 / 10 + 100 * year_index;
  c.both = 50 * year_index * (group_index + 1);
  c.digital_only = 700 * year_index + 10 * group_index;
  c.physical_only = c.holders - c.both - c.digital_only;
  c.digital = c.digital_only + c.both;
  int64_t physical = c.physical_only + c.both;
  c.subscription = physical / 10;
  c.starter = physical / 12;
  c.library = physical - c.subscription - c.starter;
  return c;
}

}  // namespace lk::reports::testing
