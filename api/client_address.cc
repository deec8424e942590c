#include "api/internal/client_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace lk::api::internal {
namespace {

constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool PrefixEquals(const IpAddress& a, const IpAddress& b, int bits) {
  int whole = bits / 8, rest = bits % 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), static_cast<size_t>(whole)) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[whole] & mask) == (b.bytes[whole] & mask);
}

}  // namespace

Result<IpAddress> ParseIp(std::string_view text) {
  text = Trim(text);
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 45)
    return Fail(Code::kInvalidArgument, "'" + std::string(text) + "' is not an IP address");
  std::string s(text);
  IpAddress ip;
  if (inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) return ip;
  uint8_t v6[16];
  if (inet_pton(AF_INET6, s.c_str(), v6) != 1)
    return Fail(Code::kInvalidArgument, "'" + s + "' is not an IP address");
  if (std::memcmp(v6, kMappedPrefix, sizeof kMappedPrefix) == 0) {
    std::memcpy(ip.bytes.data(), v6 + 12, 4);
    return ip;
  }
  ip.v6 = true;
  std::memcpy(ip.bytes.data(), v6, 16);
  return ip;
}

std::string FormatIp(const IpAddress& ip) {
  char buf[INET6_ADDRSTRLEN] = "";
  inet_ntop(ip.v6 ? AF_INET6 : AF_INET, ip.bytes.data(), buf, sizeof buf);
  return buf;
}

Result<TrustedProxies> TrustedProxies::Parse(const std::vector<std::string>& entries) {
  TrustedProxies out;
  for (const std::string& entry : entries) {
    std::string_view e = Trim(entry);
    size_t slash = e.find('/');
    auto ip = ParseIp(e.substr(0, slash));
    if (!ip)
      return Fail(Code::kInvalidArgument, "trusted proxy '" + entry + "' is not an address or a CIDR block");
    int max_bits = ip->v6 ? 128 : 32, bits = max_bits;
    if (slash != std::string_view::npos) {
      std::string_view n = e.substr(slash + 1);
      if (n.empty() || n.size() > 3 ||
          !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
          std::stoi(std::string(n)) > max_bits)
        return Fail(Code::kInvalidArgument, "trusted proxy '" + entry + "': the prefix length must be 0 to " +
                                                std::to_string(max_bits));
      bits = std::stoi(std::string(n));
    }
    out.blocks_.push_back({*ip, bits});
  }
  return out;
}

bool TrustedProxies::Contains(const IpAddress& ip) const {
  return std::any_of(blocks_.begin(), blocks_.end(),
                     [&](const Block& b) { return b.base.v6 == ip.v6 && PrefixEquals(b.base, ip, b.bits); });
}

std::string GroupOf(const IpAddress& ip) {
  if (!ip.v6) return FormatIp(ip);
  IpAddress prefix = ip;
  std::fill(prefix.bytes.begin() + 8, prefix.bytes.end(), 0);
  return FormatIp(prefix) + "/64";
}

ClientAddress ResolveClient(const IpAddress& peer, std::string_view forwarded_for,
                            const TrustedProxies& trusted) {
  ClientAddress out;
  IpAddress client = peer;
  out.trusted_peer = !trusted.empty() && trusted.Contains(peer);
  if (out.trusted_peer && !forwarded_for.empty()) {
    // Right to left: each hop was added by the one after it; the first hop that is not a trusted
    // proxy is the client as far as anything we trust can tell.
    std::string_view rest = forwarded_for;
    while (!rest.empty()) {
      size_t comma = rest.rfind(',');
      std::string_view hop = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
      auto ip = ParseIp(hop);
      if (!ip) break;  // unreadable: stop at the last hop we could read
      client = *ip;
      out.via_proxy = true;
      if (!trusted.Contains(*ip)) break;
    }
  }
  out.ip = FormatIp(client);
  out.group = GroupOf(client);
  return out;
}

}  // namespace lk::api::internal
