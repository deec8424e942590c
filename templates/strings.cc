// Apple .strings files and {placeholder} filling.
#include <cstdint>

#include "templates/internal/text.h"
#include "templates/templates.h"

namespace lk::templates {
using internal::Invalid;

void internal::EscapeQuoted(std::string_view s, std::string& out, bool json) {
  static const char* kHex = "0123456789abcdef";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (!json || static_cast<unsigned char>(c) >= 0x20) {
          out += c;
        } else if (c == '\b') {
          out += "\\b";
        } else if (c == '\f') {
          out += "\\f";
        } else {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xF];
          out += kHex[c & 0xF];
        }
    }
  }
}

namespace {

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

}  // namespace

Result<std::string> FillPlaceholders(std::string_view text, const CardValues& card,
                                     const std::string& where) {
  std::string out;
  out.reserve(text.size() + 32);
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      return Invalid(where, "stray '}' (write '}}' for a literal brace)");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t end = text.find('}', i);
    if (end == std::string_view::npos)
      return Invalid(where, "unterminated placeholder (write '{{' for a literal brace)");
    std::string_view name = text.substr(i + 1, end - i - 1);
    if (name == "name")
      out += card.name;
    else if (name == "school")
      out += card.school;
    else if (name == "serial")
      out += card.serial;
    else if (name == "year")
      out += std::to_string(card.year);
    else if (name == "valid_from")
      out += card.valid_from;
    else if (name == "valid_until")
      out += card.valid_until;
    else
      return Invalid(where, "unknown placeholder '{" + std::string(name) +
                                "}' (known: {name} {school} {year} {serial} {valid_from} {valid_until})");
    i = end;
  }
  return out;
}

Result<std::map<std::string, std::string>> ParseStrings(std::string_view text, const std::string& where) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  int line = 1;
  if (text.starts_with("\xEF\xBB\xBF")) i = 3;
  auto fail = [&](const std::string& what) { return Invalid(where + ":" + std::to_string(line), what); };
  auto skip_space = [&]() -> Result<> {
    while (i < text.size()) {
      char c = text[i];
      if (c == '\n') {
        ++line;
        ++i;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++i;
      } else if (text.substr(i, 2) == "//") {
        while (i < text.size() && text[i] != '\n') ++i;
      } else if (text.substr(i, 2) == "/*") {
        size_t end = text.find("*/", i + 2);
        if (end == std::string_view::npos) return fail("unterminated /* comment");
        for (size_t k = i; k < end; ++k) line += text[k] == '\n';
        i = end + 2;
      } else {
        break;
      }
    }
    return {};
  };
  auto quoted = [&](std::string& s) -> Result<> {
    if (i >= text.size() || text[i] != '"') return fail("expected a \"quoted string\"");
    ++i;
    while (true) {
      if (i >= text.size() || text[i] == '\n') return fail("unterminated string");
      char c = text[i++];
      if (c == '"') return {};
      if (c != '\\') {
        s += c;
        continue;
      }
      if (i >= text.size()) return fail("unterminated string");
      char e = text[i++];
      switch (e) {
        case '"':
          s += '"';
          break;
        case '\\':
          s += '\\';
          break;
        case 'n':
          s += '\n';
          break;
        case 't':
          s += '\t';
          break;
        case 'r':
          s += '\r';
          break;
        case 'u': {
          if (i + 4 > text.size()) return fail("bad \\u escape");
          uint32_t cp = 0;
          for (int k = 0; k < 4; ++k) {
            char h = text[i++];
            cp <<= 4;
            if (h >= '0' && h <= '9')
              cp |= uint32_t(h - '0');
            else if (h >= 'a' && h <= 'f')
              cp |= uint32_t(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
              cp |= uint32_t(h - 'A' + 10);
            else
              return fail("bad \\u escape");
          }
          if (cp >= 0xD800 && cp <= 0xDFFF) return fail("\\u escape of a surrogate");
          AppendUtf8(s, cp);
          break;
        }
        default:
          return fail(std::string("unknown escape \\") + e);
      }
    }
  };
  while (true) {
    if (auto r = skip_space(); !r) return std::unexpected(r.error());
    if (i >= text.size()) break;
    std::string key, value;
    int key_line = line;
    if (auto r = quoted(key); !r) return std::unexpected(r.error());
    if (auto r = skip_space(); !r) return std::unexpected(r.error());
    if (i >= text.size() || text[i] != '=') return fail("expected '=' after \"" + key + "\"");
    ++i;
    if (auto r = skip_space(); !r) return std::unexpected(r.error());
    if (auto r = quoted(value); !r) return std::unexpected(r.error());
    if (auto r = skip_space(); !r) return std::unexpected(r.error());
    if (i >= text.size() || text[i] != ';') return fail("expected ';' after the value of \"" + key + "\"");
    ++i;
    if (key.empty()) return fail("empty key");
    if (!out.emplace(key, std::move(value)).second)
      return Invalid(where + ":" + std::to_string(key_line), "key \"" + key + "\" appears twice");
  }
  return out;
}

std::string FormatStrings(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out;
  for (const auto& [k, v] : entries) {
    out += '"';
    internal::EscapeStrings(k, out);
    out += "\" = \"";
    internal::EscapeStrings(v, out);
    out += "\";\n";
  }
  return out;
}

}  // namespace lk::templates
