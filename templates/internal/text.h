#pragma once
// Private to templates/: the error shape every template check uses, and .strings escaping.
#include <string>
#include <string_view>

#include "base/base.h"

namespace lk::templates::internal {

// kInvalidArgument "<where>: <what>", where `where` names the file and, when known, the line
// (`file:12`) or the field (`template.json: pass.storeCard`).
inline std::unexpected<Error> Invalid(std::string_view where, std::string_view what) {
  std::string message;
  message.reserve(where.size() + what.size() + 2);
  message += where;
  message += ": ";
  message += what;
  return Fail(Code::kInvalidArgument, std::move(message));
}

// Appends `s` as the inside of a double-quoted literal: `"` `\` newline, tab and carriage
// return escaped; for JSON also the other control characters (\b, \f, \u00XX, as nlohmann's
// dump() writes them).
void EscapeQuoted(std::string_view s, std::string& out, bool json);
inline void EscapeStrings(std::string_view s, std::string& out) { EscapeQuoted(s, out, false); }
inline void EscapeJson(std::string_view s, std::string& out) { EscapeQuoted(s, out, true); }

}  // namespace lk::templates::internal
