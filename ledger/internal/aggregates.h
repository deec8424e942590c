#pragma once
// The two aggregates the ledger keeps in the same transactions as the cards, so that counts
// never walk every card: adoption_cells (calendar view, schema migration 4) and the school-year
// cells (migration 6). Every write moves them by what it added or revoked.
// REQUIRES (every function that takes a Core): core.mu held, inside the write transaction.
#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/base.h"
#include "ledger/channel.h"
#include "ledger/internal/core.h"
#include "ledger/internal/db.h"

namespace lk::ledger::internal {

// adoption_cells holds, per (card year, province, network, role, level, mask), how many roster
// entries hold exactly the channels of `mask` in active cards.
struct CellKey {
  int year = 0;
  std::string province, network, role, level;
  int mask = 0;
  auto operator<=>(const CellKey&) const = default;
};
using CellDeltas = std::map<CellKey, int64_t>;
// The key of row cells 0..4 (card year and groups) with the mask in cell `mask_col`.
CellKey KeyOf(const Row& row, size_t mask_col);
std::string DescribeCell(const CellKey& k);

// Per (school year, dimension, group): active cards per channel, and people (staff keys, across
// card years) by the exact set of channels of their active cards there. Dimension 0 is "all".
constexpr int kDims = 5;
struct SchoolKey {
  int school_year = 0;
  int dim = 0;        // index into SchoolDimensions()
  std::string group;  // "" for "all"
  int value = 0;      // holders: the mask; cards: the channel bit
  auto operator<=>(const SchoolKey&) const = default;
};
struct SchoolDeltas {
  std::map<SchoolKey, int64_t> cards, holders;
};
std::string DescribeSchool(const SchoolKey& k, bool holders);

Result<> ApplyCellDeltas(Core& core, const CellDeltas& deltas);
Result<> ApplySchoolDeltas(Core& core, const SchoolDeltas& d);
// Counts the roster entries added by audit entry `seq` (they hold no card yet).
Result<> CountNewRoster(Core& core, int year, int64_t seq);

// Cells as stored (`recount` false) or recounted from roster and cards; zero cells left out.
// REQUIRES: the lock of the connection's owner held.
Result<std::map<CellKey, int64_t>> ReadCells(Db& db, bool recount);
// School-year cells (cards, or with `holders` the holder masks), likewise.
Result<std::map<SchoolKey, int64_t>> ReadSchoolCells(Db& db, bool holders, bool recount);

// New cards: "INSERT INTO cards (columns) SELECT select from_where", where `select` names each
// column (AS), `from_where` joins the staged rows s to their roster entries r, and `channel_sql`
// is the channel of the new cards.
struct CardInsert {
  std::string columns, select, from_where, channel_sql;
};
// Inserts the new cards (at most one per roster entry) and moves both aggregates by the cards it
// added (audit entry `seq`, school years first_sy..last_sy); returns how many it added
// (card_insert.cc).
Result<int64_t> InsertCards(Core& core, const CardInsert& ci, const std::vector<Value>& params, int64_t seq,
                            int card_year, Channel channel, int first_sy, int last_sy);

}  // namespace lk::ledger::internal
