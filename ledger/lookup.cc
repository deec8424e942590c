// The staff console's reads (cards.h, audit.h, access.h): a staff member's cards found without
// issuing one, the audit entries of one card, and the credentials without their secrets.

#include "ledger/access.h"
#include "ledger/audit.h"
#include "ledger/cards.h"
#include "ledger/internal/core.h"

namespace lk::ledger {
using namespace internal;

Result<std::vector<Card>> Cards::FindCardsOfStaff(std::string_view staff_id) const {
  std::string id(Trim(staff_id));
  if (id.empty() || id.size() > 64)
    return Fail(Code::kInvalidArgument, "a staff identifier has 1 to 64 characters");
  std::lock_guard lock(core_.mu);
  auto keyer = core_.Keyer();
  if (!keyer) return std::unexpected(keyer.error());
  // card_years drives the join (a handful of rows) through roster's unique (card_year, staff_key).
  auto rows = core_.db->Query(
      "SELECT c.serial, r.card_year, c.channel, c.status, c.revoked_reason, h.display_name, r.school_number, "
      "c.issued_on, c.update_tag FROM card_years y CROSS JOIN roster r JOIN cards c ON c.roster_id = r.id "
      "LEFT JOIN holder_names h ON h.roster_id = r.id WHERE r.card_year = y.year AND r.staff_key = $1 "
      "ORDER BY r.card_year DESC, c.channel",
      {(*keyer)->Key(id)});
  if (!rows) return std::unexpected(rows.error());
  std::vector<Card> out;
  for (const Row& r : *rows) {
    Card card;
    card.serial = r[0].value_or("");
    card.year = static_cast<int>(ToInt(r[1]));
    if (auto ch = ParseChannel(r[2].value_or("")); ch) card.channel = *ch;
    card.revoked = r[3] == "revoked";
    card.revoked_reason = r[4].value_or("");
    card.holder_name = r[5].value_or("");
    card.school = r[6].value_or("");
    card.issued_on = r[7].value_or("");
    card.update_tag = ToInt(r[8]);
    out.push_back(std::move(card));
  }
  return out;
}

Result<std::vector<AuditEntry>> Audit::EntriesOfCard(std::string_view serial) const {
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  auto known = lease->db().Query("SELECT 1 FROM cards WHERE serial = $1", {std::string(serial)});
  if (!known) return std::unexpected(known.error());
  if (known->empty()) return Fail(Code::kNotFound, "no card with serial " + std::string(serial));
  std::vector<AuditEntry> out;
  auto r = lease->db().ForEach(
      "SELECT a.seq, a.at, a.action, a.detail FROM audit_log a WHERE a.seq IN ("
      "SELECT c.audit_seq FROM cards c WHERE c.serial = $1 UNION "
      "SELECT c.update_tag FROM cards c WHERE c.serial = $1 UNION "
      "SELECT k.audit_seq FROM cards c JOIN claim_codes k ON k.roster_id = c.roster_id WHERE c.serial = $1) "
      "ORDER BY a.seq",
      {std::string(serial)}, [&](const Row& row) {
        out.push_back({ToInt(row[0]), Time(std::chrono::seconds(ToInt(row[1]))), row[2].value_or(""),
                       row[3].value_or("")});
      });
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<std::vector<Credential>> Access::ListCredentials() const {
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  std::vector<Credential> out;
  auto r = lease->db().ForEach(
      "SELECT id, kind, name, created_at FROM credentials ORDER BY kind DESC, name", {}, [&](const Row& row) {
        Credential c;
        c.id = ToInt(row[0]);
        c.kind = row[1] == "partner" ? CredentialKind::kPartner : CredentialKind::kStaff;
        c.name = row[2].value_or("");
        c.created = Time(std::chrono::seconds(ToInt(row[3])));
        out.push_back(std::move(c));
      });
  if (!r) return std::unexpected(r.error());
  return out;
}

}  // namespace lk::ledger
