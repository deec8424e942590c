#pragma once
// Signed-in devices of teachers: after a claim, the browser holds a random session id in a
// cookie; the service maps it to the card's serial. The id is the only secret in the cookie
// (never the card's access token); the store keeps only its SHA-256. Sessions end at a fixed
// time after their creation (no sliding renewal) or when signed out.
// Implementations are thread-safe.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/base.h"

namespace lk::api::internal {

struct TeacherSession {
  std::string serial;  // the card this device shows
  std::string csrf;    // the token the session's forms carry (sign out, moving the card)
  Time expires;
  std::string moved_from;  // the card this device showed before its last move ("" if none)
  int moves = 0;           // how many times this session moved its card (Rebind)
};

class TeacherSessions {
 public:
  virtual ~TeacherSessions() = default;
  // A new session for card `serial`; returns its id (43 base64url characters, 256 random bits).
  virtual std::string Create(std::string_view serial) = 0;
  // The live session with id `id`; nullopt when unknown, ended or expired.
  virtual std::optional<TeacherSession> Find(std::string_view id) = 0;
  // Points the live session `id` at card `serial` (the card moved to a new device), remembering
  // the card it showed in moved_from, and counts the move. Id, CSRF token and expiry stay. False
  // when there is no
  // live session with that id.
  virtual bool Rebind(std::string_view id, std::string_view serial) = 0;
  // Ends the session (nothing when there is none).
  virtual void End(std::string_view id) = 0;
};

// In this process's memory: sessions do not survive a restart and are not shared between
// instances (docs/web.md). `clock` must outlive the store. Beyond `max_sessions` live ones, the
// oldest are forgotten first.
std::unique_ptr<TeacherSessions> NewInMemoryTeacherSessions(const Clock& clock, std::chrono::seconds lifetime,
                                                            size_t max_sessions = 1'000'000);

}  // namespace lk::api::internal
