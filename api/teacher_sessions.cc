// The session stores: the ledger's (a thin adapter over ledger::Sessions of one kind), and the
// in-memory one: a map by the id's hash, and the ids in order of expiry (all sessions live equally
// long, so creation order is expiry order) for sweeping.
#include "api/internal/teacher_sessions.h"

#include <deque>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace lk::api::internal {
namespace {

class InMemoryTeacherSessions final : public TeacherSessions {
 public:
  InMemoryTeacherSessions(const Clock& clock, std::chrono::seconds lifetime, size_t max_sessions)
      : clock_(clock), lifetime_(lifetime), max_(max_sessions) {}

  Result<std::string> Create(std::string_view serial) override {
    std::string id = Base64UrlEncode(RandomBytes(32));
    TeacherSession s{std::string(serial), Base64UrlEncode(RandomBytes(24)), clock_.Now() + lifetime_};
    std::string key = Sha256(id);
    std::lock_guard lock(mu_);
    Sweep();
    while (by_hash_.size() >= max_ && !order_.empty()) {
      by_hash_.erase(order_.front());
      order_.pop_front();
    }
    by_hash_[key] = std::move(s);
    order_.push_back(std::move(key));
    return id;
  }

  Result<std::optional<TeacherSession>> Find(std::string_view id) override {
    if (id.empty() || id.size() > 64) return std::optional<TeacherSession>();
    std::string key = Sha256(id);
    std::lock_guard lock(mu_);
    auto it = by_hash_.find(key);
    if (it == by_hash_.end() || clock_.Now() >= it->second.expires) return std::optional<TeacherSession>();
    return std::optional<TeacherSession>(it->second);
  }

  Result<bool> Rebind(std::string_view id, std::string_view serial) override {
    if (id.empty() || id.size() > 64) return false;
    std::string key = Sha256(id);
    std::lock_guard lock(mu_);
    auto it = by_hash_.find(key);
    if (it == by_hash_.end() || clock_.Now() >= it->second.expires) return false;
    if (it->second.serial == serial) return true;
    it->second.moved_from = std::exchange(it->second.serial, std::string(serial));
    ++it->second.moves;
    return true;
  }

  Result<> End(std::string_view id) override {
    if (id.empty() || id.size() > 64) return {};
    std::string key = Sha256(id);
    std::lock_guard lock(mu_);
    by_hash_.erase(key);  // its entry in order_ goes when swept
    return {};
  }

 private:
  // Drops expired sessions from the front of order_. REQUIRES: mu_ held.
  void Sweep() {
    Time now = clock_.Now();
    while (!order_.empty()) {
      auto it = by_hash_.find(order_.front());
      if (it != by_hash_.end() && now < it->second.expires) break;
      if (it != by_hash_.end()) by_hash_.erase(it);
      order_.pop_front();
    }
  }

  const Clock& clock_;
  const std::chrono::seconds lifetime_;
  const size_t max_;
  std::mutex mu_;
  std::unordered_map<std::string, TeacherSession> by_hash_;
  std::deque<std::string> order_;
};

class LedgerSessions final : public TeacherSessions {
 public:
  LedgerSessions(ledger::Sessions& sessions, ledger::SessionKind kind, std::chrono::seconds lifetime,
                 size_t max_sessions)
      : sessions_(sessions), kind_(kind), lifetime_(lifetime), max_(static_cast<int64_t>(max_sessions)) {}

  Result<std::string> Create(std::string_view serial) override {
    return sessions_.Create(kind_, serial, lifetime_, max_);
  }
  Result<std::optional<TeacherSession>> Find(std::string_view id) override {
    auto s = sessions_.Find(kind_, id);
    if (!s) return std::unexpected(s.error());
    if (!*s) return std::optional<TeacherSession>();
    ledger::Session& f = **s;
    return std::optional<TeacherSession>(
        TeacherSession{std::move(f.subject), std::move(f.csrf), f.expires, std::move(f.moved_from), f.moves});
  }
  Result<bool> Rebind(std::string_view id, std::string_view serial) override {
    return sessions_.Rebind(kind_, id, serial);
  }
  Result<> End(std::string_view id) override {
    auto r = sessions_.End(kind_, id);
    if (!r) return std::unexpected(r.error());
    return {};
  }

 private:
  ledger::Sessions& sessions_;
  const ledger::SessionKind kind_;
  const std::chrono::seconds lifetime_;
  const int64_t max_;
};

}  // namespace

std::unique_ptr<TeacherSessions> NewLedgerSessions(ledger::Sessions& sessions, ledger::SessionKind kind,
                                                   std::chrono::seconds lifetime, size_t max_sessions) {
  return std::make_unique<LedgerSessions>(sessions, kind, lifetime, max_sessions);
}

std::unique_ptr<TeacherSessions> NewInMemoryTeacherSessions(const Clock& clock, std::chrono::seconds lifetime,
                                                            size_t max_sessions) {
  return std::make_unique<InMemoryTeacherSessions>(clock, lifetime, max_sessions);
}

}  // namespace lk::api::internal
