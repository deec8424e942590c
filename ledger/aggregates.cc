// Upkeep and reading of the two aggregates (internal/aggregates.h).
#include "ledger/internal/aggregates.h"

#include <bit>

#include "ledger/internal/schema.h"

namespace lk::ledger::internal {
namespace {

// REQUIRES: inside the write transaction. Adds each row's delta (its last cell) to the row of
// `table` keyed by the other cells (`columns` names them all, the value column last).
Result<> UpsertDeltas(Core& core, const std::string& table, const std::vector<std::string>& columns,
                      const std::string& columns_ddl, std::vector<Row> rows) {
  if (rows.empty()) return {};
  std::string keys, list, values;
  for (size_t i = 0; i < columns.size(); ++i) {
    list += (i ? ", " : "") + columns[i];
    values += (i ? ", $" : "$") + std::to_string(i + 1);
    if (i + 1 < columns.size()) keys += (i ? ", " : "") + columns[i];
  }
  const std::string& v = columns.back();
  const std::string upsert =
      " ON CONFLICT (" + keys + ") DO UPDATE SET " + v + " = " + table + "." + v + " + excluded." + v;
  if (rows.size() <= 12) {  // a single issue or revocation: no staging round trips
    for (const Row& row : rows) {
      std::vector<Value> params;
      for (const auto& cell : row) params.emplace_back(cell.value_or(""));
      if (auto r = core.db->Execute(
              "INSERT INTO " + table + " (" + list + ") VALUES (" + values + ")" + upsert, params);
          !r)
        return std::unexpected(r.error());
    }
    return {};
  }
  const std::string stage = "stage_" + table;
  if (auto r = core.Stage(stage, columns_ddl, columns, rows); !r) return r;
  if (auto r = core.db->Execute("INSERT INTO " + table + " (" + list + ") SELECT " + list + " FROM " + stage +
                                " WHERE true" + upsert);
      !r)
    return std::unexpected(r.error());
  return {};
}

std::string BitChannel(int bit) {
  return std::string(ChannelName(static_cast<Channel>(std::countr_zero(static_cast<unsigned>(bit)))));
}

}  // namespace

CellKey KeyOf(const Row& row, size_t mask_col) {
  return {static_cast<int>(ToInt(row[0])),
          row[1].value_or(""),
          row[2].value_or(""),
          row[3].value_or(""),
          row[4].value_or(""),
          static_cast<int>(ToInt(row[mask_col]))};
}
std::string DescribeCell(const CellKey& k) {
  std::string channels;
  for (Channel c : {Channel::kDigital, Channel::kSubscription, Channel::kStarter, Channel::kLibrary})
    if (k.mask & ChannelBit(c)) channels += (channels.empty() ? "" : "+") + std::string(ChannelName(c));
  return "(card year " + std::to_string(k.year) + ", " + k.province + ", " + k.network + ", " + k.role +
         ", " + k.level + ", " + (channels.empty() ? "no card" : channels) + ")";
}

std::string DescribeSchool(const SchoolKey& k, bool holders) {
  const auto& dims = SchoolDimensions();
  std::string what =
      "(school year " + std::to_string(k.school_year) + "-" + std::to_string(k.school_year + 1) + ", " +
      (k.dim == 0 ? std::string("all") : dims[static_cast<size_t>(k.dim)].first + " " + k.group) + ", ";
  if (!holders) return what + BitChannel(k.value) + " cards)";
  std::string channels;
  for (int b = 1; b <= 8; b <<= 1)
    if (k.value & b) channels += (channels.empty() ? "" : "+") + BitChannel(b);
  return what + "holders of " + channels + ")";
}

Result<> ApplyCellDeltas(Core& core, const CellDeltas& deltas) {
  std::vector<Row> rows;
  for (const auto& [k, d] : deltas)
    if (d != 0)
      rows.push_back({std::to_string(k.year), k.province, k.network, k.role, k.level, std::to_string(k.mask),
                      std::to_string(d)});
  return UpsertDeltas(core, "adoption_cells",
                      {"card_year", "province", "network", "role", "level", "mask", "holders"},
                      "card_year INTEGER, province TEXT, network TEXT, role TEXT, level TEXT, mask INTEGER, "
                      "holders BIGINT",
                      std::move(rows));
}

Result<> ApplySchoolDeltas(Core& core, const SchoolDeltas& d) {
  const auto& dims = SchoolDimensions();
  std::vector<Row> cards, holders;
  for (const auto& [k, n] : d.cards)
    if (n != 0)
      cards.push_back({std::to_string(k.school_year), dims[static_cast<size_t>(k.dim)].first, k.group,
                       BitChannel(k.value), std::to_string(n)});
  for (const auto& [k, n] : d.holders)
    if (n != 0)
      holders.push_back({std::to_string(k.school_year), dims[static_cast<size_t>(k.dim)].first, k.group,
                         std::to_string(k.value), std::to_string(n)});
  if (auto r = UpsertDeltas(core, "school_card_cells", {"school_year", "dim", "grp", "channel", "cards"},
                            "school_year INTEGER, dim TEXT, grp TEXT, channel TEXT, cards BIGINT",
                            std::move(cards));
      !r)
    return r;
  return UpsertDeltas(core, "school_holder_cells", {"school_year", "dim", "grp", "mask", "holders"},
                      "school_year INTEGER, dim TEXT, grp TEXT, mask INTEGER, holders BIGINT",
                      std::move(holders));
}

Result<> CountNewRoster(Core& core, int year, int64_t seq) {
  CellDeltas d;
  auto r = core.db->ForEach(
      "SELECT card_year, province, network, role, level, 0, count(*) FROM roster WHERE card_year = $1 AND "
      "audit_seq = $2 GROUP BY card_year, province, network, role, level",
      {int64_t{year}, seq}, [&](const Row& row) { d[KeyOf(row, 5)] += ToInt(row[6]); });
  if (!r) return r;
  return ApplyCellDeltas(core, d);
}

Result<std::map<CellKey, int64_t>> ReadCells(Db& db, bool recount) {
  std::map<CellKey, int64_t> out;
  std::string sql =
      recount
          ? "SELECT r.card_year, r.province, r.network, r.role, r.level, coalesce(m.mask, 0), count(*) "
            "FROM roster r LEFT JOIN (SELECT roster_id, sum(" +
                ChannelBitSql("channel") +
                ") AS mask FROM cards WHERE status = 'active' GROUP BY roster_id) m ON m.roster_id = r.id "
                "GROUP BY r.card_year, r.province, r.network, r.role, r.level, coalesce(m.mask, 0)"
          : "SELECT card_year, province, network, role, level, mask, holders FROM adoption_cells";
  auto r = db.ForEach(sql, {}, [&](const Row& row) {
    if (int64_t n = ToInt(row[6]); n != 0) out[KeyOf(row, 5)] += n;
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<std::map<SchoolKey, int64_t>> ReadSchoolCells(Db& db, bool holders, bool recount) {
  std::map<SchoolKey, int64_t> out;
  const auto& dims = SchoolDimensions();
  std::string sql = recount   ? SchoolCellsRecountSql(holders)
                    : holders ? "SELECT school_year, dim, grp, mask, holders FROM school_holder_cells"
                              : "SELECT school_year, dim, grp, channel, cards FROM school_card_cells";
  auto r = db.ForEach(sql, {}, [&](const Row& row) {
    const int64_t n = ToInt(row[4]);
    if (n == 0) return;
    SchoolKey k{static_cast<int>(ToInt(row[0])), 0, row[2].value_or(""), 0};
    for (size_t d = 0; d < dims.size(); ++d)
      if (dims[d].first == row[1].value_or("")) k.dim = static_cast<int>(d);
    if (holders) {
      k.value = static_cast<int>(ToInt(row[3]));
    } else {
      auto ch = ParseChannel(row[3].value_or(""));
      k.value = ch ? ChannelBit(*ch) : 0;
    }
    out[k] += n;
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

}  // namespace lk::ledger::internal
