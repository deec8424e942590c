// Partner use counts: one upsert per (day, partner, outcome) in a single write transaction.
// Not audited: these are statistics, not a change to any card or credential.
#include "ledger/usage.h"

#include <algorithm>

#include "ledger/internal/core.h"

namespace lk::ledger {
namespace {

constexpr std::string_view kOutcomes[] = {
    "valid", "revoked", "expired", "not_yet_valid", "not_lerarenkaart", "damaged", "unknown_key"};

bool IsDay(std::string_view d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (d[i] < '0' || d[i] > '9') return false;
  return true;
}

}  // namespace

Result<> Usage::Add(std::span<const VerificationCount> counts) {
  for (const auto& c : counts) {
    if (!IsDay(c.day))
      return Fail(Code::kInvalidArgument, "verification count: day '" + c.day + "' is not YYYY-MM-DD");
    if (std::find(std::begin(kOutcomes), std::end(kOutcomes), c.outcome) == std::end(kOutcomes))
      return Fail(Code::kInvalidArgument, "verification count: unknown outcome '" + c.outcome + "'");
    if (c.count < 1) return Fail(Code::kInvalidArgument, "verification count: a count must be at least 1");
  }
  if (counts.empty()) return {};
  std::lock_guard lock(core_.mu);
  internal::Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return r;
  for (const auto& c : counts)
    if (auto r = core_.db->Execute(
            "INSERT INTO verification_counts (day, partner_id, outcome, count) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (day, partner_id, outcome) DO UPDATE SET count = verification_counts.count + "
            "excluded.count",
            {c.day, c.partner_id, c.outcome, c.count});
        !r)
      return std::unexpected(r.error());
  return tx.Commit();
}

Result<std::vector<VerificationCount>> Usage::Query(const std::string& first_day,
                                                    const std::string& last_day) const {
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  auto rows = lease->db().Query(
      "SELECT v.day, v.partner_id, v.outcome, v.count, c.name FROM verification_counts v "
      "LEFT JOIN credentials c ON c.id = v.partner_id AND c.kind = 'partner' "
      "WHERE v.day >= $1 AND v.day <= $2 ORDER BY v.day, v.partner_id, v.outcome",
      {first_day, last_day});
  if (!rows) return std::unexpected(rows.error());
  std::vector<VerificationCount> out;
  for (const auto& r : *rows)
    out.push_back({r[0].value_or(""), internal::ToInt(r[1]), r[2].value_or(""), internal::ToInt(r[3]),
                   r[4].value_or("")});
  return out;
}

}  // namespace lk::ledger
