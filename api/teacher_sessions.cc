// The in-memory teacher session store: a map by the id's hash, and the ids in order of expiry
// (all sessions live equally long, so creation order is expiry order) for sweeping.
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

  std::string Create(std::string_view serial) override {
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

  std::optional<TeacherSession> Find(std::string_view id) override {
    if (id.empty() || id.size() > 64) return std::nullopt;
    std::string key = Sha256(id);
    std::lock_guard lock(mu_);
    auto it = by_hash_.find(key);
    if (it == by_hash_.end() || clock_.Now() >= it->second.expires) return std::nullopt;
    return it->second;
  }

  bool Rebind(std::string_view id, std::string_view serial) override {
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

  void End(std::string_view id) override {
    if (id.empty() || id.size() > 64) return;
    std::string key = Sha256(id);
    std::lock_guard lock(mu_);
    by_hash_.erase(key);  // its entry in order_ goes when swept
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

}  // namespace

std::unique_ptr<TeacherSessions> NewInMemoryTeacherSessions(const Clock& clock, std::chrono::seconds lifetime,
                                                            size_t max_sessions) {
  return std::make_unique<InMemoryTeacherSessions>(clock, lifetime, max_sessions);
}

}  // namespace lk::api::internal
