#pragma once
// Keeps the passes in Apple wallets current: pushes every queued pass change (ledger
// pass_updates.h) to the devices registered for it, through APNs (push/push.h), in leased,
// journalled batches, so that several instances on one ledger share the work and a crash never
// pushes a change twice (beyond the push library's bound). Devices APNs calls gone are forgotten.
// Thread safety: RunOnce is called from one thread at a time; Start and Stop from one thread.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/base.h"
#include "ledger/ledger.h"
#include "push/push.h"

namespace lk::wallet {

struct PusherOptions {
  std::string holder;               // this pusher's name in batch leases; "" = host:pid:random
  std::chrono::seconds lease{300};  // a batch is this pusher's for this long (extended per journal write)
  std::chrono::milliseconds poll{1000};  // how often the background thread looks for changes
  std::chrono::seconds retry_after{60};  // a batch with unreachable devices is pushed again after this
  int max_runs = 5;                      // then it is finished with what it reached
  // One JSON line per batch pushed or failed (default: stderr).
  std::function<void(std::string_view line)> log;
};

// What one RunOnce did.
struct PushRound {
  size_t batches = 0, changes = 0, devices = 0, delivered = 0, skipped = 0, gone = 0, failed = 0,
         unreachable = 0;
  size_t deferred = 0;  // batches given back to be retried later
};

class UpdatePusher {
 public:
  // `ledger`, `apns` and `clock` must outlive the pusher.
  UpdatePusher(ledger::Ledger& ledger, push::ApnsClient& apns, const Clock& clock, PusherOptions options);
  ~UpdatePusher();  // stops the background thread if running
  UpdatePusher(const UpdatePusher&) = delete;
  UpdatePusher& operator=(const UpdatePusher&) = delete;

  // Pushes every batch there is to push now, one after another, until none is left or one
  // fails (its error; the batch is deferred and retried by a later round).
  Result<PushRound> RunOnce();
  // A background thread calling RunOnce every options.poll (and at once after Wake).
  void Start();
  void Wake();  // a change was just queued in this process
  void Stop();  // waits for a round in progress to end; idempotent

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lk::wallet
