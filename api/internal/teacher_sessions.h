#pragma once
// Signed-in browsers of the teacher's site, the staff console and the partner's desk: the browser
// holds a random session id in a cookie; the service maps it to a subject (a card's serial, a
// staff credential's id, "partner:ID"). The id is the only secret in the cookie (never the card's
// access token or a credential); stores keep only its SHA-256. Sessions end at a fixed time after
// their creation (no sliding renewal) or when signed out. Implementations are thread-safe.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/base.h"
#include "ledger/ledger.h"

namespace lk::api::internal {

struct TeacherSession {
  std::string serial;  // the subject: the card this device shows (or the console's or desk's)
  std::string csrf;    // the token the session's forms carry (sign out, moving the card)
  Time expires;
  std::string moved_from;  // the card this device showed before its last move ("" if none)
  int moves = 0;           // how many times this session moved its card (Rebind)
};

// Every method fails only when the store cannot be read or written (the ledger's error).
class TeacherSessions {
 public:
  virtual ~TeacherSessions() = default;
  // A new session for `serial`; returns its id (43 base64url characters, 256 random bits).
  virtual Result<std::string> Create(std::string_view serial) = 0;
  // The live session with id `id`; nullopt when unknown, ended or expired.
  virtual Result<std::optional<TeacherSession>> Find(std::string_view id) = 0;
  // Points the live session `id` at card `serial` (the card moved to a new device), remembering
  // the card it showed in moved_from, and counts the move. Id, CSRF token and expiry stay. False
  // when there is no live session with that id.
  virtual Result<bool> Rebind(std::string_view id, std::string_view serial) = 0;
  // Ends the session (nothing when there is none).
  virtual Result<> End(std::string_view id) = 0;
};

// In the ledger (ledger/sessions.h), the service's store: sessions survive a restart and are
// shared by every instance on the ledger. Beyond `max_sessions` of `kind`, the oldest end first.
// `sessions` must outlive the store.
std::unique_ptr<TeacherSessions> NewLedgerSessions(ledger::Sessions& sessions, ledger::SessionKind kind,
                                                   std::chrono::seconds lifetime, size_t max_sessions);

// In this process's memory (the same-run baseline of tests/bench/sessions_benchmark.cc): sessions
// do not survive a restart and are not shared between instances. `clock` must outlive the store.
// Beyond `max_sessions` live ones, the oldest are forgotten first.
std::unique_ptr<TeacherSessions> NewInMemoryTeacherSessions(const Clock& clock, std::chrono::seconds lifetime,
                                                            size_t max_sessions = 1'000'000);

}  // namespace lk::api::internal
