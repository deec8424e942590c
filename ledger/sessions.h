#pragma once
// Signed-in browsers: the sessions of the teacher's site, the staff console and the partner's
// desk, kept in the ledger so that they survive a restart and every instance on one ledger shares
// them. The browser holds a random id (256 bits) in a cookie; the ledger keeps only its SHA-256,
// so a copy of the ledger signs nobody in. Each session has a kind, and a store of one kind never
// sees another kind's sessions. Thread-safe; writes are serialised with the rest of the ledger's.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/base.h"

namespace lk::ledger {
namespace internal {
struct Core;
}

enum class SessionKind { kTeacher, kConsole, kDesk };
std::string_view SessionKindName(SessionKind kind);  // "teacher", "console", "desk"

struct Session {
  std::string subject;  // a card's serial, a staff credential's id, or "partner:ID"
  // The token the session's forms carry: derived from the id (HMAC-SHA256 keyed by it), never
  // stored, so reading the ledger gives no form token either.
  std::string csrf;
  Time expires;
  std::string moved_from;  // the subject before the last Rebind ("" if none)
  int moves = 0;           // how many times Rebind changed the subject
};

// At most this many characters in a subject (kInvalidArgument beyond).
inline constexpr size_t kMaxSessionSubject = 100;
// Expired sessions of its kind that one Create removes at most (bounded work per sign-in).
inline constexpr int64_t kSessionPrunePerCreate = 64;

class Sessions {
 public:
  explicit Sessions(internal::Core& core) : core_(core) {}  // `core` must outlive this

  // Starts a session of `kind` for `subject`, ending at now + `lifetime`; returns its id (43
  // base64url characters). First removes up to kSessionPrunePerCreate expired sessions of `kind`;
  // then, when `kind` would hold more than `max_sessions` (>= 1) sessions, ends the oldest first
  // (by expiry; those of one second in any order).
  Result<std::string> Create(SessionKind kind, std::string_view subject, std::chrono::seconds lifetime,
                             int64_t max_sessions);
  // The live session of `kind` with id `id`; nullopt when unknown, of another kind, ended or
  // expired (expires <= now).
  Result<std::optional<Session>> Find(SessionKind kind, std::string_view id) const;
  // Points the live session at `subject`, remembering the old one in moved_from and counting the
  // move (nothing changes when it already shows `subject`). Id, token and expiry stay. False when
  // there is no live session of `kind` with that id.
  Result<bool> Rebind(SessionKind kind, std::string_view id, std::string_view subject);
  // Ends the session (nothing when there is none). True when there was one.
  Result<bool> End(SessionKind kind, std::string_view id);
  // Removes up to `limit` expired sessions of each kind; returns how many went.
  Result<int64_t> Prune(int64_t limit);
  // Live sessions of `kind` (for metrics and tests).
  Result<int64_t> Count(SessionKind kind) const;

 private:
  internal::Core& core_;
};

}  // namespace lk::ledger
