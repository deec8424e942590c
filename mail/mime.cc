// MIME encodings, header fields, address checks and the QR code PNG of the mail module.
#include "mail/internal/mime.h"

#include <qrencode.h>
#include <zlib.h>

#include <array>
#include <cstdint>
#include <memory>

#include "mail/mail.h"

namespace lk::mail {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool IsAtext(char c) {
  auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return true;
  return std::string_view("!#$%&'*+/=?^_`{|}~-").find(c) != std::string_view::npos;
}

Result<> CheckEmail(std::string_view email, std::string_view what) {
  auto bad = [&](std::string why) {
    return Fail(Code::kInvalidArgument,
                std::string(what) + ": email address \"" + internal::Printable(email) + "\" " + why);
  };
  if (email.empty()) return bad("is empty");
  for (char c : email) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return bad("contains a control character");
    if (u >= 0x80) return bad("is not ASCII (internationalised addresses are not supported)");
  }
  if (email.size() > 254) return bad("is longer than 254 characters");
  auto at = email.rfind('@');
  if (at == std::string_view::npos) return bad("has no @");
  auto local = email.substr(0, at), domain = email.substr(at + 1);
  if (local.empty() || local.size() > 64)
    return bad("has a local part (before @) of 0 or more than 64 characters");
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
    return bad("has a misplaced dot before the @");
  for (char c : local)
    if (!IsAtext(c) && c != '.') return bad(std::string("contains '") + c + "' before the @");
  if (domain.empty()) return bad("has no domain after the @");
  size_t start = 0;
  while (start <= domain.size()) {
    auto end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    auto label = domain.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return bad("has a malformed domain");
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return bad("has a malformed domain");
    start = end + 1;
  }
  return {};
}

}  // namespace

Result<> CheckAddress(const Address& address, std::string_view what) {
  if (auto r = CheckEmail(address.email, what); !r) return r;
  auto bad = [&](std::string why) {
    return Fail(Code::kInvalidArgument,
                std::string(what) + ": name \"" + internal::Printable(address.name) + "\" " + why);
  };
  if (address.name.size() > 256) return bad("is longer than 256 bytes");
  auto cps = DecodeUtf8(address.name);
  if (!cps) return bad("is not valid UTF-8");
  for (char32_t cp : *cps)
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029)
      return bad("contains a control character or line break");
  return {};
}

namespace internal {

std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  if (text.size() > 80) out += "...";
  return out;
}

std::string QuotedPrintable(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 11 / 10 + 16);
  size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    bool last = end == std::string_view::npos;
    if (last) end = text.size();
    auto line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t col = 0;
    for (size_t i = 0; i < line.size(); ++i) {
      auto u = static_cast<unsigned char>(line[i]);
      bool at_end = i + 1 == line.size();
      char token[4];
      size_t n;
      if ((u >= 33 && u <= 126 && u != '=') || ((u == ' ' || u == '\t') && !at_end)) {
        token[0] = static_cast<char>(u);
        n = 1;
      } else {
        token[0] = '=';
        token[1] = kHex[u >> 4];
        token[2] = kHex[u & 15];
        n = 3;
      }
      // Keep room for the soft break's '=' unless this is the line's last token.
      if (col + n > (at_end ? 76u : 75u)) {
        out += "=\r\n";
        col = 0;
      }
      out.append(token, n);
      col += n;
    }
    if (last) break;
    out += "\r\n";
    pos = end + 1;
  }
  return out;
}

std::string Base64Lines(std::string_view bytes) {
  std::string b64 = Base64Encode(bytes), out;
  out.reserve(b64.size() + b64.size() / 38 + 2);
  for (size_t i = 0; i < b64.size(); i += 76) {
    out.append(b64, i, 76);
    out += "\r\n";
  }
  return out;
}

namespace {
// Encoded words (RFC 2047, UTF-8, B) for `text`, each at most 75 characters and never splitting
// a UTF-8 sequence, joined by folding white space.
std::string EncodedWords(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    // 39 bytes: 52 base64 characters + 12 = 64, so even "Subject: " and a word stay within 76.
    size_t n = std::min<size_t>(39, text.size() - pos);
    while (pos + n < text.size() && (static_cast<unsigned char>(text[pos + n]) & 0xC0) == 0x80) --n;
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64Encode(text.substr(pos, n)) + "?=";
    pos += n;
  }
  return out;
}

bool PlainAscii(std::string_view text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
  }
  // "=?" could be read as the start of an encoded word.
  return text.find("=?") == std::string_view::npos;
}
}  // namespace

std::string UnstructuredHeader(std::string_view name, std::string_view value) {
  std::string out(name);
  out += ": ";
  if (PlainAscii(value) && name.size() + 2 + value.size() <= 78) {
    out += value;
  } else {
    out += EncodedWords(value);
  }
  out += "\r\n";
  return out;
}

std::string MailboxHeader(std::string_view name, const Address& address) {
  std::string out(name);
  out += ": ";
  if (!address.name.empty()) {
    if (PlainAscii(address.name) && address.name.size() <= 60) {
      out += '"';
      for (char c : address.name) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += "\" ";
    } else {
      out += EncodedWords(address.name);
      out += "\r\n ";
    }
  }
  out += "<" + address.email + ">\r\n";
  return out;
}

std::string FormatMailDate(Time t) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto offset = BrusselsOffset(t);
  auto local = t + offset;
  auto day = std::chrono::floor<std::chrono::days>(local);
  std::chrono::year_month_day ymd(day);
  std::chrono::hh_mm_ss hms(local - day);
  std::chrono::weekday wd(day);
  char buf[64];
  auto minutes = offset.count() / 60;
  std::snprintf(buf, sizeof buf, "%s, %02u %s %d %02d:%02d:%02d %c%02d%02d", kDays[wd.c_encoding()],
                static_cast<unsigned>(ymd.day()), kMonths[static_cast<unsigned>(ymd.month()) - 1],
                static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                minutes < 0 ? '-' : '+', static_cast<int>(std::abs(minutes) / 60),
                static_cast<int>(std::abs(minutes) % 60));
  return buf;
}

namespace {
void AppendBe32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}
void AppendChunk(std::string& png, const char type[4], std::string_view data) {
  AppendBe32(png, static_cast<uint32_t>(data.size()));
  size_t at = png.size();
  png.append(type, 4);
  png.append(data);
  uLong crc = crc32(0, reinterpret_cast<const Bytef*>(png.data() + at), static_cast<uInt>(4 + data.size()));
  AppendBe32(png, static_cast<uint32_t>(crc));
}
}  // namespace

Result<std::string> QrPng(std::string_view text, int scale, int* width) {
  std::string input(text);
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(QRcode_encodeString8bit(input.c_str(), 0, QR_ECLEVEL_M),
                                                     &QRcode_free);
  if (!qr) return Fail(Code::kInvalidArgument, "the claim link is too long for a QR code");
  constexpr int kQuiet = 4;
  const int modules = qr->width + 2 * kQuiet;
  const int side = modules * scale;
  const int row_bytes = (side + 7) / 8;
  // Rows of 1-bit pixels, 1 = white, each after filter byte 0 (none).
  std::string raw(static_cast<size_t>(side) * (row_bytes + 1), '\0');
  for (int y = 0; y < side; ++y) {
    auto* row = reinterpret_cast<unsigned char*>(raw.data()) + static_cast<size_t>(y) * (row_bytes + 1) + 1;
    int my = y / scale - kQuiet;
    for (int x = 0; x < side; ++x) {
      int mx = x / scale - kQuiet;
      bool dark =
          my >= 0 && my < qr->width && mx >= 0 && mx < qr->width && (qr->data[my * qr->width + mx] & 1);
      if (!dark) row[x / 8] |= static_cast<unsigned char>(0x80 >> (x % 8));
    }
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
                reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()), 9) != Z_OK)
    return Fail(Code::kInternal, "zlib could not compress the QR code image");
  packed.resize(packed_size);
  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  AppendBe32(ihdr, static_cast<uint32_t>(side));
  AppendBe32(ihdr, static_cast<uint32_t>(side));
  ihdr += std::string("\x01\x00\x00\x00\x00", 5);  // bit depth 1, greyscale, deflate, filter 0, no interlace
  AppendChunk(png, "IHDR", ihdr);
  AppendChunk(png, "IDAT", packed);
  AppendChunk(png, "IEND", "");
  *width = side;
  return png;
}

}  // namespace internal
}  // namespace lk::mail
