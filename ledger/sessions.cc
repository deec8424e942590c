// Sessions (sessions.h): one row per session in `sessions`, keyed by the hex SHA-256 of its id,
// and the number of rows of each kind in `session_counts`, kept in the same write transaction as
// every insert and delete so that the cap costs one read instead of a count over the table.
// Not audited: signing in and out changes no card or credential.
#include "ledger/sessions.h"

#include "ledger/internal/core.h"

namespace lk::ledger {
using namespace internal;
namespace {

constexpr size_t kIdChars = 43;  // base64url of 32 bytes

// An id worth looking up: the length Create makes; anything else is unknown without a query.
bool Plausible(std::string_view id) { return id.size() == kIdChars; }

std::string KeyOf(std::string_view id) { return HexEncode(Sha256(id)); }

std::string CsrfOf(std::string_view id) {
  HmacSha256 mac(id);
  return Base64UrlEncode(mac.Mac("lerarenkaart session form token").substr(0, 24));
}

Result<int64_t> Deleted(Db& db, const std::string& kind, int64_t n) {
  if (n == 0) return 0;
  auto r = db.Execute("UPDATE session_counts SET sessions = sessions - $2 WHERE kind = $1", {kind, n});
  if (!r) return std::unexpected(r.error());
  return n;
}

// Removes up to `limit` expired sessions of `kind`. REQUIRES: core.mu held, in a write transaction.
Result<int64_t> PruneKind(Db& db, const std::string& kind, int64_t now, int64_t limit) {
  auto n = db.Execute(
      "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions WHERE kind = $1 AND expires_at <= "
      "$2 ORDER BY expires_at LIMIT $3)",
      {kind, now, limit});
  if (!n) return std::unexpected(n.error());
  return Deleted(db, kind, *n);
}

}  // namespace

std::string_view SessionKindName(SessionKind kind) {
  switch (kind) {
    case SessionKind::kTeacher:
      return "teacher";
    case SessionKind::kConsole:
      return "console";
    case SessionKind::kDesk:
      return "desk";
  }
  return "teacher";
}

Result<std::string> Sessions::Create(SessionKind kind, std::string_view subject,
                                     std::chrono::seconds lifetime, int64_t max_sessions) {
  if (subject.empty() || subject.size() > kMaxSessionSubject)
    return Fail(Code::kInvalidArgument,
                "a session's subject must be 1 to " + std::to_string(kMaxSessionSubject) + " characters");
  if (max_sessions < 1) return Fail(Code::kInvalidArgument, "a session store holds at least one session");
  const std::string k(SessionKindName(kind));
  std::string id = Base64UrlEncode(RandomBytes(32));
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  Db& db = *core_.db;
  const int64_t now = Seconds(core_.clock.Now());
  if (auto r = PruneKind(db, k, now, kSessionPrunePerCreate); !r) return std::unexpected(r.error());
  auto have = db.Query("SELECT sessions FROM session_counts WHERE kind = $1", {k});
  if (!have) return std::unexpected(have.error());
  const int64_t stored = have->empty() ? 0 : ToInt((*have)[0][0]);
  if (stored >= max_sessions) {  // the oldest go first
    auto n = db.Execute(
        "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions WHERE kind = $1 ORDER BY "
        "expires_at LIMIT $2)",
        {k, stored - max_sessions + 1});
    if (!n) return std::unexpected(n.error());
    if (auto r = Deleted(db, k, *n); !r) return std::unexpected(r.error());
  }
  std::vector<Value> params = {KeyOf(id), k, std::string(subject)};
  params.emplace_back(now);
  params.emplace_back(now + lifetime.count());
  if (auto r = db.Execute(
          "INSERT INTO sessions (id_hash, kind, subject, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
          params);
      !r)
    return std::unexpected(r.error());
  if (auto r = db.Execute("UPDATE session_counts SET sessions = sessions + 1 WHERE kind = $1", {k}); !r)
    return std::unexpected(r.error());
  if (auto r = tx.Commit(); !r) return std::unexpected(r.error());
  return id;
}

Result<std::optional<Session>> Sessions::Find(SessionKind kind, std::string_view id) const {
  if (!Plausible(id)) return std::optional<Session>();
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  std::optional<Session> out;
  auto r = lease->db().Scan(
      "SELECT subject, expires_at, moved_from, moves FROM sessions WHERE id_hash = $1 AND kind = $2 AND "
      "expires_at > $3",
      {KeyOf(id), std::string(SessionKindName(kind)), Seconds(core_.clock.Now())}, [&](const Db::Cells& c) {
        out = Session{std::string(c.Text(0)), "", Time(std::chrono::seconds(c.Int(1))),
                      std::string(c.Text(2)), static_cast<int>(c.Int(3))};
      });
  if (!r) return std::unexpected(r.error());
  if (out) out->csrf = CsrfOf(id);
  return out;
}

Result<bool> Sessions::Rebind(SessionKind kind, std::string_view id, std::string_view subject) {
  if (subject.empty() || subject.size() > kMaxSessionSubject)
    return Fail(Code::kInvalidArgument,
                "a session's subject must be 1 to " + std::to_string(kMaxSessionSubject) + " characters");
  if (!Plausible(id)) return false;
  const std::string key = KeyOf(id), k(SessionKindName(kind)), s(subject);
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  const int64_t now = Seconds(core_.clock.Now());
  auto live = core_.db->Query(
      "SELECT subject FROM sessions WHERE id_hash = $1 AND kind = $2 AND expires_at > $3", {key, k, now});
  if (!live) return std::unexpected(live.error());
  if (live->empty()) return false;
  if ((*live)[0][0].value_or("") == s) return true;
  if (auto r = core_.db->Execute(
          "UPDATE sessions SET moved_from = subject, subject = $2, moves = moves + 1 WHERE id_hash = $1",
          {key, s});
      !r)
    return std::unexpected(r.error());
  if (auto r = tx.Commit(); !r) return std::unexpected(r.error());
  return true;
}

Result<bool> Sessions::End(SessionKind kind, std::string_view id) {
  if (!Plausible(id)) return false;
  const std::string k(SessionKindName(kind));
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  auto n = core_.db->Execute("DELETE FROM sessions WHERE id_hash = $1 AND kind = $2", {KeyOf(id), k});
  if (!n) return std::unexpected(n.error());
  if (auto r = Deleted(*core_.db, k, *n); !r) return std::unexpected(r.error());
  if (auto r = tx.Commit(); !r) return std::unexpected(r.error());
  return *n > 0;
}

Result<int64_t> Sessions::Prune(int64_t limit) {
  std::lock_guard lock(core_.mu);
  Transaction tx(*core_.db);
  if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
  const int64_t now = Seconds(core_.clock.Now());
  int64_t removed = 0;
  for (SessionKind kind : {SessionKind::kTeacher, SessionKind::kConsole, SessionKind::kDesk}) {
    auto n = PruneKind(*core_.db, std::string(SessionKindName(kind)), now, limit);
    if (!n) return std::unexpected(n.error());
    removed += *n;
  }
  if (auto r = tx.Commit(); !r) return std::unexpected(r.error());
  return removed;
}

Result<int64_t> Sessions::Count(SessionKind kind) const {
  auto lease = core_.Read();
  if (!lease) return std::unexpected(lease.error());
  auto rows = lease->db().Query("SELECT count(*) FROM sessions WHERE kind = $1 AND expires_at > $2",
                                {std::string(SessionKindName(kind)), Seconds(core_.clock.Now())});
  if (!rows) return std::unexpected(rows.error());
  return ToInt((*rows)[0][0]);
}

}  // namespace lk::ledger
