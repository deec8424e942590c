#pragma once
// JSON helpers shared by the Google Wallet sources. Private to passgen.
#include <nlohmann/json.hpp>

#include "base/base.h"

namespace lk::passgen::internal {

// Parses `text`; the error names `what` and the byte offset. Never throws.
inline Result<nlohmann::json> ParseJson(std::string_view text, std::string_view what) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return Fail(Code::kUnavailable,
                std::string(what) + ": malformed JSON (" + std::to_string(text.size()) + " bytes)");
  return j;
}

// Removes Google's "kind" annotations at every level, so that stored and desired resources compare.
inline void StripKind(nlohmann::json& j) {
  if (j.is_object()) {
    j.erase("kind");
    for (auto& [k, v] : j.items()) StripKind(v);
  } else if (j.is_array()) {
    for (auto& v : j) StripKind(v);
  }
}

}  // namespace lk::passgen::internal
