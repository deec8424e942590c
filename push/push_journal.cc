// The in-memory PushJournal.
#include <mutex>
#include <unordered_set>

#include "push/push.h"

namespace lk::push {
namespace {

class MemoryPushJournal final : public PushJournal {
 public:
  Result<bool> Delivered(std::string_view change_id, std::string_view token) override {
    std::lock_guard lock(mu_);
    return done_.contains(Key(change_id, token));
  }
  Result<> RecordDelivered(std::string_view change_id, std::span<const std::string> tokens) override {
    std::lock_guard lock(mu_);
    for (const std::string& t : tokens) done_.insert(Key(change_id, t));
    return {};
  }

 private:
  // Change ids may hold any byte but NUL; tokens are hex.
  static std::string Key(std::string_view change_id, std::string_view token) {
    std::string key(change_id);
    key += '\0';
    key += token;
    return key;
  }
  std::mutex mu_;
  std::unordered_set<std::string> done_;
};

}  // namespace

std::unique_ptr<PushJournal> NewMemoryPushJournal() { return std::make_unique<MemoryPushJournal>(); }

}  // namespace lk::push
