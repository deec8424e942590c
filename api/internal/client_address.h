#pragma once
// Who a request comes from. Behind a reverse proxy every connection comes from the proxy, so the
// proxies named in the configuration are believed about X-Forwarded-For: the client is the
// rightmost address in it that is not itself a trusted proxy. Anyone else's X-Forwarded-For is
// ignored. Limits (rates, connections) count per group: an IPv4 address, or an IPv6 /64 (one
// home or office network; a single IPv6 host can use any address of its /64).
// Pure functions and an immutable TrustedProxies; thread-safe.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace lk::api::internal {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4 (IPv4-mapped IPv6 is read as IPv4)
};
// "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "[2001:db8::1]"; kInvalidArgument otherwise.
Result<IpAddress> ParseIp(std::string_view text);
std::string FormatIp(const IpAddress& ip);

class TrustedProxies {
 public:
  // CIDR blocks ("10.0.0.0/8", "2001:db8::/32") or single addresses; kInvalidArgument naming
  // the entry that is neither.
  static Result<TrustedProxies> Parse(const std::vector<std::string>& entries);
  bool Contains(const IpAddress& ip) const;
  bool empty() const { return blocks_.empty(); }

 private:
  struct Block {
    IpAddress base;
    int bits = 0;
  };
  std::vector<Block> blocks_;
};

struct ClientAddress {
  std::string ip;             // the client's address as text
  std::string group;          // what limits count by: the IPv4 address, or "2001:db8:1:2::/64"
  bool via_proxy = false;     // taken from X-Forwarded-For of a trusted proxy
  bool trusted_peer = false;  // the connection itself comes from a trusted proxy
};

// The client of a connection from `peer` (the socket's address) whose request carried
// `forwarded_for` (all X-Forwarded-For fields joined with ","; "" if none). An unreadable or
// empty X-Forwarded-For from a trusted proxy leaves the proxy as the client.
ClientAddress ResolveClient(const IpAddress& peer, std::string_view forwarded_for,
                            const TrustedProxies& trusted);
// The limit group of one address.
std::string GroupOf(const IpAddress& ip);

}  // namespace lk::api::internal
