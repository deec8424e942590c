// The audit chain's verification (audit.h). The entries themselves are written by
// internal::Core::Finish, in the transaction of the write they record.
#include "ledger/audit.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "ledger/internal/aggregates.h"
#include "ledger/internal/core.h"

namespace lk::ledger {
using namespace internal;

namespace {

// Compares every card row with what its audit entry recorded (fields that never change, see
// CardFingerprint) and with the revocations in the log; names the first card that differs, in
// (entry, serial) order. Cards of entries written before the ledger recorded card lists are
// checked against the revocations only.
template <typename Revocations>
Result<> VerifyCards(Db& db, const std::unordered_map<int64_t, std::string>& lists,
                     const Revocations& revocations,
                     const std::unordered_map<std::string, int64_t>& refreshed, VerifyReport& rep) {
  int64_t list_seq = -1;
  std::string_view rest;  // the unchecked part of the current entry's list
  auto fail = [&](int64_t seq, std::string_view serial, std::string what) {
    if (rep.first_bad) return;
    rep.first_bad = seq;
    rep.bad_card = std::string(serial);
    rep.problem =
        "card " + std::string(serial) + " (audit entry " + std::to_string(seq) + "): " + std::move(what);
  };
  // Streamed row by row (a whole result of millions of cards would not fit in memory).
  auto r = db.ForEach(
      "SELECT c.audit_seq, c.serial, r.card_year, r.staff_key, c.channel, c.issued_on, c.school_year, "
      "coalesce(c.auth_token, ''), c.status, coalesce(c.revoked_reason, ''), coalesce(c.revoked_at, -1), "
      "c.update_tag, coalesce(c.replaced_by, '') FROM cards c LEFT JOIN roster r ON r.id = c.roster_id ORDER "
      "BY c.audit_seq, c.serial",
      {}, [&](const Row& row) {
        const RowCells c{row};
        if (rep.first_bad) return;
        const int64_t seq = c.Int(0);
        const std::string_view serial = c.Text(1);
        if (seq != list_seq) {
          if (list_seq >= 0 && !rest.empty())
            return fail(list_seq, rest.substr(0, rest.find(':')), "recorded by its audit entry but missing");
          list_seq = seq;
          auto it = lists.find(seq);
          rest = it == lists.end() ? std::string_view() : std::string_view(it->second);
          if (it == lists.end()) list_seq = -2 - seq;  // no list: nothing to compare
        }
        if (list_seq == seq) {
          const size_t end = std::min(rest.find(','), rest.size());
          std::string_view item = rest.substr(0, end);
          rest = end < rest.size() ? rest.substr(end + 1) : std::string_view();
          const size_t colon = item.find(':');
          if (item.substr(0, colon) != serial)
            return fail(seq, serial,
                        "not among the cards its audit entry recorded (added or renamed behind the "
                        "ledger's back)");
          const std::string year = std::to_string(c.Int(2)), sy = std::to_string(c.Int(6));
          if (colon == std::string_view::npos ||
              item.substr(colon + 1) !=
                  View(CardFingerprint(serial, year, c.Text(3), c.Text(4), c.Text(5), sy, c.Text(7))))
            return fail(seq, serial, "its fields differ from what its audit entry recorded (edited)");
        }
        auto rv = revocations.find(std::string(serial));
        const bool revoked = c.Text(8) == "revoked";
        if (rv == revocations.end()) {
          if (revoked) return fail(seq, serial, "revoked, but no audit entry revoked it");
          if (!c.Text(12).empty()) return fail(seq, serial, "replaced, but no audit entry replaced it");
          if (c.Int(11) != seq) {  // or the entry that last re-signed its token (`cards refresh`)
            auto f = refreshed.find(std::string(serial));
            if (f == refreshed.end() || f->second != c.Int(11))
              return fail(seq, serial, "its update tag was changed behind the ledger's back");
          }
          return;
        }
        if (!revoked)
          return fail(seq, serial,
                      "active, but audit entry " + std::to_string(rv->second.seq) + " revoked it");
        if (c.Text(9) != rv->second.reason || c.Int(11) != rv->second.seq ||
            (rv->second.at >= 0 && c.Int(10) != rv->second.at))
          return fail(seq, serial,
                      "its revocation differs from audit entry " + std::to_string(rv->second.seq));
        if (c.Text(12) != rv->second.replaced_by)
          return fail(seq, serial,
                      "its replacement differs from audit entry " + std::to_string(rv->second.seq));
      });
  if (!r) return r;
  if (!rep.first_bad && list_seq >= 0 && !rest.empty())
    fail(list_seq, rest.substr(0, rest.find(':')), "recorded by its audit entry but missing");
  return {};
}

}  // namespace

Result<VerifyReport> Audit::Verify() const {
  std::lock_guard lock(core_.mu);
  VerifyReport rep;
  std::string prev = kZeroHash;
  int64_t expect = 1;
  auto bad = [&](int64_t seq, std::string what) {
    if (!rep.first_bad) {
      rep.first_bad = seq;
      rep.problem = "audit entry " + std::to_string(seq) + ": " + std::move(what);
    }
  };
  // Per-entry record counts, to catch rows deleted from or slipped into the data tables.
  std::unordered_map<int64_t, std::pair<std::string, int64_t>> claimed;
  // What each entry recorded of the cards it made, and of the cards it revoked.
  std::unordered_map<int64_t, std::string> card_lists;
  struct Revocation {
    int64_t seq;
    std::string reason;
    int64_t at;               // -1: not recorded (entries written before the ledger recorded it)
    std::string replaced_by;  // the replacement's serial (a move to a new device), "" for a revocation
  };
  std::unordered_map<std::string, Revocation> revocations;
  std::unordered_map<std::string, int64_t> refreshed;  // serial -> the last entry that re-signed it
  // A card of a later year in an earlier card's wallet entry: new serial -> (entry serial, entry).
  std::unordered_map<std::string, std::pair<std::string, int64_t>> renewed;
  auto r = core_.db->ForEach(
      "SELECT seq, at, action, detail, prev_hash, hash FROM audit_log ORDER BY seq", {}, [&](const Row& row) {
        if (rep.first_bad) return;
        ++rep.entries;
        int64_t seq = ToInt(row[0]);
        std::string action = row[2].value_or(""), detail = row[3].value_or("");
        if (seq != expect) {
          bad(expect, "missing (the log jumps from " + std::to_string(expect - 1) + " to " +
                          std::to_string(seq) + ")");
          return;
        }
        if (row[4].value_or("") != prev) {
          bad(seq, "does not chain to entry " + std::to_string(seq - 1));
          return;
        }
        std::string h = AuditHash(prev, seq, ToInt(row[1]), action, detail);
        if (h != row[5].value_or("")) {
          bad(seq, "its content does not match its hash (edited)");
          return;
        }
        auto j = nlohmann::json::parse(detail, nullptr, false);
        if (j.is_object() && j.contains("table") && j.contains("added"))
          claimed[seq] = {j["table"].get<std::string>(), j["added"].get<int64_t>()};
        if (j.is_object() && j.contains("cards") && j["cards"].is_string())
          card_lists[seq] = j["cards"].get<std::string>();
        if (action == "refresh tokens" && j.is_object() && j.contains("serials") &&
            j["serials"].is_string()) {
          const std::string& list = j["serials"].get_ref<const std::string&>();
          for (size_t pos = 0; pos < list.size();) {
            size_t comma = std::min(list.find(',', pos), list.size());
            refreshed[list.substr(pos, comma - pos)] = seq;
            pos = comma + 1;
          }
        }
        if (action == "renew digital" && j.is_object() && j.contains("renewed") && j["renewed"].is_array())
          for (const auto& e : j["renewed"]) {
            if (!e.is_string()) continue;
            const std::string& t = e.get_ref<const std::string&>();
            const size_t a = t.find('>'), b = t.rfind('>');
            if (a != std::string::npos && b != a) renewed[t.substr(b + 1)] = {t.substr(0, a), seq};
          }
        // A move to a new device revokes the old card in the entry that adds its replacement.
        if ((action == "revoke" || action == "replace digital") && j.is_object() && j.contains("serial") &&
            j["serial"].is_string())
          revocations[j["serial"].get<std::string>()] = {seq, j.value("reason", std::string()),
                                                         j.value("revoked_at", int64_t{-1}),
                                                         j.value("replaced_by", std::string())};
        prev = h;
        ++expect;
      });
  if (!r) return std::unexpected(r.error());
  if (rep.first_bad) return rep;
  auto head = core_.db->Query("SELECT seq, hash FROM audit_head WHERE id = 1");
  if (!head) return std::unexpected(head.error());
  if (head->empty()) {
    bad(expect, "the audit head is missing");
    return rep;
  }
  int64_t head_seq = ToInt((*head)[0][0]);
  if (head_seq > expect - 1) {
    bad(expect, "missing (the log ends at " + std::to_string(expect - 1) + ", the head says " +
                    std::to_string(head_seq) + ")");
    return rep;
  }
  if (head_seq < expect - 1) {
    bad(head_seq + 1, "not recorded in the audit head (the head says " + std::to_string(head_seq) + ")");
    return rep;
  }
  if ((*head)[0][1].value_or("") != prev) {
    bad(head_seq, "does not match the hash kept in the audit head");
    return rep;
  }
  // Rows in the data tables must add up to what each entry says it added.
  std::map<int64_t, std::string> issues;
  std::unordered_map<int64_t, int64_t> actual;
  for (const char* table : {"roster", "cards", "published_uptake"}) {
    auto counts =
        core_.db->Query(std::string("SELECT audit_seq, count(*) FROM ") + table + " GROUP BY audit_seq");
    if (!counts) return std::unexpected(counts.error());
    for (auto& row : *counts) {
      int64_t seq = ToInt(row[0]);
      auto it = claimed.find(seq);
      if (it == claimed.end() || it->second.first != table)
        issues.emplace(
            seq, std::to_string(ToInt(row[1])) + " " + table + " rows claim this entry, which added none");
      else
        actual[seq] = ToInt(row[1]);
    }
  }
  for (auto& [seq, want] : claimed) {
    int64_t have = actual.count(seq) ? actual[seq] : 0;
    if (have != want.second)
      issues.emplace(seq, "added " + std::to_string(want.second) + " " + want.first + " rows but " +
                              std::to_string(have) +
                              " are in the ledger (rows deleted or added behind its back)");
  }
  if (!issues.empty()) bad(issues.begin()->first, issues.begin()->second);
  if (rep.first_bad) return rep;
  if (auto cards = VerifyCards(*core_.db, card_lists, revocations, refreshed, rep); !cards)
    return std::unexpected(cards.error());
  if (rep.first_bad) return rep;
  // Every card's wallet entry is the one its renewal recorded (and only renewals give one).
  {
    auto entries = core_.db->Query("SELECT serial, wallet_serial FROM cards WHERE wallet_serial IS NOT NULL");
    if (!entries) return std::unexpected(entries.error());
    size_t matched = 0;
    for (const Row& row : *entries) {
      const std::string serial = row[0].value_or(""), wallet = row[1].value_or("");
      auto it = renewed.find(serial);
      if (it == renewed.end() || it->second.first != wallet) {
        rep.bad_card = serial;
        const std::string what = "card " + serial + " is in the wallet entry of " + wallet +
                                 ", which no renewal recorded (set behind the ledger's back)";
        if (it == renewed.end())
          rep.problem = what;
        else
          bad(it->second.second, what + "; the entry recorded " + it->second.first);
        return rep;
      }
      ++matched;
    }
    if (matched != renewed.size())
      for (const auto& [serial, entry] : renewed) {
        bool found = false;
        for (const Row& row : *entries) found = found || row[0].value_or("") == serial;
        if (!found) {
          rep.bad_card = serial;
          bad(entry.second, "card " + serial + " lost the wallet entry of " + entry.first + " it recorded");
          return rep;
        }
      }
  }
  // The adoption aggregate must equal a recount from roster and cards.
  auto stored = ReadCells(*core_.db, false);
  if (!stored) return std::unexpected(stored.error());
  auto recount = ReadCells(*core_.db, true);
  if (!recount) return std::unexpected(recount.error());
  auto a = stored->begin(), b = recount->begin();
  while (a != stored->end() || b != recount->end()) {
    if (a != stored->end() && b != recount->end() && a->first == b->first) {
      if (a->second != b->second) {
        rep.problem = "adoption aggregate: cell " + DescribeCell(a->first) + " holds " +
                      std::to_string(a->second) + ", a recount of the cards gives " +
                      std::to_string(b->second);
        return rep;
      }
      ++a, ++b;
    } else if (b == recount->end() || (a != stored->end() && a->first < b->first)) {
      rep.problem = "adoption aggregate: cell " + DescribeCell(a->first) + " holds " +
                    std::to_string(a->second) + ", a recount of the cards gives 0";
      return rep;
    } else {
      rep.problem = "adoption aggregate: cell " + DescribeCell(b->first) +
                    " is missing, a recount of the cards gives " + std::to_string(b->second);
      return rep;
    }
  }
  // So must the school-year aggregate.
  for (bool holders : {false, true}) {
    auto kept = ReadSchoolCells(*core_.db, holders, false);
    if (!kept) return std::unexpected(kept.error());
    auto count = ReadSchoolCells(*core_.db, holders, true);
    if (!count) return std::unexpected(count.error());
    const std::string what = "school-year aggregate: cell ";
    auto x = kept->begin(), y = count->begin();
    while (x != kept->end() || y != count->end()) {
      if (x != kept->end() && y != count->end() && x->first == y->first) {
        if (x->second != y->second) {
          rep.problem = what + DescribeSchool(x->first, holders) + " holds " + std::to_string(x->second) +
                        ", a recount of the cards gives " + std::to_string(y->second);
          return rep;
        }
        ++x, ++y;
      } else if (y == count->end() || (x != kept->end() && x->first < y->first)) {
        rep.problem = what + DescribeSchool(x->first, holders) + " holds " + std::to_string(x->second) +
                      ", a recount of the cards gives 0";
        return rep;
      } else {
        rep.problem = what + DescribeSchool(y->first, holders) +
                      " is missing, a recount of the cards gives " + std::to_string(y->second);
        return rep;
      }
    }
  }
  rep.ok = true;
  return rep;
}

}  // namespace lk::ledger
