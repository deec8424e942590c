#pragma once
// Queues a pass change for the pusher (pass_updates.h), inside the write that makes it.
#include <string_view>

#include "base/base.h"

namespace lk::ledger::internal {
struct Core;

// Queues a push of digital card `serial` at its current update tag (nothing for another channel).
// REQUIRES: core.mu held, inside the write transaction that changed the card (after the change).
Result<> QueuePassChange(Core& core, std::string_view serial);

}  // namespace lk::ledger::internal
