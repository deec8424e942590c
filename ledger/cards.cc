// Cards (cards.h): digital cards issued in batches, revocations, and the reads a pass, a scan
// or the revocation list needs.
#include "ledger/cards.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "ledger/internal/aggregates.h"
#include "ledger/internal/core.h"
#include "ledger/internal/pass_changes.h"
#include "ledger/internal/schema.h"

namespace lk::ledger {
using namespace internal;

namespace {

// The newest card of a later card year in the wallet entry of card c (roster entry r), or NULL:
// the card that took the entry over (through cards_wallet_serial; see RenewDigital).
constexpr const char* kRenewedBySql =
    "(SELECT n.serial FROM cards n JOIN roster nr ON nr.id = n.roster_id WHERE n.wallet_serial = "
    "COALESCE(c.wallet_serial, c.serial) AND nr.card_year > r.card_year ORDER BY nr.card_year DESC LIMIT 1)";

Result<Card> FindCardLocked(Db& db, std::string_view serial) {
  auto rows = db.Query(
      "SELECT c.serial, r.card_year, c.channel, c.status, c.revoked_reason, c.auth_token, c.update_tag, "
      "h.display_name, r.school_number, c.qr_token, c.qr_token_at, sn.name, c.replaced_by, "
      "c.wallet_serial, c.revoked_at, " +
          std::string(kRenewedBySql) +
          " FROM cards c "
          "JOIN roster r ON r.id = c.roster_id LEFT JOIN holder_names h ON h.roster_id = r.id "
          "LEFT JOIN schools sn ON sn.school_number = r.school_number WHERE c.serial = $1",
      {std::string(serial)});
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return Fail(Code::kNotFound, "no card with serial " + std::string(serial));
  const Row& r = rows->front();
  Card card;
  card.serial = *r[0];
  card.year = static_cast<int>(ToInt(r[1]));
  if (auto ch = ParseChannel(r[2].value_or("")); ch) card.channel = *ch;
  card.revoked = r[3] == "revoked";
  card.revoked_reason = r[4].value_or("");
  card.auth_token = r[5].value_or("");
  card.update_tag = ToInt(r[6]);
  card.holder_name = r[7].value_or("");
  card.school = r[8].value_or("");
  card.token = r[9].value_or("");
  if (r[10]) card.token_at = Time(std::chrono::seconds(ToInt(r[10])));
  card.school_name = r[11].value_or("");
  card.replaced_by = r[12].value_or("");
  card.wallet_serial = r[13].value_or("");
  if (r[14]) card.revoked_at = Time(std::chrono::seconds(ToInt(r[14])));
  card.renewed_by = r[15].value_or("");
  return card;
}

}  // namespace

// REQUIRES: core.mu held, `year` checked (internal/core.h).
Result<std::vector<IssuedCard>> internal::IssueKeys(Core& core, const std::vector<std::string>& staff_keys,
                                                    int year) {
  auto today = BrusselsDate(core.clock.Now());
  const std::string issued_on = FormatIsoDate(today);
  const int school_year = SchoolYearOf(today);
  // The same person twice: one staged row (their first mention), the same card for both.
  std::unordered_map<std::string_view, size_t> mentioned;
  mentioned.reserve(staff_keys.size());
  std::vector<size_t> first_of(staff_keys.size());  // position of each person's first mention
  std::vector<size_t> firsts;                       // positions of first mentions, in staff-key order
  firsts.reserve(staff_keys.size());
  for (size_t i = 0; i < staff_keys.size(); ++i) {
    auto [it, fresh] = mentioned.emplace(staff_keys[i], i);
    first_of[i] = it->second;
    if (fresh) firsts.push_back(i);
  }
  {
    const std::vector<size_t> order =
        OrderByKey(firsts.size(), [&](size_t k) { return std::string_view(staff_keys[firsts[k]]); });
    std::vector<size_t> sorted(firsts.size());
    for (size_t k = 0; k < order.size(); ++k) sorted[k] = firsts[order[k]];
    firsts = std::move(sorted);
  }
  std::vector<std::string> serials = SortedRandomSerials(firsts.size()),
                           tokens = RandomSerials(firsts.size(), 32);
  std::vector<Row> stage;
  stage.reserve(firsts.size());
  for (size_t k = 0; k < firsts.size(); ++k)
    stage.push_back({std::to_string(firsts[k]), staff_keys[firsts[k]], serials[k], tokens[k]});
  Transaction tx(*core.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  auto seq = core.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  if (auto r = core.Stage("stage_issue",
                          "pos BIGINT, staff_key " + core.KeyType() + ", serial TEXT, auth_token TEXT",
                          {"pos", "staff_key", "serial", "auth_token"}, stage);
      !r)
    return std::unexpected(r.error());
  // The audit entry lists the new cards (CardList). A second thread fingerprints the staged
  // cards while the database inserts, as if every one is new (the usual batch), and frees the
  // staged rows. It reads serials, tokens, staff_keys and firsts: nothing touches them, or
  // the staged rows, until listing.get().
  const std::string year_text = std::to_string(year), sy_text = std::to_string(school_year);
  auto listing = std::async(Beside(firsts.size()), [&] {
    std::vector<Row>().swap(stage);
    std::vector<std::pair<std::string, Fingerprint>> fingerprints;
    fingerprints.reserve(firsts.size());
    for (size_t k = 0; k < firsts.size(); ++k)  // staff-key order: serials ascending
      fingerprints.emplace_back(serials[k], CardFingerprint(serials[k], year_text, staff_keys[firsts[k]],
                                                            "digital", issued_on, sy_text, tokens[k]));
    std::string all = CardList(fingerprints);
    return std::pair(std::move(fingerprints), std::move(all));
  });
  // Insert-or-get: the first writer (under the ledger's writer lock) makes the card; UNIQUE
  // (roster_id, channel) backs that up.
  auto added = InsertCards(
      core,
      {"serial, roster_id, channel, issued_on, school_year, status, auth_token, update_tag, audit_seq",
       "s.serial AS serial, r.id AS roster_id, 'digital' AS channel, CAST($3 AS " + core.DateType() +
           ") AS issued_on, "
           "CAST($4 AS INTEGER) AS school_year, 'active' AS status, s.auth_token AS auth_token, CAST($2 AS "
           "BIGINT) AS "
           "update_tag, CAST($2 AS BIGINT) AS audit_seq",
       "FROM stage_issue s CROSS JOIN roster r WHERE r.card_year = $1 AND r.staff_key = s.staff_key",
       "'digital'"},
      {int64_t{year}, *seq, issued_on, int64_t{school_year}}, *seq, year, Channel::kDigital, school_year,
      school_year);
  if (!added) return std::unexpected(added.error());
  if (auto st = core.RefreshStatistics("cards", static_cast<uint64_t>(*added)); !st)
    return std::unexpected(st.error());
  auto [fingerprints, all_new] = listing.get();
  std::vector<IssuedCard> out(staff_keys.size());
  std::vector<bool> found(staff_keys.size());
  if (static_cast<size_t>(*added) == firsts.size()) {
    // Everyone got a new card (the usual batch): the cards are the staged serials and tokens.
    for (size_t k = 0; k < firsts.size(); ++k) {
      IssuedCard& card = out[firsts[k]];
      card.serial = std::move(serials[k]);
      card.year = year;
      card.auth_token = std::move(tokens[k]);
      card.update_tag = *seq;
      card.is_new = true;
      found[firsts[k]] = true;
    }
  } else {
    auto r = core.db->Scan(
        "SELECT s.pos, c.serial, c.status, c.auth_token, c.update_tag, c.audit_seq FROM stage_issue s "
        "CROSS JOIN roster r CROSS JOIN cards c WHERE r.card_year = $1 AND r.staff_key = s.staff_key "
        "AND c.roster_id = r.id AND c.channel = 'digital' AND c.replaced_by IS NULL",
        {int64_t{year}}, [&](const Db::Cells& row) {
          auto pos = static_cast<size_t>(row.Int(0));
          if (pos >= out.size()) return;
          IssuedCard& card = out[pos];
          card.serial = row.Text(1);
          card.year = year;
          card.revoked = row.Text(2) == "revoked";
          card.auth_token = row.Text(3);
          card.update_tag = row.Int(4);
          card.is_new = row.Int(5) == *seq;
          found[pos] = true;
        });
    if (!r) return std::unexpected(r.error());
  }
  for (size_t i = 0; i < out.size(); ++i)  // later mentions: the first mention's card, not new
    if (first_of[i] != i && found[first_of[i]]) {
      out[i] = out[first_of[i]];
      out[i].is_new = false;
      found[i] = true;
    }
  std::string missing;
  size_t n_missing = 0;
  for (size_t i = 0; i < found.size(); ++i)
    if (!found[i] && ++n_missing <= 20) missing += (missing.empty() ? "" : ", ") + std::to_string(i + 1);
  if (n_missing)
    return Fail(Code::kNotFound, std::to_string(n_missing) +
                                     " staff member(s) not on the roster of card year " +
                                     std::to_string(year) + " (input positions " + missing +
                                     (n_missing > 20 ? ", ..." : "") + "); no card was issued");
  nlohmann::json detail = {
      {"year", year}, {"table", "cards"}, {"added", *added}, {"requested", staff_keys.size()}};
  if (*added == 1)
    for (auto& card : out)
      if (card.is_new) detail["serial"] = card.serial;
  if (static_cast<size_t>(*added) == firsts.size()) {
    if (!firsts.empty()) detail["cards"] = std::move(all_new);
  } else {  // the new cards are the staged ones of the holders who had none: their fingerprints
    size_t kept = 0;
    for (size_t k = 0; k < firsts.size(); ++k)
      if (out[firsts[k]].is_new) {
        if (kept != k) fingerprints[kept] = std::move(fingerprints[k]);  // no self-move
        ++kept;
      }
    fingerprints.resize(kept);
    if (!fingerprints.empty()) detail["cards"] = CardList(std::move(fingerprints));
  }
  if (auto f = core.Finish(tx, *seq, "issue digital", detail.dump(), static_cast<uint64_t>(*added)); !f)
    return std::unexpected(f.error());
  return out;
}

Result<IssuedCard> Cards::IssueDigital(std::string_view staff_id, int year) {
  auto batch = IssueDigitalBatch({std::string(staff_id)}, year);
  if (!batch) {
    if (batch.error().code == Code::kNotFound)
      return Fail(Code::kNotFound,
                  "this staff member is not on the roster of card year " + std::to_string(year));
    return std::unexpected(batch.error());
  }
  return batch->front();
}

Result<std::vector<IssuedCard>> Cards::IssueDigitalBatch(const std::vector<std::string>& staff_ids,
                                                         int year) {
  std::lock_guard lock(core_.mu);
  if (auto r = CheckYear(year); !r) return std::unexpected(r.error());
  if (staff_ids.empty()) return std::vector<IssuedCard>{};
  auto keyer = core_.Keyer();
  if (!keyer) return std::unexpected(keyer.error());
  std::vector<std::string> keys;
  keys.reserve(staff_ids.size());
  for (size_t i = 0; i < staff_ids.size(); ++i) {
    std::string id(Trim(staff_ids[i]));
    if (id.empty())
      return Fail(Code::kInvalidArgument, "staff identifier " + std::to_string(i + 1) + " is empty");
    keys.push_back((*keyer)->Key(id));
  }
  return IssueKeys(core_, keys, year);
}

Result<> Cards::Revoke(std::string_view serial, std::string_view reason) {
  std::lock_guard lock(core_.mu);
  std::string why(Trim(reason));
  if (why.empty()) return Fail(Code::kInvalidArgument, "a revocation needs a reason");
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return r;
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  // The holder's cells in both aggregates before the change (only used if it happens): the
  // card's roster entry with the channels it holds, and every active card of the holder in the
  // card's school year (this one included), with the groups of their roster entries.
  auto before = core_.db->Query(
      "SELECT r.card_year, r.province, r.network, r.role, r.level, (SELECT sum(" +
          ChannelBitSql("o.channel") + ") FROM cards o WHERE o.roster_id = r.id AND o.status = 'active'), " +
          ChannelBitSql("c.channel") +
          ", c.school_year, r.staff_key FROM cards c JOIN roster r ON r.id = c.roster_id "
          "WHERE c.serial = $1",
      {std::string(serial)});
  if (!before) return std::unexpected(before.error());
  std::vector<Row> held;  // serial, channel bit, province, network, role, level
  if (before->size() == 1) {
    const int64_t sy = ToInt(before->front()[7]);
    auto h = core_.db->Query(
        "SELECT o.serial, " + ChannelBitSql("o.channel") +
            ", ro.province, ro.network, ro.role, ro.level FROM roster ro JOIN cards o ON o.roster_id = ro.id "
            "WHERE ro.card_year IN ($2 - 1, $2, $2 + 1, $2 + 2) AND ro.staff_key = $1 AND o.status = "
            "'active' "
            "AND o.school_year = $2",
        {before->front()[8].value_or(""), sy});
    if (!h) return std::unexpected(h.error());
    held = std::move(*h);
  }
  const int64_t revoked_at = Seconds(core_.clock.Now());
  auto n = core_.db->Execute(
      "UPDATE cards SET status = 'revoked', revoked_reason = $2, revoked_at = $3, update_tag = $4 "
      "WHERE serial = $1 AND status = 'active'",
      {std::string(serial), why, revoked_at, *seq});
  if (!n) return std::unexpected(n.error());
  if (*n == 0) {
    auto exists = core_.db->Query("SELECT status FROM cards WHERE serial = $1", {std::string(serial)});
    if (!exists) return std::unexpected(exists.error());
    if (exists->empty()) return Fail(Code::kNotFound, "no card with serial " + std::string(serial));
    return Fail(Code::kFailedPrecondition, "card " + std::string(serial) + " is already revoked");
  }
  if (before->size() != 1)
    return Fail(Code::kInternal, "card " + std::string(serial) + " vanished while revoked");
  // The pass is void now: devices that registered it are told (pass_updates.h).
  if (auto r = QueuePassChange(core_, serial); !r) return r;
  {
    const Row& b = before->front();
    CellKey k{static_cast<int>(ToInt(b[0])),
              b[1].value_or(""),
              b[2].value_or(""),
              b[3].value_or(""),
              b[4].value_or(""),
              static_cast<int>(ToInt(b[5]))};
    CellDeltas d;
    d[k] -= 1;
    k.mask &= ~static_cast<int>(ToInt(b[6]));
    d[k] += 1;
    if (auto r = ApplyCellDeltas(core_, d); !r) return r;
    // School year: one card fewer in each group; each group's holder mask before and after.
    const int sy = static_cast<int>(ToInt(b[7])), bit = static_cast<int>(ToInt(b[6]));
    const std::string group[kDims] = {"", k.province, k.network, k.role, k.level};
    SchoolDeltas sd;
    for (int dim = 0; dim < kDims; ++dim) {
      int old = 0, now = 0;
      for (const Row& o : held) {
        if (dim > 0 && o[static_cast<size_t>(dim + 1)].value_or("") != group[dim]) continue;
        const int ob = static_cast<int>(ToInt(o[1]));
        old |= ob;
        if (o[0].value_or("") != serial) now |= ob;
      }
      sd.cards[{sy, dim, group[dim], bit}] -= 1;
      if (old == now) continue;
      sd.holders[{sy, dim, group[dim], old}] -= 1;
      if (now) sd.holders[{sy, dim, group[dim], now}] += 1;
    }
    if (auto r = ApplySchoolDeltas(core_, sd); !r) return r;
  }
  nlohmann::json detail = {{"serial", serial}, {"reason", why}, {"revoked_at", revoked_at}};
  return core_.Finish(tx, *seq, "revoke", detail.dump(), 0);
}

Result<IssuedCard> Cards::ReplaceDigital(std::string_view serial, std::string_view reason) {
  std::lock_guard lock(core_.mu);
  std::string why(Trim(reason));
  if (why.empty()) return Fail(Code::kInvalidArgument, "a replacement needs a reason");
  if (why.size() > 200) return Fail(Code::kInvalidArgument, "the reason is longer than 200 bytes");
  const std::string old_serial(serial);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  auto rows = core_.db->Query(
      "SELECT c.channel, c.status, c.replaced_by, c.roster_id, c.issued_on, c.school_year, r.card_year, "
      "r.staff_key FROM cards c JOIN roster r ON r.id = c.roster_id WHERE c.serial = $1",
      {old_serial});
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return Fail(Code::kNotFound, "no card with serial " + old_serial);
  const Row& old = rows->front();
  const int64_t roster_id = ToInt(old[3]);
  const int year = static_cast<int>(ToInt(old[6]));
  if (old[0].value_or("") != "digital")
    return Fail(Code::kFailedPrecondition,
                "card " + old_serial + " is a " + old[0].value_or("") + " card; only digital cards move");
  if (old[2]) {  // already replaced (a second submit): the holder's current card, nothing written
    auto current = core_.db->Query(
        "SELECT serial, status, auth_token, update_tag FROM cards WHERE roster_id = $1 AND channel = "
        "'digital' AND replaced_by IS NULL",
        {roster_id});
    if (!current) return std::unexpected(current.error());
    if (current->empty())
      return Fail(Code::kInternal, "card " + old_serial + " was replaced but its holder has no current card");
    IssuedCard card;
    card.serial = current->front()[0].value_or("");
    card.year = year;
    card.revoked = current->front()[1] == "revoked";
    card.auth_token = current->front()[2].value_or("");
    card.update_tag = ToInt(current->front()[3]);
    return card;
  }
  if (old[1] == "revoked")
    return Fail(Code::kFailedPrecondition,
                "card " + old_serial + " is revoked; a revoked card cannot be moved");
  IssuedCard card;
  card.serial = RandomSerials(1, 12).front();
  card.year = year;
  card.auth_token = RandomSerials(1, 32).front();
  card.update_tag = *seq;
  card.is_new = true;
  const int64_t revoked_at = Seconds(core_.clock.Now());
  // The old card first: (roster_id, channel) is unique among cards not replaced.
  auto n = core_.db->Execute(
      "UPDATE cards SET status = 'revoked', revoked_reason = $2, revoked_at = $3, update_tag = $4, "
      "replaced_by = $5 WHERE serial = $1 AND status = 'active' AND replaced_by IS NULL",
      {old_serial, why, revoked_at, *seq, card.serial});
  if (!n) return std::unexpected(n.error());
  if (*n != 1) return Fail(Code::kInternal, "card " + old_serial + " changed while it was replaced");
  // The old pass is void now: devices that registered it are told (pass_updates.h).
  if (auto r = QueuePassChange(core_, old_serial); !r) return std::unexpected(r.error());
  // The replacement: the same roster entry, channel, issue date and school year, so the
  // aggregates (active cards per roster entry, channel and school year) stay as they were.
  auto added = core_.db->Execute(
      "INSERT INTO cards (serial, roster_id, channel, issued_on, school_year, status, auth_token, "
      "update_tag, "
      "audit_seq) SELECT $2, roster_id, channel, issued_on, school_year, 'active', $3, $4, $4 FROM cards "
      "WHERE serial = $1",
      {old_serial, card.serial, card.auth_token, *seq});
  if (!added) return std::unexpected(added.error());
  if (*added != 1) return Fail(Code::kInternal, "the replacement of card " + old_serial + " was not stored");
  const std::string issued_on = old[4].value_or(""), school_year = old[5].value_or("");
  std::vector<std::pair<std::string, Fingerprint>> fingerprint;
  fingerprint.emplace_back(card.serial,
                           CardFingerprint(card.serial, std::to_string(year), old[7].value_or(""), "digital",
                                           issued_on, school_year, card.auth_token));
  nlohmann::json detail = {{"year", year},
                           {"table", "cards"},
                           {"added", 1},
                           {"serial", old_serial},
                           {"reason", why},
                           {"revoked_at", revoked_at},
                           {"replaced_by", card.serial},
                           {"cards", CardList(std::move(fingerprint))}};
  if (auto f = core_.Finish(tx, *seq, "replace digital", detail.dump(), 1); !f)
    return std::unexpected(f.error());
  return card;
}

Result<Card> Cards::FindCard(std::string_view serial) const {
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  return FindCardLocked(lease->db(), serial);
}

Result<Card> Cards::AttachToken(std::string_view serial, std::string_view token, Time at) {
  std::lock_guard lock(core_.mu);
  auto n = core_.db->Execute(
      "UPDATE cards SET qr_token = $2, qr_token_at = $3 WHERE serial = $1 AND qr_token IS NULL",
      {std::string(serial), std::string(token), Seconds(at)});
  if (!n) return std::unexpected(n.error());
  return FindCardLocked(*core_.db, serial);
}

Result<std::vector<std::pair<std::string, int>>> Cards::RevokedSerials(int first_year, int last_year) const {
  auto snapshot = Revocations(first_year, last_year);
  if (!snapshot) return std::unexpected(snapshot.error());
  return std::move(snapshot->revoked);
}

Result<RevocationSnapshot> Cards::Revocations(int first_year, int last_year) const {
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  RevocationSnapshot out;
  // The first row (kind 0) carries the sequence number: a revoked card's update tag is the audit
  // entry that revoked it (`ledger verify` checks that), and it never changes afterwards. Both
  // parts read the revoked cards through their partial index (cards_revoked); CROSS JOIN keeps
  // SQLite from walking every roster entry of the years instead (0.1 s at 750,000 entries).
  auto r = lease->db().ForEach(
      "SELECT 0, '', 0, COALESCE(max(update_tag), 0) FROM cards WHERE status = 'revoked' UNION ALL "
      "SELECT 1, c.serial, r.card_year, 0 FROM cards c CROSS JOIN roster r WHERE c.status = 'revoked' "
      "AND r.id = c.roster_id AND r.card_year BETWEEN $1 AND $2 ORDER BY 1, 3, 2",
      {int64_t{first_year}, int64_t{last_year}}, [&](const Row& row) {
        if (ToInt(row[0]) == 0)
          out.sequence = ToInt(row[3]);
        else
          out.revoked.emplace_back(*row[1], static_cast<int>(ToInt(row[2])));
      });
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<> Cards::ForEachDigitalCard(int year, const std::function<void(const Card&)>& fn) const {
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  Card card;
  return lease->db().ForEach(
      "SELECT c.serial, h.display_name, r.school_number, c.status, c.issued_on, sn.name, c.wallet_serial, " +
          std::string(kRenewedBySql) +
          " FROM cards c "
          "JOIN roster r ON r.id = c.roster_id LEFT JOIN holder_names h ON h.roster_id = r.id "
          "LEFT JOIN schools sn ON sn.school_number = r.school_number "
          "WHERE r.card_year = $1 AND c.channel = 'digital' ORDER BY c.serial",
      {int64_t{year}}, [&](const Row& row) {
        card.serial = row[0].value_or("");
        card.year = year;
        card.holder_name = row[1].value_or("");
        card.school = row[2].value_or("");
        card.revoked = row[3] == "revoked";
        card.issued_on = row[4].value_or("");
        card.school_name = row[5].value_or("");
        card.wallet_serial = row[6].value_or("");
        card.renewed_by = row[7].value_or("");
        fn(card);
      });
}

}  // namespace lk::ledger
