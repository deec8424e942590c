#pragma once
// Pass updates: which devices registered which Apple Wallet pass (Apple's pass web service), which
// passes changed since a device's update tag, and the queue of changes still to be pushed to the
// devices, in batches that a pusher leases and journals so that a crash never pushes a change
// twice. Every change that alters a served pass (a revocation, say) queues itself in the
// transaction that makes it, whichever process makes it. Thread-safe; writes are serialised with
// the rest of the ledger's, and several processes on one ledger share registrations and queue.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/base.h"

namespace lk::ledger {
namespace internal {
struct Core;
}

// At most this many devices per pass; a further device is refused (kResourceExhausted).
inline constexpr int kMaxDevicesPerPass = 10;

// The serials of a device's passes changed after a tag, and the tag to ask with next time.
struct UpdatedPasses {
  std::vector<std::string> serials;  // ordered
  int64_t last_updated = 0;          // the newest update tag among them (0 when none)
};

// A batch of queued changes leased by one pusher: the push tokens of every device registered
// for a changed pass, and those already delivered (by this or an earlier, crashed, run).
struct PushBatch {
  int64_t id = 0;
  int runs = 0;                        // how many times a pusher has taken it, this time included
  size_t changes = 0;                  // queued changes in it
  std::vector<std::string> tokens;     // distinct, ordered
  std::vector<std::string> delivered;  // journalled as delivered
};

struct PushBatchCounts {
  int64_t devices = 0, delivered = 0, gone = 0, failed = 0;
};

class PassUpdates {
 public:
  explicit PassUpdates(internal::Core& core) : core_(core) {}  // `core` must outlive this

  // Registers device `device_id` (its push token updated) for the digital card `serial`. True
  // when the registration is new, false when it existed. kNotFound for no such digital card;
  // kResourceExhausted when the pass already has kMaxDevicesPerPass other devices.
  // REQUIRES: identifiers validated by the caller (the ledger enforces lengths only).
  Result<bool> Register(std::string_view device_id, std::string_view push_token, std::string_view serial);
  // Removes the registration (and the device once it has none). True when there was one.
  Result<bool> Unregister(std::string_view device_id, std::string_view serial);
  // The device's registered passes whose update tag is greater than `since` (all of them without).
  Result<UpdatedPasses> UpdatedSince(std::string_view device_id, std::optional<int64_t> since) const;
  // When change `update_tag` was made (its audit entry's time); kNotFound for an unknown tag.
  Result<Time> ChangedAt(int64_t update_tag) const;
  // Forgets every device with one of these push tokens (APNs said they are gone) and its
  // registrations. Returns how many devices were removed.
  Result<int64_t> RemovePushTokens(std::span<const std::string> tokens);
  // Registrations in all (for metrics and tests).
  Result<int64_t> RegistrationCount() const;

  // Queues a change of each of these passes for pushing, with the card's current update tag
  // (cards refresh does this for re-signed passes; revocations queue themselves).
  Result<int64_t> QueueChanges(std::span<const std::string> serials);
  // Re-signed QR tokens (`cards refresh` after a key rotation): each (serial, token) of an ACTIVE
  // digital card replaces its token (attached at `at`), takes a new update tag and queues a
  // push, all in one write with one audit entry ("refresh tokens", listing the serials).
  // Revoked or unknown serials are skipped. Returns how many cards changed.
  Result<int64_t> ReplaceTokens(std::span<const std::pair<std::string, std::string>> serial_tokens, Time at);
  // Queued changes not yet in a batch.
  Result<int64_t> PendingChanges() const;

  // Leases the next batch to push as `holder` until now + `lease`: an unfinished batch whose
  // lease ran out (or is `holder`'s) and whose retry time has come, else a new batch of every
  // queued change. std::nullopt when there is nothing to push.
  Result<std::optional<PushBatch>> ClaimPushBatch(std::string_view holder, std::chrono::seconds lease);
  // Journals `tokens` as delivered for `batch` (durable on return) and extends `holder`'s lease.
  Result<> RecordDelivered(int64_t batch, std::span<const std::string> tokens, std::string_view holder,
                           std::chrono::seconds lease);
  // Marks the batch pushed, with its counts; its journal and changes are dropped.
  Result<> FinishPushBatch(int64_t batch, const PushBatchCounts& counts);
  // Gives the batch back, to be taken again (by any pusher) from `not_before` on.
  Result<> DeferPushBatch(int64_t batch, Time not_before);

 private:
  internal::Core& core_;
};

}  // namespace lk::ledger
