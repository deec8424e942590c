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

constexpr std::string_view kCodeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// A mailed claim code: the first 80 bits of the ledger key's HMAC of the roster entry and the
// nonce, as 16 Crockford base32 characters. The input is longer than any staff id (64 bytes at
// most), so it never collides with a staff key.
std::string MailedCode(StaffKeyer& keyer, int64_t roster_id, std::string_view nonce) {
  const std::string hex = keyer.Key("lerarenkaart claim code mailed to roster entry " +
                                    std::to_string(roster_id) + " with nonce " + std::string(nonce));
  std::string code;
  uint64_t bits = 0;
  int have = 0;
  for (size_t i = 0; i < 20; ++i) {  // 20 hex digits = 80 bits = 16 characters of 5 bits
    const char h = hex[i];
    bits = bits << 4 | static_cast<uint64_t>(h <= '9' ? h - '0' : h - 'a' + 10);
    for (have += 4; have >= 5; have -= 5) code += kCodeAlphabet[(bits >> (have - 5)) & 31];
  }
  return code;
}

std::string Dashed(const std::string& code) {
  return code.substr(0, 4) + "-" + code.substr(4, 4) + "-" + code.substr(8, 4) + "-" + code.substr(12, 4);
}

const char* MarkName(MailMark m) {
  switch (m) {
    case MailMark::kSending:
      return "sending";
    case MailMark::kSent:
      return "sent";
    case MailMark::kFailed:
      return "failed";
    case MailMark::kNone:
      break;
  }
  return "";
}

MailMark MarkOf(const std::optional<std::string>& state) {
  if (!state) return MailMark::kNone;
  if (*state == "sending") return MailMark::kSending;
  if (*state == "sent") return MailMark::kSent;
  return MailMark::kFailed;
}

// Holders of $1 with an address and no active digital card.
constexpr const char* kMailHolders =
    "FROM roster r JOIN holder_contacts h ON h.roster_id = r.id WHERE r.card_year = $1 AND NOT EXISTS "
    "(SELECT 1 FROM cards d WHERE d.roster_id = r.id AND d.channel = 'digital' AND d.status = 'active')";

}  // namespace

Result<int64_t> Access::CountClaimMailHolders(int year) const {
  if (auto r = CheckYear(year); !r) return std::unexpected(r.error());
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  auto rows = lease->db().Query(std::string("SELECT count(*) ") + kMailHolders, {int64_t{year}});
  if (!rows) return std::unexpected(rows.error());
  return rows->empty() ? 0 : ToInt(rows->front()[0]);
}

Result<std::vector<ClaimMailHolder>> Access::PrepareClaimMail(int year, int64_t after, size_t max_rows,
                                                              size_t max_to_mail, Time expires,
                                                              bool dry_run) {
  if (auto r = CheckYear(year); !r) return std::unexpected(r.error());
  std::lock_guard lock(core_.mu);
  auto keyer = core_.Keyer();
  if (!keyer) return std::unexpected(keyer.error());
  auto rows = core_.db->Query(
      "SELECT r.id, h.email, h.language, n.display_name, j.state, c.code_hash, c.mail_nonce, c.expires_at, "
      "c.used_at FROM roster r JOIN holder_contacts h ON h.roster_id = r.id "
      "LEFT JOIN holder_names n ON n.roster_id = r.id LEFT JOIN claim_mail_journal j ON j.roster_id = r.id "
      "LEFT JOIN claim_codes c ON c.roster_id = r.id "
      "WHERE r.card_year = $1 AND r.id > $2 AND NOT EXISTS (SELECT 1 FROM cards d WHERE d.roster_id = r.id "
      "AND d.channel = 'digital' AND d.status = 'active') ORDER BY r.id LIMIT $3",
      {int64_t{year}, after, static_cast<int64_t>(max_rows)});
  if (!rows) return std::unexpected(rows.error());
  const int64_t now = Seconds(core_.clock.Now()), until = Seconds(expires);
  const int64_t reusable_after = now + (until - now) / 2;  // a reused code keeps half the validity
  std::vector<ClaimMailHolder> out;
  struct NewCode {
    int64_t roster_id;
    std::string hash, nonce;
  };
  std::vector<NewCode> fresh;
  size_t to_mail = 0;
  for (const Row& row : *rows) {
    ClaimMailHolder h{ToInt(row[0]),       row[1].value_or(""), row[2].value_or(""),
                      row[3].value_or(""), MarkOf(row[4]),      ""};
    if (h.mark == MailMark::kNone || h.mark == MailMark::kFailed) {
      if (to_mail == max_to_mail) break;
      ++to_mail;
      if (!dry_run) {
        std::string code;
        if (row[6] && !row[8] && ToInt(row[7]) > reusable_after) {
          code = MailedCode(**keyer, h.roster_id, *row[6]);
          if (ClaimHash(code) != row[5].value_or("")) code.clear();  // replaced by a code of another kind
        }
        if (code.empty()) {
          std::string nonce = RandomBase32(26);
          code = MailedCode(**keyer, h.roster_id, nonce);
          fresh.push_back({h.roster_id, ClaimHash(code), std::move(nonce)});
        }
        h.code = Dashed(code);
      }
    }
    out.push_back(std::move(h));
  }
  if (fresh.empty()) return out;
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  for (const NewCode& c : fresh) {
    auto r = core_.db->Execute(
        "INSERT INTO claim_codes (roster_id, code_hash, expires_at, used_at, audit_seq, mail_nonce) VALUES "
        "($1, $2, $3, NULL, $4, $5) ON CONFLICT (roster_id) DO UPDATE SET code_hash = excluded.code_hash, "
        "expires_at = excluded.expires_at, used_at = NULL, audit_seq = excluded.audit_seq, mail_nonce = "
        "excluded.mail_nonce",
        {c.roster_id, c.hash, until, *seq, c.nonce});
    if (!r) return std::unexpected(r.error());
  }
  nlohmann::json detail = {{"year", year},
                           {"codes", fresh.size()},
                           {"for", "claim mail"},
                           {"first_roster_entry", fresh.front().roster_id},
                           {"last_roster_entry", fresh.back().roster_id},
                           {"expires", FormatRfc3339(expires)}};
  if (auto f = core_.Finish(tx, *seq, "create claim codes", detail.dump(), fresh.size()); !f)
    return std::unexpected(f.error());
  return out;
}

Result<> Access::MarkClaimMail(std::span<const ClaimMailMark> marks) {
  for (const auto& m : marks)
    if (m.mark == MailMark::kNone)
      return Fail(Code::kInvalidArgument, "a journal mark is sending, sent or failed");
  if (marks.empty()) return {};
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return r;
  const int64_t now = Seconds(core_.clock.Now());
  for (const auto& m : marks) {
    // "sending" only over nothing or "failed": a holder another run is mailing (or has mailed)
    // is not taken twice, even by two runs at once.
    const bool sending = m.mark == MailMark::kSending;
    auto r = core_.db->Execute(
        std::string(
            "INSERT INTO claim_mail_journal (roster_id, state, reason, updated_at) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (roster_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, "
            "updated_at = excluded.updated_at") +
            (sending ? " WHERE claim_mail_journal.state = 'failed'" : ""),
        {m.roster_id, std::string(MarkName(m.mark)),
         m.reason.empty() ? Value() : Value(m.reason.substr(0, 500)), now});
    if (!r) return std::unexpected(r.error());
    if (sending && *r == 0)
      return Fail(Code::kFailedPrecondition,
                  "roster entry " + std::to_string(m.roster_id) +
                      " is being mailed or was mailed by another run of claims send");
  }
  return tx.Commit();
}

Result<> Access::RecordClaimMailRun(const std::string& detail) {
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return r;
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  return core_.Finish(tx, *seq, "send claim mails", detail, 1);
}

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
        if (staff.empty()) return f.Bad(rec, 0, "staff_id_empty");
        if (name.empty() || name.size() > 100) return f.Bad(rec, 1, "claim_name");
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
  if (auto r = ReportNotOnRoster(*core_.db, "stage_claims", year, c[0] + 1, "claim_not_on_roster", problems);
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

namespace {
std::string SignInHash(std::string_view token) {
  return HexEncode(Sha256("lerarenkaart sign-in link\n" + std::string(token)));
}
}  // namespace

Result<std::optional<SignInLink>> Access::CreateSignInLink(std::string_view email_in, Time expires) {
  const std::string email(Trim(email_in));
  if (email.empty() || email.size() > 254) return std::optional<SignInLink>();
  std::lock_guard lock(core_.mu);
  auto rows = core_.db->Query(
      "SELECT r.id, h.email, h.language, n.display_name, r.card_year FROM holder_contacts h "
      "JOIN roster r ON r.id = h.roster_id LEFT JOIN holder_names n ON n.roster_id = r.id "
      "WHERE lower(h.email) = lower($1) AND EXISTS (SELECT 1 FROM cards d WHERE d.roster_id = r.id AND "
      "d.channel = 'digital' AND d.status = 'active') ORDER BY r.card_year DESC, r.id LIMIT 1",
      {email});
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::optional<SignInLink>();
  const Row& row = rows->front();
  SignInLink link{RandomBase32(32), row[1].value_or(""), row[3].value_or(""), row[2].value_or(""),
                  static_cast<int>(ToInt(row[4]))};
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  const int64_t roster_id = ToInt(row[0]);
  if (auto r =
          core_.db->Execute("DELETE FROM signin_links WHERE roster_id = $1 AND used_at IS NULL", {roster_id});
      !r)
    return std::unexpected(r.error());
  if (auto r = core_.db->Execute(
          "INSERT INTO signin_links (token_hash, roster_id, created_at, expires_at, used_at) VALUES ($1, $2, "
          "$3, "
          "$4, NULL)",
          {SignInHash(link.token), roster_id, Seconds(core_.clock.Now()), Seconds(expires)});
      !r)
    return std::unexpected(r.error());
  nlohmann::json detail = {
      {"roster_entry", roster_id}, {"year", link.year}, {"expires", FormatRfc3339(expires)}};
  if (auto f = core_.Finish(tx, *seq, "create sign-in link", detail.dump(), 1); !f)
    return std::unexpected(f.error());
  return std::optional<SignInLink>(std::move(link));
}

Result<IssuedCard> Access::RedeemSignInLink(std::string_view token) {
  if (token.size() != 32 || token.find_first_not_of(kCodeAlphabet) != std::string_view::npos)
    return Fail(Code::kNotFound, "this sign-in link is not known");
  std::lock_guard lock(core_.mu);
  auto rows = core_.db->Query(
      "SELECT s.roster_id, s.expires_at, s.used_at, r.card_year, r.staff_key FROM signin_links s "
      "JOIN roster r ON r.id = s.roster_id WHERE s.token_hash = $1",
      {SignInHash(token)});
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return Fail(Code::kNotFound, "this sign-in link is not known");
  const Row& row = rows->front();
  const int64_t now = Seconds(core_.clock.Now());
  if (row[2]) return Fail(Code::kFailedPrecondition, "this sign-in link has already been used");
  if (now >= ToInt(row[1])) return Fail(Code::kFailedPrecondition, "this sign-in link has expired");
  auto active = core_.db->Query(
      "SELECT 1 FROM cards WHERE roster_id = $1 AND channel = 'digital' AND status = 'active'",
      {ToInt(row[0])});
  if (!active) return std::unexpected(active.error());
  if (active->empty())
    return Fail(Code::kFailedPrecondition, "the card of this sign-in link is no longer active");
  auto cards = IssueKeys(core_, {*row[4]}, static_cast<int>(ToInt(row[3])));
  if (!cards) return std::unexpected(cards.error());
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  auto seq = core_.NextSeq();
  if (!seq) return std::unexpected(seq.error());
  auto used =
      core_.db->Execute("UPDATE signin_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
                        {SignInHash(token), now});
  if (!used) return std::unexpected(used.error());
  if (*used == 0) return Fail(Code::kFailedPrecondition, "this sign-in link has already been used");
  nlohmann::json detail = {{"roster_entry", ToInt(row[0])}, {"serial", cards->front().serial}};
  if (auto f = core_.Finish(tx, *seq, "sign in by link", detail.dump(), 1); !f)
    return std::unexpected(f.error());
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
