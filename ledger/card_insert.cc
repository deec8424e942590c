// New cards into the ledger, with both aggregates moved by them in the same statement or
// transaction (internal/aggregates.h: InsertCards).
#include <unordered_map>

#include "ledger/internal/aggregates.h"
#include "ledger/internal/schema.h"

namespace lk::ledger::internal {
namespace {

// How new cards move both aggregates: n cards of channel `bit`, issued in school year `sy`,
// whose roster entries are `cell` (mask = the channels the entry held before) and whose
// holders held `school_old[d]` in that school year and group of dimension d before.
struct Move {
  CellKey cell;
  int sy = 0, bit = 0;
  std::array<int, kDims> school_old{};
  auto operator<=>(const Move&) const = default;
};
Result<> ApplyMoves(Core& core, const std::map<Move, int64_t>& moves) {
  CellDeltas cal;
  SchoolDeltas school;
  for (const auto& [m, n] : moves) {
    CellKey k = m.cell;
    cal[k] -= n;
    k.mask |= m.bit;
    cal[k] += n;
    const std::string* group[kDims] = {nullptr, &k.province, &k.network, &k.role, &k.level};
    for (int d = 0; d < kDims; ++d) {
      SchoolKey sk{m.sy, d, group[d] ? *group[d] : std::string(), m.bit};
      school.cards[sk] += n;
      const int old = m.school_old[static_cast<size_t>(d)], now = old | m.bit;
      if (now == old) continue;
      if (old) {
        sk.value = old;
        school.holders[sk] -= n;
      }
      sk.value = now;
      school.holders[sk] += n;
    }
  }
  if (auto r = ApplyCellDeltas(core, cal); !r) return r;
  return ApplySchoolDeltas(core, school);
}

// PostgreSQL: whether card year `year` holds a card of `channel`: an active one (by
// adoption_cells, kept in the same transactions as the cards) or a revoked one (by the
// cards_revoked index: revoked cards are few). REQUIRES: the writer lock.
Result<bool> YearHoldsChannel(Core& core, int year, Channel channel) {
  auto r = core.db->Query(
      "SELECT 1 WHERE EXISTS (SELECT 1 FROM adoption_cells WHERE card_year = $1 AND (mask & $2) <> 0 AND "
      "holders > 0) OR EXISTS (SELECT 1 FROM cards c JOIN roster r ON r.id = c.roster_id WHERE c.status = "
      "'revoked' AND c.channel = $3 AND r.card_year = $1)",
      {int64_t{year}, int64_t{ChannelBit(channel)}, std::string(ChannelName(channel))});
  if (!r) return std::unexpected(r.error());
  return !r->empty();
}

// The tail of "INSERT INTO cards ... SELECT ... FROM stage s CROSS JOIN roster r WHERE ..." that
// skips holders who already have a card of `channel_sql`. REQUIRES: the writer lock (so nobody
// else inserts meanwhile) and at most one staged row per holder. SQLite resolves it in the
// unique index (ON CONFLICT); PostgreSQL's ON CONFLICT inserts speculatively, row by row, which
// costs more than the anti-join.
std::string NewCardsOnly(Core& core, const std::string& channel_sql) {
  // Both engines insert in the order the join delivers: the staged rows' (staff-key order, see
  // SortedRandomSerials), which is the order of the roster entries a roster import makes
  // (PostgreSQL's hash joins keep the order of their probe side: the staged rows, or the
  // roster's physical order, roster order too). Sorting by r.id again cost a tenth of the
  // insert on SQLite and, on PostgreSQL, 0.46 s more server CPU per 250,000-card import (two
  // alternating pairs, perf-ledger4); the order only speeds index inserts, it changes no result.
  // (roster_id, channel) is unique among the cards not replaced (migration 11): a holder's
  // current card of the channel. A replaced card always has a current successor, so "has a
  // current card" and "has any card" of the channel are the same.
  if (core.db->dialect() == Dialect::kSqlite)
    return " ON CONFLICT (roster_id, channel) WHERE replaced_by IS NULL DO NOTHING";
  return " AND NOT EXISTS (SELECT 1 FROM cards x WHERE x.roster_id = r.id AND x.channel = " + channel_sql +
         ")";
}

}  // namespace

// Runs `insert` ("INSERT INTO cards (...) SELECT ..."; REQUIRES: the writer lock and at most one
// new card per roster entry) and moves both aggregates by the cards it added (audit entry
// `seq`); returns how many it added. Each new card's holder is found, with their other active
// cards, through the roster entries of the card years that can have cards in its school year
// (a card of card year Y is dated within Y-1..Y+1, so its school year is Y-2..Y+1).
//
// The new cards' school years are first_sy..last_sy. When no card year within reach of them
// (first_sy - 1 .. last_sy + 2) holds an active card yet (by adoption_cells, kept in the same
// transactions as the cards), no new card's holder can hold another one: the upkeep then only
// counts the new cards by their roster entries' groups, without looking for other cards.
// The new cards: "INSERT INTO cards (columns) SELECT select from_where", where `select` names
// each column (AS), `from_where` joins the staged rows s to their roster entries r, and
Result<int64_t> InsertCards(Core& core, const CardInsert& ci, const std::vector<Value>& params, int64_t seq,
                            int card_year, Channel channel, int first_sy, int last_sy) {
  const std::string insert = "INSERT INTO cards (" + ci.columns + ") SELECT " + ci.select + " " +
                             ci.from_where + NewCardsOnly(core, ci.channel_sql);
  // The card years within reach that hold an active card (by adoption_cells, kept in the same
  // transactions as the cards): only their roster entries can name a new card's holder's other
  // cards, so only they are looked at (usually one or two of the four).
  auto held = core.db->Query(
      "SELECT DISTINCT card_year FROM adoption_cells WHERE card_year BETWEEN $1 AND $2 AND mask <> 0 AND "
      "holders <> 0 ORDER BY card_year",
      {int64_t{first_sy - 1}, int64_t{last_sy + 2}});
  if (!held) return std::unexpected(held.error());
  const bool others_possible = !held->empty();
  std::string held_years;   // "2024, 2025": SQL integer literals read from the ledger's own table
  std::string other_years;  // the same, without the new cards' own card year
  bool own_year_held = false;
  for (const Row& row : *held) {
    const int64_t y = ToInt(row[0]);
    held_years += (held_years.empty() ? "" : ", ") + std::to_string(y);
    if (y == card_year)
      own_year_held = true;
    else
      other_years += (other_years.empty() ? "" : ", ") + std::to_string(y);
  }
  const std::string bit_o = ChannelBitSql("o.channel");
  const std::string others =
      " LEFT JOIN roster ro ON ro.card_year IN (" + held_years +
      ") AND ro.card_year BETWEEN n.school_year - 1 AND "
      "n.school_year + 2 AND ro.staff_key = r.staff_key LEFT JOIN cards o ON o.roster_id = ro.id AND "
      "o.status = 'active' AND o.replaced_by IS NULL";  // always so for an active card; lets SQLite use
                                                        // cards_current (partial) instead of reading every
                                                        // card
  std::map<Move, int64_t> moves;
  int64_t added = 0;
  if (core.db->dialect() == Dialect::kPostgres) {
    // One statement: the INSERT (a WITH clause) and the upkeep query, which sees the cards as
    // they were before it (same snapshot) and groups on the server.
    // The new cards are counted by the groups of the roster entries they were joined to on
    // their way in (src: every row of it is inserted, or the statement fails), instead of
    // joining the inserted rows to the roster again (a hash of the whole roster, each time).
    // When the card year holds no card of the channel, no staged holder has one: the anti-join
    // against the channel's cards (a hash of every card of that channel, of every card year) is
    // left out. That is the usual bulk insert: a card year's file of a channel, or its batch.
    auto held_channel = YearHoldsChannel(core, card_year, channel);
    if (!held_channel) return std::unexpected(held_channel.error());
    const std::string src =
        "WITH src AS MATERIALIZED (SELECT " + ci.select +
        ", r.card_year AS g_year, "
        "r.province AS g_province, r.network AS g_network, r.role AS g_role, r.level AS g_level, "
        "r.staff_key AS g_key " +
        ci.from_where + (*held_channel ? NewCardsOnly(core, ci.channel_sql) : "") +
        "), n AS (INSERT INTO cards (" + ci.columns + ") SELECT " + ci.columns + " FROM src)";
    // Every new card is first counted as if its holder held nothing else (grouped by its roster
    // entry's groups: a few thousand groups, hashed). The other active cards that change a
    // count are then found set-wise, as pairs (new card, other card) of two kinds, which
    // cannot overlap:
    // - a card of another card year within reach in the same school year: the holder's roster
    //   entry there has the same staff key (a hash join on staff key and school year; only
    //   that card year's cards of the new cards' school years are read; an inline subquery,
    //   so the planner sees the roster's statistics);
    // - a card on the new card's own roster entry (another channel), only when its card year
    //   holds any.
    // (A card of another card year in another school year changes no count: a pair of it
    // would come back with all masks 0, a move onto itself. In a ledger's second year most
    // holders hold last year's card, often in another school year.) Each new card with pairs
    // comes back once more, with its old masks and `again` = 1; the caller moves it from the
    // "nothing else" count to that one. Same snapshot throughout: no part of the statement
    // sees the cards the INSERT adds.
    auto mask = [&](const std::string& cond) {
      return "coalesce(bit_or(CASE WHEN " + cond + " THEN " + ChannelBitSql("o_channel") + " END), 0)";
    };
    const std::string same_sy = "o_sy = school_year";
    const std::string plain =
        " SELECT g_year, g_province, g_network, g_role, g_level, school_year, " + ChannelBitSql("channel") +
        " AS bit, 0, 0, 0, 0, 0, 0, count(*), 0 AS again FROM src GROUP BY 1, 2, 3, 4, 5, 6, 7";
    const std::string src_cols =
        "src.roster_id, src.g_year, src.g_province, src.g_network, src.g_role, src.g_level, "
        "src.school_year, src.channel, o.roster_id AS o_rid, o.school_year AS o_sy, "
        "o.channel AS o_channel, ";
    std::string pairs;
    if (!other_years.empty())
      pairs = "SELECT " + src_cols +
              "o.province AS o_province, o.network AS o_network, o.role AS o_role, "
              "o.level AS o_level FROM src JOIN (SELECT ro.id AS roster_id, ro.staff_key, ro.province, "
              "ro.network, "
              "ro.role, ro.level, o.school_year, o.channel FROM roster ro JOIN cards o ON o.roster_id = "
              "ro.id WHERE "
              "o.status = 'active' AND ro.card_year IN (" +
              other_years + ") AND o.school_year BETWEEN " + std::to_string(first_sy) + " AND " +
              std::to_string(last_sy) +
              ") o ON o.staff_key = src.g_key AND "
              "o.school_year = src.school_year";
    if (own_year_held)
      pairs += std::string(pairs.empty() ? "" : " UNION ALL ") + "SELECT " + src_cols +
               "src.g_province AS o_province, src.g_network AS o_network, src.g_role AS o_role, "
               "src.g_level AS o_level FROM src JOIN cards o ON o.roster_id = src.roster_id AND o.status = "
               "'active'";
    const std::string sql =
        !others_possible
            ? src + plain
            : src + ", pairs AS (" + pairs +
                  "), old AS (SELECT g_year, g_province, g_network, g_role, g_level, "
                  "school_year, channel, " +
                  mask("o_rid = roster_id") + " AS cal_old, " + mask(same_sy) + " AS s0, " +
                  mask(same_sy + " AND o_province = g_province") + " AS s1, " +
                  mask(same_sy + " AND o_network = g_network") + " AS s2, " +
                  mask(same_sy + " AND o_role = g_role") + " AS s3, " +
                  mask(same_sy + " AND o_level = g_level") +
                  " AS s4 FROM pairs GROUP BY roster_id, g_year, g_province, g_network, g_role, g_level, "
                  "school_year, "
                  "channel)" +
                  plain + " UNION ALL SELECT g_year, g_province, g_network, g_role, g_level, school_year, " +
                  ChannelBitSql("channel") +
                  ", cal_old, s0, s1, s2, s3, s4, count(*), 1 FROM old "
                  "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13";
    // The cost estimate of this statement would have PostgreSQL JIT-compile it: ~0.4 s of
    // compiling for a fraction of a second of work. Only for this transaction.
    if (auto j = core.db->Exec("SET LOCAL jit = off"); !j) return std::unexpected(j.error());
    // src (~170 bytes per new card) and the pairs' sorts or hashes would spill to temporary
    // files at the default 4 MB; 250,000 new cards need about 60 MB. Only for this transaction.
    if (auto w = core.db->Exec("SET LOCAL work_mem = '128MB'"); !w) return std::unexpected(w.error());
    // The planner expects a few hundred pairs where a ledger's second year has tens of
    // thousands, and would sort them twice to group them (13 keys, most of them equal): in
    // EXPLAIN ANALYZE 0.38 s for 75,000 pairs, against 0.18 s hashed. No other part of the
    // statement sorts. Put back after it, for the rest of the transaction.
    if (auto w = core.db->Exec("SET LOCAL enable_sort = off"); !w) return std::unexpected(w.error());
    auto r = core.db->ForEach(sql, params, [&](const Row& row) {
      Move m{KeyOf(row, 7), static_cast<int>(ToInt(row[5])), static_cast<int>(ToInt(row[6])), {}};
      for (size_t d = 0; d < kDims; ++d) m.school_old[d] = static_cast<int>(ToInt(row[8 + d]));
      const int64_t n = ToInt(row[13]);
      moves[m] += n;
      if (ToInt(row[14]) == 0) {
        added += n;
        return;
      }
      Move nothing_else = m;  // counted so by the first part: moved from there
      nothing_else.cell.mask = 0;
      nothing_else.school_old = {};
      moves[nothing_else] -= n;
    });
    if (!r) return std::unexpected(r.error());
    if (auto w = core.db->Exec("SET LOCAL enable_sort TO DEFAULT"); !w) return std::unexpected(w.error());
  } else {
    auto n = core.db->Execute(insert, params);
    if (!n) return std::unexpected(n.error());
    added = *n;
    if (added == 0) return int64_t{0};
    if (!others_possible) {  // counted here as they stream by: SQLite would sort to group
      std::unordered_map<std::string, int64_t> counts;
      std::string id;
      auto r = core.db->Scan(
          "SELECT r.card_year, r.province, r.network, r.role, r.level, n.school_year, n.channel FROM cards n "
          "CROSS JOIN roster r WHERE n.audit_seq = $1 AND r.id = n.roster_id",
          {seq}, [&](const Db::Cells& c) {
            id.clear();
            for (int i = 0; i < 7; ++i) id.append(c.Text(i)).push_back('\x1f');
            ++counts[id];
          });
      if (!r) return std::unexpected(r.error());
      for (const auto& [key, count] : counts) {
        std::vector<std::string> f;
        for (size_t a = 0, b; (b = key.find('\x1f', a)) != std::string::npos; a = b + 1)
          f.push_back(key.substr(a, b - a));
        auto ch = ParseChannel(f[6]);
        if (!ch) return std::unexpected(ch.error());
        Move m{{std::stoi(f[0]), f[1], f[2], f[3], f[4], 0}, std::stoi(f[5]), ChannelBit(*ch), {}};
        moves[m] += count;
      }
      if (auto a = ApplyMoves(core, moves); !a) return std::unexpected(a.error());
      return added;
    }
    // SQLite would sort to group: the rows of one new card come together (the join is driven
    // by the new cards), so they are folded here as they stream by.
    const std::string sql =
        "SELECT n.roster_id, r.card_year, r.province, r.network, r.role, r.level, n.school_year, " +
        ChannelBitSql("n.channel") +
        ", o.roster_id, o.school_year, CASE WHEN o.channel IS NULL THEN 0 "
        "ELSE " +
        bit_o + " END, ro.province, ro.network, ro.role, ro.level FROM cards n CROSS JOIN roster r" + others +
        " AND o.audit_seq <> $1 WHERE n.audit_seq = $1 AND r.id = n.roster_id";
    int64_t current = -1;
    Move m;
    std::string_view mine[kDims];
    std::string own[kDims];
    std::unordered_map<std::string, int64_t> tally_index;
    std::vector<std::pair<Move, int64_t>> tally;
    std::string id;
    auto flush = [&]() {
      if (current < 0) return;
      id.clear();
      id.append(std::to_string(m.cell.year)).append("|").append(m.cell.province).append("|");
      id.append(m.cell.network).append("|").append(m.cell.role).append("|").append(m.cell.level).append("|");
      for (int v : {m.cell.mask, m.sy, m.bit, m.school_old[0], m.school_old[1], m.school_old[2],
                    m.school_old[3], m.school_old[4]})
        id.append(std::to_string(v)).append("|");
      auto [it, fresh] = tally_index.try_emplace(id, static_cast<int64_t>(tally.size()));
      if (fresh) tally.emplace_back(m, 0);
      ++tally[static_cast<size_t>(it->second)].second;
    };
    auto r = core.db->Scan(sql, {seq}, [&](const Db::Cells& c) {
      const int64_t roster_id = c.Int(0);
      if (roster_id != current) {
        flush();
        current = roster_id;
        m = Move{};
        m.cell = {static_cast<int>(c.Int(1)), std::string(c.Text(2)), std::string(c.Text(3)),
                  std::string(c.Text(4)),     std::string(c.Text(5)), 0};
        m.sy = static_cast<int>(c.Int(6));
        m.bit = static_cast<int>(c.Int(7));
        own[1] = m.cell.province, own[2] = m.cell.network, own[3] = m.cell.role, own[4] = m.cell.level;
        for (int d = 1; d < kDims; ++d) mine[d] = own[d];
      }
      const int bit = static_cast<int>(c.Int(10));
      if (bit == 0) return;  // no other active card
      if (c.Int(8) == roster_id) m.cell.mask |= bit;
      if (c.Int(9) != m.sy) return;
      m.school_old[0] |= bit;
      for (int d = 1; d < kDims; ++d)
        if (c.Text(10 + d) == mine[d]) m.school_old[static_cast<size_t>(d)] |= bit;
    });
    if (!r) return std::unexpected(r.error());
    flush();
    for (auto& [mv, n2] : tally) moves[mv] += n2;
  }
  if (auto r = ApplyMoves(core, moves); !r) return std::unexpected(r.error());
  return added;
}

}  // namespace lk::ledger::internal
