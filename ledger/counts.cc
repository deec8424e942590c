// Adoption counts and published figures (counts.h), read from the aggregates.
#include "ledger/counts.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "ledger/internal/aggregates.h"
#include "ledger/internal/core.h"
#include "ledger/internal/schema.h"

namespace lk::ledger {
using namespace internal;

namespace {

int DimIndex(Dimension by) {
  switch (by) {
    case Dimension::kNone:
      return 0;
    case Dimension::kProvince:
      return 1;
    case Dimension::kNetwork:
      return 2;
    case Dimension::kRole:
      return 3;
    case Dimension::kLevel:
      return 4;
  }
  return 0;
}

// The roster column a dimension groups by ("''" for none), prefixed by `table`.
std::string GroupColumn(Dimension by, const std::string& table = "") {
  switch (by) {
    case Dimension::kNone:
      break;
    case Dimension::kProvince:
      return table + "province";
    case Dimension::kNetwork:
      return table + "network";
    case Dimension::kRole:
      return table + "role";
    case Dimension::kLevel:
      return table + "level";
  }
  return "''";
}

// Adds n holders whose active cards in the cell are exactly the channels of `mask` (not 0).
void AddHolders(CountsRow& c, int mask, int64_t n) {
  c.holders += n;
  if (mask == 1)
    c.digital_only += n;
  else if (mask & 1)
    c.both += n;
  else
    c.physical_only += n;
}

// The rows of the cells, in (period, group) order.
std::vector<CountsRow> InOrder(std::map<std::pair<int, std::string>, CountsRow> cells) {
  std::vector<CountsRow> out;
  out.reserve(cells.size());
  for (auto& [k, v] : cells) out.push_back(std::move(v));
  return out;
}

// Query() of the calendar view, from the aggregate.
Result<std::vector<CountsRow>> CountsFromCells(Db& db, const CountsQuery& q) {
  const std::string group = GroupColumn(q.by);
  std::map<std::pair<int, std::string>, CountsRow> cells;
  auto r = db.ForEach("SELECT card_year, " + group +
                          ", mask, sum(holders) FROM adoption_cells WHERE card_year BETWEEN $1 AND $2 "
                          "AND holders > 0 GROUP BY card_year, " +
                          (q.by == Dimension::kNone ? std::string() : group + ", ") + "mask",
                      {int64_t{q.first_year ? q.first_year : 0}, int64_t{q.last_year ? q.last_year : 999999}},
                      [&](const Row& row) {
                        int year = static_cast<int>(ToInt(row[0]));
                        auto [it, fresh] = cells.try_emplace({year, row[1].value_or("")});
                        CountsRow& c = it->second;
                        if (fresh) {
                          c.period = std::to_string(year);
                          if (q.by != Dimension::kNone) c.group = row[1].value_or("");
                          c.eligible = 0;
                        }
                        const int mask = static_cast<int>(ToInt(row[2]));
                        const int64_t n = ToInt(row[3]);
                        *c.eligible += n;
                        if (mask == 0) return;
                        if (mask & 1) c.digital += n;
                        if (mask & 2) c.subscription += n;
                        if (mask & 4) c.starter += n;
                        if (mask & 8) c.library += n;
                        AddHolders(c, mask, n);
                      });
  if (!r) return std::unexpected(r.error());
  return InOrder(std::move(cells));
}

// Query() of the school-year view, from school_card_cells and school_holder_cells.
Result<std::vector<CountsRow>> CountsFromSchoolCells(Db& db, const CountsQuery& q) {
  const std::string dim = SchoolDimensions()[static_cast<size_t>(DimIndex(q.by))].first;
  const std::vector<Value> params = {dim, int64_t{q.first_year ? q.first_year : 0},
                                     int64_t{q.last_year ? q.last_year : 999999}};
  std::map<std::pair<int, std::string>, CountsRow> cells;
  auto cell = [&](const Row& row) -> CountsRow& {
    int sy = static_cast<int>(ToInt(row[0]));
    auto [it, fresh] = cells.try_emplace({sy, row[1].value_or("")});
    if (fresh) {
      it->second.period = std::to_string(sy) + "-" + std::to_string(sy + 1);
      if (q.by != Dimension::kNone) it->second.group = row[1].value_or("");
    }
    return it->second;
  };
  auto r = db.ForEach(
      "SELECT school_year, grp, channel, cards FROM school_card_cells WHERE dim = $1 AND school_year BETWEEN "
      "$2 "
      "AND $3 AND cards <> 0",
      params, [&](const Row& row) {
        CountsRow& c = cell(row);
        auto ch = ParseChannel(row[2].value_or(""));
        int64_t n = ToInt(row[3]);
        switch (ch ? *ch : Channel::kLibrary) {
          case Channel::kDigital:
            c.digital += n;
            break;
          case Channel::kSubscription:
            c.subscription += n;
            break;
          case Channel::kStarter:
            c.starter += n;
            break;
          case Channel::kLibrary:
            c.library += n;
            break;
        }
      });
  if (!r) return std::unexpected(r.error());
  r = db.ForEach(
      "SELECT school_year, grp, mask, holders FROM school_holder_cells WHERE dim = $1 AND school_year "
      "BETWEEN $2 "
      "AND $3 AND holders <> 0",
      params, [&](const Row& row) {
        CountsRow& c = cell(row);
        const int mask = static_cast<int>(ToInt(row[2]));
        const int64_t n = ToInt(row[3]);
        AddHolders(c, mask, n);
      });
  if (!r) return std::unexpected(r.error());
  // Eligible staff: the roster of the card year in which the school year's January to August fall
  // (sy + 1), else, while no roster of that year is imported, the roster of the card year it starts
  // in; one card year for all groups of a school year.
  const std::string group = GroupColumn(q.by);
  std::map<std::pair<int, std::string>, int64_t> roster;
  r = db.ForEach("SELECT card_year, " + group +
                     ", sum(holders) FROM adoption_cells WHERE card_year BETWEEN $1 AND $2 " +
                     "GROUP BY card_year" + (q.by == Dimension::kNone ? std::string() : ", " + group),
                 {int64_t{q.first_year ? q.first_year : 0}, int64_t{q.last_year ? q.last_year + 1 : 999999}},
                 [&](const Row& row) {
                   roster[{static_cast<int>(ToInt(row[0])), row[1].value_or("")}] = ToInt(row[2]);
                 });
  if (!r) return std::unexpected(r.error());
  std::set<int> roster_years;
  for (const auto& [key, n] : roster) roster_years.insert(key.first);
  for (auto& [key, c] : cells) {
    const int sy = key.first;
    const int year = roster_years.contains(sy + 1) ? sy + 1 : roster_years.contains(sy) ? sy : 0;
    if (year == 0) continue;
    auto it = roster.find({year, key.second});
    c.eligible = it == roster.end() ? 0 : it->second;
    c.eligible_year = year;
  }
  return InOrder(std::move(cells));
}

}  // namespace

Result<std::vector<PublishedRow>> internal::ReadPublished(Db& db) {
  auto rows = db.Query(
      "SELECT label, year, eligible, subscribers, starters, library, holders, printed_share FROM "
      "published_uptake "
      "ORDER BY CASE WHEN year IS NULL THEN 1 ELSE 0 END, year, label");
  if (!rows) return std::unexpected(rows.error());
  std::vector<PublishedRow> out;
  for (auto& row : *rows) {
    PublishedRow p;
    p.label = row[0].value_or("");
    if (row[1]) p.year = static_cast<int>(ToInt(row[1]));
    p.eligible = ToInt(row[2]);
    p.subscribers = ToInt(row[3]);
    p.starters = ToInt(row[4]);
    p.library = ToInt(row[5]);
    p.holders = ToInt(row[6]);
    p.printed_share = row[7].value_or("");
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<CountsRow>> Counts::Query(const CountsQuery& q) const {
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  // Both views read maintained aggregates: adoption_cells (calendar) and the school-year cells.
  if (q.period == Period::kCalendar) return CountsFromCells(lease->db(), q);
  return CountsFromSchoolCells(lease->db(), q);
}

Result<std::vector<PublishedRow>> Counts::Published() const {
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  return ReadPublished(lease->db());
}

}  // namespace lk::ledger
