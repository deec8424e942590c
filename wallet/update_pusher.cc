// UpdatePusher (wallet.h): batches from the ledger's push queue, pushed with the APNs client, the
// ledger as the push journal.
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_set>

#include "wallet/wallet.h"

namespace lk::wallet {
namespace {
using json = nlohmann::json;

// The ledger's journal of one leased batch: what earlier runs delivered is read once with the
// batch, what this run delivers is written through (durable before RecordDelivered returns).
class BatchJournal final : public push::PushJournal {
 public:
  BatchJournal(ledger::PassUpdates& updates, const ledger::PushBatch& batch, const PusherOptions& options)
      : updates_(updates), batch_(batch.id), options_(options) {
    delivered_.insert(batch.delivered.begin(), batch.delivered.end());
  }
  Result<bool> Delivered(std::string_view, std::string_view token) override {
    return delivered_.contains(std::string(token));
  }
  Result<> RecordDelivered(std::string_view, std::span<const std::string> tokens) override {
    return updates_.RecordDelivered(batch_, tokens, options_.holder, options_.lease);
  }

 private:
  ledger::PassUpdates& updates_;
  int64_t batch_;
  const PusherOptions& options_;
  std::unordered_set<std::string> delivered_;
};

std::string DefaultHolder() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + RandomBase32(8);
}

}  // namespace

struct UpdatePusher::Impl {
  ledger::Ledger& ledger;
  push::ApnsClient& apns;
  const Clock& clock;
  PusherOptions options;

  std::mutex mu;
  std::condition_variable cv;
  bool stop = false, woken = false;
  std::thread thread;

  void Log(const json& line) {
    std::string s = line.dump(-1, ' ', false, json::error_handler_t::replace);
    if (options.log)
      options.log(s);
    else
      std::fprintf(stderr, "%s\n", s.c_str());
  }

  // Pushes one leased batch. Deferred (and its error returned) when the push run failed.
  Result<> PushBatch(const ledger::PushBatch& batch, PushRound& round) {
    ledger::PassUpdates& updates = ledger.pass_updates();
    BatchJournal journal(updates, batch, options);
    std::vector<std::string> gone;
    auto summary = apns.Push(
        "batch:" + std::to_string(batch.id), batch.tokens, journal, [&](const push::TokenResult& r) {
          if (r.outcome == push::Outcome::kGone || r.outcome == push::Outcome::kInvalidToken)
            gone.push_back(r.token);
        });
    if (!gone.empty()) {
      if (auto removed = updates.RemovePushTokens(gone); !removed)
        Log({{"level", "error"},
             {"event", "wallet_push"},
             {"batch", batch.id},
             {"error", removed.error().message}});
    }
    ++round.batches;
    round.changes += batch.changes;
    round.devices += batch.tokens.size();
    round.gone += gone.size();
    json line = {{"level", "info"},    {"event", "wallet_push"},   {"batch", batch.id},
                 {"run", batch.runs},  {"changes", batch.changes}, {"devices", batch.tokens.size()},
                 {"gone", gone.size()}};
    if (summary && batch.tokens.empty() && gone.empty()) {  // no device had the passes: nothing to say
      ledger::PushBatchCounts none;
      return updates.FinishPushBatch(batch.id, none);
    }
    if (!summary) {
      ++round.deferred;
      line["level"] = "error";
      line["error"] = summary.error().message;
      line["retry_at"] = FormatRfc3339(clock.Now() + options.retry_after);
      Log(line);
      if (auto d = updates.DeferPushBatch(batch.id, clock.Now() + options.retry_after); !d) return d;
      return std::unexpected(summary.error());
    }
    round.delivered += summary->delivered;
    round.skipped += summary->skipped;
    round.failed += summary->failed + summary->invalid;
    round.unreachable += summary->unreachable;
    line["delivered"] = summary->delivered;
    line["skipped"] = summary->skipped;
    line["failed"] = summary->failed;
    line["unreachable"] = summary->unreachable;
    line["requests"] = summary->requests;
    if (summary->unreachable > 0 && batch.runs < options.max_runs) {
      ++round.deferred;
      line["retry_at"] = FormatRfc3339(clock.Now() + options.retry_after);
      Log(line);
      return updates.DeferPushBatch(batch.id, clock.Now() + options.retry_after);
    }
    Log(line);
    ledger::PushBatchCounts counts;
    counts.devices = static_cast<int64_t>(batch.tokens.size());
    counts.delivered = static_cast<int64_t>(summary->delivered + summary->skipped);
    counts.gone = static_cast<int64_t>(summary->gone + summary->invalid);
    counts.failed = static_cast<int64_t>(summary->failed + summary->unreachable);
    return updates.FinishPushBatch(batch.id, counts);
  }

  Result<PushRound> RunOnce() {
    PushRound round;
    while (true) {
      auto batch = ledger.pass_updates().ClaimPushBatch(options.holder, options.lease);
      if (!batch) return std::unexpected(batch.error());
      if (!*batch) return round;
      if (auto r = PushBatch(**batch, round); !r) return std::unexpected(r.error());
      if (round.deferred > 0) return round;  // the rest waits for its retry time
    }
  }

  void Loop() {
    std::unique_lock lock(mu);
    while (!stop) {
      lock.unlock();
      if (auto r = RunOnce(); !r)
        Log({{"level", "error"}, {"event", "wallet_push"}, {"error", r.error().message}});
      lock.lock();
      cv.wait_for(lock, options.poll, [this] { return stop || woken; });
      woken = false;
    }
  }
};

UpdatePusher::UpdatePusher(ledger::Ledger& ledger, push::ApnsClient& apns, const Clock& clock,
                           PusherOptions options)
    : impl_(new Impl{ledger, apns, clock, std::move(options)}) {
  if (impl_->options.holder.empty()) impl_->options.holder = DefaultHolder();
}

UpdatePusher::~UpdatePusher() { Stop(); }

Result<PushRound> UpdatePusher::RunOnce() { return impl_->RunOnce(); }

void UpdatePusher::Start() {
  if (impl_->thread.joinable()) return;
  impl_->stop = false;
  impl_->thread = std::thread([this] { impl_->Loop(); });
}

void UpdatePusher::Wake() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->woken = true;
  }
  impl_->cv.notify_all();
}

void UpdatePusher::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace lk::wallet
