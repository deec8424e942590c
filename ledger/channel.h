#pragma once
// The four channels a card reaches its holder through; every part of the ledger names them.
// Plain values and pure functions: thread-safe.
#include <string_view>

#include "base/base.h"
#include "base/card.h"

namespace lk::ledger {

using lk::Channel;                        // base/card.h
std::string_view ChannelName(Channel c);  // "digital", "subscription", "starter", "library"
// kInvalidArgument for any other name.
Result<Channel> ParseChannel(std::string_view name);

}  // namespace lk::ledger
