// The new card year in the same wallet entry (cards.h: RenewDigital, RenewalStatus). A renewed
// card is an ordinary card of the new year (its own roster entry, serial, issue date and school
// year, so the aggregates count it in its year through InsertCards) that names the wallet entry
// it took over in `wallet_serial`; the earlier card is left as it was.
#include <nlohmann/json.hpp>

#include "ledger/cards.h"
#include "ledger/internal/aggregates.h"
#include "ledger/internal/core.h"
#include "ledger/internal/pass_changes.h"

namespace lk::ledger {
using namespace internal;

namespace {

// Active digital cards of card year $1 (not moved away) whose holder is on the roster of $2 and
// holds no digital card there, holders after staff key $3: the roster of $1 drives in staff-key
// order (UNIQUE (card_year, staff_key)), so a batch stops after its LIMIT; each card through
// cards_current, the holder's next roster entry through the same unique index. "No card" is "no
// current card" (a replaced card always has a current successor), which cards_current (partial:
// replaced_by IS NULL) answers; without that term the engines read every card per holder.
constexpr const char* kCandidatesSql =
    "FROM roster r CROSS JOIN cards c CROSS JOIN roster nr WHERE r.card_year = $1 AND r.staff_key > $3 AND "
    "c.roster_id = r.id AND c.channel = 'digital' AND c.replaced_by IS NULL AND c.status = 'active' AND "
    "nr.card_year = $2 AND nr.staff_key = r.staff_key AND NOT EXISTS (SELECT 1 FROM cards d WHERE "
    "d.roster_id = "
    "nr.id AND d.channel = 'digital' AND d.replaced_by IS NULL)";

}  // namespace

Result<std::vector<Card>> Cards::RenewDigital(int year, size_t limit, const TokenSigner& sign, Time at,
                                              std::string* cursor) {
  std::lock_guard lock(core_.mu);
  if (auto r = CheckYear(year); !r) return std::unexpected(r.error());
  if (auto r = CheckYear(year - 1); !r) return std::unexpected(r.error());
  if (limit == 0) return std::vector<Card>{};
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  const std::string after = cursor ? *cursor : "";
  auto found =
      core_.db->Query(std::string("SELECT c.serial, COALESCE(c.wallet_serial, c.serial), c.auth_token, "
                                  "r.staff_key ") +
                          kCandidatesSql + " ORDER BY r.staff_key LIMIT $4",
                      {int64_t{year - 1}, int64_t{year}, after, static_cast<int64_t>(limit)});
  if (!found) return std::unexpected(found.error());
  if (found->empty()) return std::vector<Card>{};  // the transaction rolls back: nothing written
  const std::string last_key = found->back()[3].value_or("");
  const auto today = BrusselsDate(core_.clock.Now());
  const std::string issued_on = FormatIsoDate(today);
  const int school_year = SchoolYearOf(today);
  // Serials ascend with the holders' staff keys (the order found), as in every batch.
  std::vector<size_t> order(found->size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::vector<std::string> serials = SortedRandomSerials(found->size());
  std::vector<Card> out(found->size());
  std::vector<Row> stage;
  stage.reserve(found->size());
  std::vector<std::pair<std::string, Fingerprint>> fingerprints;
  fingerprints.reserve(found->size());
  nlohmann::json entries = nlohmann::json::array();
  const std::string year_text = std::to_string(year), sy_text = std::to_string(school_year);
  for (size_t k = 0; k < order.size(); ++k) {
    const Row& old = (*found)[order[k]];
    Card& card = out[order[k]];
    card.serial = serials[k];
    card.year = year;
    card.wallet_serial = old[1].value_or("");
    card.auth_token = old[2].value_or("");
    card.update_tag = *seq;
    card.token_at = at;
    auto token = sign(card.serial, year);
    if (!token) return std::unexpected(token.error());
    card.token = std::move(*token);
    stage.push_back({old[3].value_or(""), card.serial, card.auth_token, card.wallet_serial, card.token});
    fingerprints.emplace_back(card.serial, CardFingerprint(card.serial, year_text, old[3].value_or(""),
                                                           "digital", issued_on, sy_text, card.auth_token));
  }
  for (size_t i = 0; i < out.size(); ++i)  // ordered by the earlier cards' serials
    entries.push_back(out[i].wallet_serial + ">" + (*found)[i][0].value_or("") + ">" + out[i].serial);
  if (auto r = core_.Stage("stage_renew",
                           "staff_key " + core_.KeyType() +
                               ", serial TEXT, auth_token TEXT, wallet_serial TEXT, qr_token TEXT",
                           {"staff_key", "serial", "auth_token", "wallet_serial", "qr_token"}, stage);
      !r)
    return std::unexpected(r.error());
  auto added = InsertCards(
      core_,
      {"serial, roster_id, channel, issued_on, school_year, status, auth_token, update_tag, audit_seq, "
       "wallet_serial, qr_token, qr_token_at",
       "s.serial AS serial, r.id AS roster_id, 'digital' AS channel, CAST($3 AS " + core_.DateType() +
           ") AS issued_on, CAST($4 AS INTEGER) AS school_year, 'active' AS status, s.auth_token AS "
           "auth_token, "
           "CAST($2 AS BIGINT) AS update_tag, CAST($2 AS BIGINT) AS audit_seq, s.wallet_serial AS "
           "wallet_serial, "
           "s.qr_token AS qr_token, CAST($5 AS BIGINT) AS qr_token_at",
       "FROM stage_renew s CROSS JOIN roster r WHERE r.card_year = $1 AND r.staff_key = s.staff_key",
       "'digital'"},
      {int64_t{year}, *seq, issued_on, int64_t{school_year}, Seconds(at)}, *seq, year, Channel::kDigital,
      school_year, school_year);
  if (!added) return std::unexpected(added.error());
  if (static_cast<size_t>(*added) != out.size())  // the writer lock is held: the candidates cannot change
    return Fail(Code::kInternal, "renewal of card year " + year_text + ": " + std::to_string(*added) +
                                     " of " + std::to_string(out.size()) +
                                     " cards stored; nothing was changed");
  if (auto st = core_.RefreshStatistics("cards", static_cast<uint64_t>(*added)); !st)
    return std::unexpected(st.error());
  // Each wallet entry changed: its devices are told (pass_updates.h).
  for (const Card& card : out)
    if (auto r = QueuePassChange(core_, card.serial); !r) return std::unexpected(r.error());
  nlohmann::json detail = {{"year", year},
                           {"table", "cards"},
                           {"added", *added},
                           {"renewed", std::move(entries)},
                           {"cards", CardList(std::move(fingerprints))}};
  if (auto f = core_.Finish(tx, *seq, "renew digital", detail.dump(), static_cast<uint64_t>(*added)); !f)
    return std::unexpected(f.error());
  if (cursor) *cursor = last_key;
  return out;
}

Result<RenewalCounts> Cards::RenewalStatus(int year) const {
  if (auto r = CheckYear(year); !r) return std::unexpected(r.error());
  if (auto r = CheckYear(year - 1); !r) return std::unexpected(r.error());
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  auto rows = lease->db().Query(
      "SELECT COALESCE(sum(CASE WHEN nr.id IS NULL THEN 1 ELSE 0 END), 0), "
      "COALESCE(sum(CASE WHEN nr.id IS NOT NULL AND d.serial IS NULL THEN 1 ELSE 0 END), 0), "
      "COALESCE(sum(CASE WHEN d.wallet_serial = COALESCE(c.wallet_serial, c.serial) THEN 1 ELSE 0 END), 0), "
      "COALESCE(sum(CASE WHEN d.serial IS NOT NULL AND (d.wallet_serial IS NULL OR d.wallet_serial <> "
      "COALESCE(c.wallet_serial, c.serial)) THEN 1 ELSE 0 END), 0) "
      "FROM roster r JOIN cards c ON c.roster_id = r.id AND c.channel = 'digital' AND c.replaced_by IS NULL "
      "AND "
      "c.status = 'active' LEFT JOIN roster nr ON nr.card_year = $2 AND nr.staff_key = r.staff_key "
      "LEFT JOIN cards d ON d.roster_id = nr.id AND d.channel = 'digital' AND d.replaced_by IS NULL "
      "WHERE r.card_year = $1",
      {int64_t{year - 1}, int64_t{year}});
  if (!rows) return std::unexpected(rows.error());
  const Row& r = rows->front();
  return RenewalCounts{ToInt(r[1]), ToInt(r[2]), ToInt(r[3]), ToInt(r[0])};
}

}  // namespace lk::ledger
