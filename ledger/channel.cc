// Channel names (channel.h).
#include "ledger/channel.h"

#include <string>

namespace lk::ledger {

std::string_view ChannelName(Channel c) {
  switch (c) {
    case Channel::kDigital:
      return "digital";
    case Channel::kSubscription:
      return "subscription";
    case Channel::kStarter:
      return "starter";
    case Channel::kLibrary:
      return "library";
  }
  return "?";
}

Result<Channel> ParseChannel(std::string_view name) {
  for (Channel c : {Channel::kDigital, Channel::kSubscription, Channel::kStarter, Channel::kLibrary})
    if (ChannelName(c) == name) return c;
  return Fail(Code::kInvalidArgument,
              "unknown channel '" + std::string(name) + "' (digital, subscription, starter or library)");
}

}  // namespace lk::ledger
