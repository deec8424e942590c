#include "base/base.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace lk {
namespace chr = std::chrono;

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kNotFound:
      return "not_found";
    case Code::kAlreadyExists:
      return "already_exists";
    case Code::kFailedPrecondition:
      return "failed_precondition";
    case Code::kUnauthenticated:
      return "unauthenticated";
    case Code::kPermissionDenied:
      return "permission_denied";
    case Code::kResourceExhausted:
      return "resource_exhausted";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kInternal:
      return "internal";
    case Code::kDataLoss:
      return "data_loss";
  }
  return "unknown";
}

Time SystemClock::Now() const { return chr::floor<chr::seconds>(chr::system_clock::now()); }

namespace {
// 01:00 UTC on the last Sunday of `month` in `y`.
Time LastSunday0100Utc(chr::year y, chr::month m) {
  chr::sys_days last = chr::year_month_day_last(y, chr::month_day_last(m));
  chr::weekday wd(last);
  chr::sys_days sunday = last - (wd - chr::Sunday);
  return Time(sunday) + chr::hours(1);
}
}  // namespace

chr::seconds BrusselsOffset(Time utc) {
  chr::year y = chr::year_month_day(chr::floor<chr::days>(utc)).year();
  bool summer = utc >= LastSunday0100Utc(y, chr::March) && utc < LastSunday0100Utc(y, chr::October);
  return summer ? chr::hours(2) : chr::hours(1);
}

Time BrusselsMidnight(chr::year_month_day day) {
  Time naive = Time(chr::sys_days(day));
  // The offset at local midnight equals the offset two hours earlier in UTC terms except on
  // transition days, which fall on Sundays at 01:00 UTC, well after local midnight.
  return naive - BrusselsOffset(naive - chr::hours(2));
}

chr::year_month_day BrusselsDate(Time utc) {
  return chr::year_month_day(chr::floor<chr::days>(utc + BrusselsOffset(utc)));
}

namespace {
bool ParseInt(std::string_view s, int& out) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}
}  // namespace

Result<chr::year_month_day> ParseIsoDate(std::string_view t) {
  int y, m, d;
  if (t.size() != 10 || t[4] != '-' || t[7] != '-' || !ParseInt(t.substr(0, 4), y) ||
      !ParseInt(t.substr(5, 2), m) || !ParseInt(t.substr(8, 2), d))
    return Fail(Code::kInvalidArgument, "'" + std::string(t) + "' is not a date of the form YYYY-MM-DD");
  chr::year_month_day ymd{chr::year(y), chr::month(static_cast<unsigned>(m)),
                          chr::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return Fail(Code::kInvalidArgument, "'" + std::string(t) + "' is not a calendar date");
  return ymd;
}

std::string FormatIsoDate(chr::year_month_day d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(d.year()), unsigned(d.month()), unsigned(d.day()));
  return buf;
}

Result<Time> ParseRfc3339(std::string_view t) {
  auto bad = [&] {
    return Fail(Code::kInvalidArgument,
                "'" + std::string(t) + "' is not an RFC 3339 time such as 2026-03-01T12:00:00Z");
  };
  if (t.size() < 20) return bad();
  auto date = ParseIsoDate(t.substr(0, 10));
  if (!date || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') || t[13] != ':' || t[16] != ':') return bad();
  int hh, mm, ss;
  if (!ParseInt(t.substr(11, 2), hh) || !ParseInt(t.substr(14, 2), mm) || !ParseInt(t.substr(17, 2), ss) ||
      hh > 23 || mm > 59 || ss > 60)
    return bad();
  std::string_view rest = t.substr(19);
  if (!rest.empty() && rest[0] == '.') {  // fractional seconds are accepted and truncated
    size_t i = 1;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') ++i;
    if (i == 1) return bad();
    rest = rest.substr(i);
  }
  int offset = 0;
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int oh, om;
    if (!ParseInt(rest.substr(1, 2), oh) || !ParseInt(rest.substr(4, 2), om) || oh > 23 || om > 59)
      return bad();
    offset = (oh * 3600 + om * 60) * (rest[0] == '-' ? -1 : 1);
  } else {
    return bad();
  }
  return Time(chr::sys_days(*date)) + chr::hours(hh) + chr::minutes(mm) + chr::seconds(std::min(ss, 59)) -
         chr::seconds(offset);
}

std::string FormatRfc3339(Time t) {
  auto day = chr::floor<chr::days>(t);
  chr::hh_mm_ss hms(t - day);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%sT%02d:%02d:%02dZ", FormatIsoDate(chr::year_month_day(day)).c_str(),
                int(hms.hours().count()), int(hms.minutes().count()), int(hms.seconds().count()));
  return buf;
}

namespace {
constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Encode64(std::string_view in, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(in[k])); };
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = b(i) << 16 | b(i + 1) << 8 | b(i + 2);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (in.size() - i == 1) {
    uint32_t v = b(i) << 16;
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (in.size() - i == 2) {
    uint32_t v = b(i) << 16 | b(i + 1) << 8;
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kB64Url[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr auto kDecode = MakeDecodeTable();
}  // namespace

std::string Base64UrlEncode(std::string_view bytes) { return Encode64(bytes, kB64Url, false); }
std::string Base64Encode(std::string_view bytes) { return Encode64(bytes, kB64, true); }

Result<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return Fail(Code::kInvalidArgument, "base64url text has an impossible length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = kDecode[static_cast<unsigned char>(c)];
    if (v < 0) return Fail(Code::kInvalidArgument, "base64url text holds a character outside its alphabet");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
    return Fail(Code::kInvalidArgument, "base64url text is not canonical (unused bits are set)");
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

namespace {
// Calls `each` with every code point of strict UTF-8 `text`; false when it is not (or `each` says stop).
template <class Each>
bool ForEachCodePoint(std::string_view text, Each each) {
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  for (size_t i = 0; i < text.size();) {
    auto b = static_cast<unsigned char>(text[i]);
    size_t len = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > text.size()) return false;
    uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    if (!each(static_cast<char32_t>(cp))) return false;
    i += len;
  }
  return true;
}
}  // namespace

bool IsValidUtf8(std::string_view text) {
  return ForEachCodePoint(text, [](char32_t) { return true; });
}

std::optional<std::u32string> DecodeUtf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  if (!ForEachCodePoint(text, [&](char32_t c) {
        out.push_back(c);
        return true;
      }))
    return std::nullopt;
  return out;
}

std::string_view Trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  size_t b = text.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return text.substr(b, text.find_last_not_of(kSpace) - b + 1);
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed: the system has no entropy source");
  return out;
}

std::string RandomBase32(size_t n) {
  static constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::string raw = RandomBytes(n);
  std::string out(n, '0');
  for (size_t i = 0; i < n; ++i) out[i] = kCrockford[static_cast<unsigned char>(raw[i]) & 31];
  return out;
}

namespace {
// The algorithm is fetched once and each thread reuses one context: EVP_sha256() and the
// SHA256()/SHA1() one-shots make OpenSSL 3 fetch the algorithm from its global store (a lookup
// under a lock) on every call, which showed in the profile of pass building (manifest hashes).
// The fetched EVP_MD is immutable and shared by every thread.
std::string Digest(std::string_view bytes, const EVP_MD* md, const EVP_MD* legacy) {
  struct Ctx {
    EVP_MD_CTX* p = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(p); }
  };
  thread_local Ctx ctx;
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!md || !ctx.p || EVP_DigestInit_ex2(ctx.p, md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.p, bytes.data(), bytes.size()) != 1 || EVP_DigestFinal_ex(ctx.p, buf, &len) != 1)
    EVP_Digest(bytes.data(), bytes.size(), buf, &len, legacy, nullptr);  // the slow path, same result
  return std::string(reinterpret_cast<char*>(buf), len);
}
}  // namespace
std::string Sha256(std::string_view bytes) {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return Digest(bytes, md, EVP_sha256());
}
std::string Sha1(std::string_view bytes) {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  return Digest(bytes, md, EVP_sha1());
}

HmacSha256::HmacSha256(std::string_view key) : key_(key) {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  ctx_ = mac ? EVP_MAC_CTX_new(mac) : nullptr;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
  if (ctx_ &&
      EVP_MAC_init(ctx_, reinterpret_cast<const unsigned char*>(key_.data()), key_.size(), params) != 1) {
    EVP_MAC_CTX_free(ctx_);
    ctx_ = nullptr;
  }
}

HmacSha256::~HmacSha256() {
  EVP_MAC_CTX_free(ctx_);
  OPENSSL_cleanse(key_.data(), key_.size());
}

HmacSha256::HmacSha256(HmacSha256&& other) noexcept
    : key_(std::move(other.key_)), ctx_(std::exchange(other.ctx_, nullptr)) {}

std::string HmacSha256::Mac(std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  // Init without a key keeps the key and starts a fresh message.
  if (ctx_ && EVP_MAC_init(ctx_, nullptr, 0, nullptr) == 1 &&
      EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1 &&
      EVP_MAC_final(ctx_, out, &len, sizeof out) == 1)
    return std::string(reinterpret_cast<char*>(out), len);
  unsigned int one_shot = 0;  // the slow path, same result
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &one_shot);
  return std::string(reinterpret_cast<char*>(out), one_shot);
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(Code::kNotFound, path.string() + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Fail(Code::kInternal, path.string() + ": read error");
  return ss.str();
}

Result<> WriteFileAtomic(const std::filesystem::path& path, std::string_view content,
                         std::filesystem::perms mode, bool exclusive) {
  auto err = [&](const std::string& what) {
    return Fail(Code::kInternal, path.string() + ": " + what + ": " + std::strerror(errno));
  };
  std::string tmp = path.string() + ".tmp-" + HexEncode(RandomBytes(6));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) return err("cannot create");
  ::fchmod(fd, static_cast<mode_t>(mode));  // independent of the umask
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      ::unlink(tmp.c_str());
      return err("write failed");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return err("fsync failed");
  }
  if (exclusive) {
    // link() fails if the target exists, so two writers cannot both win.
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      errno = e;
      if (e == EEXIST)
        return Fail(Code::kAlreadyExists, path.string() + ": already exists; refusing to overwrite");
      return err("cannot create");
    }
    ::unlink(tmp.c_str());
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return err("cannot replace");
  }
  int dfd = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace lk
