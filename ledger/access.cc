// Claim codes and service credentials (access.h).
#include "ledger/access.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "ledger/internal/core.h"
#include "ledger/internal/csv_import.h"

namespace lk::ledger {
using namespace internal;

namespace {

std::string ClaimHash(std::string_view normalized_code) {
  return HexEncode(Sha256("lerarenkaart claim code\n" + std::string(normalized_code)));
}

}  // namespace

std::string_view CredentialKindName(CredentialKind k) {
  return k == CredentialKind::kStaff ? "staff" : "partner";
}

Result<std::vector<ClaimCode>> Access::CreateClaimCodes(const CsvSource& csv, int year, Time expires) {
  std::lock_guard lock(core_.mu);
  if (auto r = CheckYear(year); !r) return std::unexpected(r.error());
  auto keyer = core_.Keyer();
  if (!keyer) return std::unexpected(keyer.error());
  std::vector<Row> stage;
  std::vector<ClaimCode> codes;
  auto in = ReadCsvImport(
      csv, {"staff_id", "first_name", "last_name"}, {}, [&](CsvImport& f, const CsvRecord& rec) {
        std::string staff = f.Field(rec, 0), first = f.Field(rec, 1), last = f.Field(rec, 2);
        std::string name = first + (first.empty() || last.empty() ? "" : " ") + last;
        if (staff.empty()) return f.Bad(rec, 0, "empty staff identifier");
        if (name.empty() || name.size() > 100) return f.Bad(rec, 1, "the name must have 1 to 100 bytes");
        std::string key = (*keyer)->Key(staff);
        if (!f.FirstMention(rec, 0, key)) return;
        std::string code = RandomBase32(16);
        stage.push_back({std::to_string(rec.line), key, name, ClaimHash(code)});
        codes.push_back({staff, code.substr(0, 4) + "-" + code.substr(4, 4) + "-" + code.substr(8, 4) + "-" +
                                    code.substr(12, 4)});
      });
  if (!in) return std::unexpected(in.error());
  Problems& problems = *(*in)->problems;
  const auto& c = (*in)->cols;
  if (!problems.empty()) return problems.ToError();
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  if (auto r = core_.Stage(
          "stage_claims", "line BIGINT, staff_key " + core_.KeyType() + ", display_name TEXT, code_hash TEXT",
          {"line", "staff_key", "display_name", "code_hash"}, stage);
      !r)
    return std::unexpected(r.error());
  if (auto r = ReportNotOnRoster(
          *core_.db, "stage_claims", year, c[0] + 1,
          "not on the roster of card year " + std::to_string(year) + " (import the roster first)", problems);
      !r)
    return std::unexpected(r.error());
  if (!problems.empty()) return problems.ToError();
  if (auto r = core_.db->Execute("INSERT INTO holder_names (roster_id, display_name) SELECT r.id, "
                                 "s.display_name FROM stage_claims s "
                                 "JOIN roster r ON r.card_year = $1 AND r.staff_key = s.staff_key WHERE true "
                                 "ON CONFLICT (roster_id) DO UPDATE SET display_name = excluded.display_name",
                                 {int64_t{year}});
      !r)
    return std::unexpected(r.error());
  auto n = core_.db->Execute(
      "INSERT INTO claim_codes (roster_id, code_hash, expires_at, used_at, audit_seq) SELECT r.id, "
      "s.code_hash, $2, "
      "NULL, $3 FROM stage_claims s JOIN roster r ON r.card_year = $1 AND r.staff_key = s.staff_key WHERE "
      "true "
      "ON CONFLICT (roster_id) DO UPDATE SET code_hash = excluded.code_hash, expires_at = "
      "excluded.expires_at, "
      "used_at = NULL, audit_seq = excluded.audit_seq",
      {int64_t{year}, Seconds(expires), *seq});
  if (!n) return std::unexpected(n.error());
  nlohmann::json detail = {{"year", year},
                           {"file", std::filesystem::path(csv.name).filename().string()},
                           {"codes", codes.size()},
                           {"expires", FormatRfc3339(expires)}};
  if (auto f = core_.Finish(tx, *seq, "create claim codes", detail.dump(), codes.size()); !f)
    return std::unexpected(f.error());
  return codes;
}

Result<IssuedCard> Access::RedeemClaimCode(std::string_view code, std::chrono::seconds retry_window) {
  std::string norm;
  for (char ch : code)
    if (ch != '-' && ch != ' ') norm += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  static const std::string kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  if (norm.size() != 16 || norm.find_first_not_of(kAlphabet) != std::string::npos)
    return Fail(Code::kInvalidArgument, "a claim code has 16 letters and digits, as XXXX-XXXX-XXXX-XXXX");
  std::lock_guard lock(core_.mu);
  auto rows = core_.db->Query(
      "SELECT c.roster_id, c.expires_at, c.used_at, r.card_year, r.staff_key FROM claim_codes c "
      "JOIN roster r ON r.id = c.roster_id WHERE c.code_hash = $1",
      {ClaimHash(norm)});
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return Fail(Code::kNotFound, "this claim code is not known");
  const Row& row = rows->front();
  int64_t now = Seconds(core_.clock.Now());
  if (now >= ToInt(row[1]))
    return Fail(Code::kFailedPrecondition, "this claim code has expired; ask the school for a new one");
  if (row[2] && now - ToInt(row[2]) > retry_window.count())
    return Fail(Code::kFailedPrecondition, "this claim code has already been used");
  auto cards = IssueKeys(core_, {*row[4]}, static_cast<int>(ToInt(row[3])));
  if (!cards) return std::unexpected(cards.error());
  if (!row[2]) {
    auto used = core_.db->Execute(
        "UPDATE claim_codes SET used_at = $2 WHERE roster_id = $1 AND used_at IS NULL", {ToInt(row[0]), now});
    if (!used) return std::unexpected(used.error());
  }
  return cards->front();
}

Result<std::string> Access::AddCredential(CredentialKind kind, std::string_view name_in) {
  std::string name(Trim(name_in));
  if (name.empty() || name.size() > 100 ||
      std::any_of(name.begin(), name.end(), [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; }))
    return Fail(Code::kInvalidArgument,
                "a credential name has 1 to 100 characters and no control characters");
  std::string secret = std::string(kind == CredentialKind::kStaff ? "lks_" : "lkp_") + RandomBase32(32);
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  std::string k(CredentialKindName(kind));
  auto taken = core_.db->Query("SELECT 1 FROM credentials WHERE kind = $1 AND name = $2", {k, name});
  if (!taken) return std::unexpected(taken.error());
  if (!taken->empty())
    return Fail(Code::kAlreadyExists, "there is already a " + k + " credential named '" + name + "'");
  if (auto r = core_.db->Execute(
          "INSERT INTO credentials (kind, name, secret_hash, created_at, audit_seq) VALUES ($1, $2, "
          "$3, $4, $5)",
          {k, name, HexEncode(Sha256(secret)), Seconds(core_.clock.Now()), *seq});
      !r)
    return std::unexpected(r.error());
  nlohmann::json detail = {{"kind", k}, {"name", name}};
  if (auto f = core_.Finish(tx, *seq, "add credential", detail.dump(), 1); !f)
    return std::unexpected(f.error());
  return secret;
}

Result<> Access::RemoveCredential(CredentialKind kind, std::string_view name_in) {
  std::string name(Trim(name_in)), k(CredentialKindName(kind));
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return r;
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  auto n = core_.db->Execute("DELETE FROM credentials WHERE kind = $1 AND name = $2", {k, name});
  if (!n) return std::unexpected(n.error());
  if (*n == 0) return Fail(Code::kNotFound, "there is no " + k + " credential named '" + name + "'");
  nlohmann::json detail = {{"kind", k}, {"name", name}};
  return core_.Finish(tx, *seq, "remove credential", detail.dump(), static_cast<uint64_t>(*n));
}

Result<Credential> Access::Authenticate(CredentialKind kind, std::string_view secret) const {
  if (secret.empty() || secret.size() > 200) return Fail(Code::kUnauthenticated, "no such credential");
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  auto rows =
      lease->db().Query("SELECT id, name, created_at FROM credentials WHERE secret_hash = $1 AND kind = $2",
                        {HexEncode(Sha256(secret)), std::string(CredentialKindName(kind))});
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return Fail(Code::kUnauthenticated, "no such credential");
  const Row& r = rows->front();
  return Credential{ToInt(r[0]), kind, r[1].value_or(""), Time(std::chrono::seconds(ToInt(r[2])))};
}

Result<Credential> Access::FindCredential(CredentialKind kind, int64_t id) const {
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  auto rows = lease->db().Query("SELECT id, name, created_at FROM credentials WHERE id = $1 AND kind = $2",
                                {id, std::string(CredentialKindName(kind))});
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty())
    return Fail(Code::kNotFound,
                "no " + std::string(CredentialKindName(kind)) + " credential " + std::to_string(id));
  const Row& r = rows->front();
  return Credential{ToInt(r[0]), kind, r[1].value_or(""), Time(std::chrono::seconds(ToInt(r[2])))};
}

Result<std::vector<ClaimCode>> Access::CreateClaimCodes(const std::filesystem::path& roster, int year,
                                                        Time expires) {
  auto source = ReadCsvSource(roster);
  if (!source) return std::unexpected(source.error());
  return CreateClaimCodes(*source, year, expires);
}

}  // namespace lk::ledger
