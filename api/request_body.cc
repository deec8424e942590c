#include "api/internal/request_body.h"

#include <algorithm>

namespace lk::api::internal {

std::expected<nlohmann::json, BodyError> ParseJsonBody(std::string_view body, size_t max_bytes,
                                                       std::span<const FieldSpec> fields) {
  using json = nlohmann::json;
  auto bad = [](std::string field, std::string detail) {
    return std::unexpected(BodyError{400, std::move(field), std::move(detail)});
  };
  if (body.size() > max_bytes)
    return std::unexpected(BodyError{413, "",
                                     "the request body has " + std::to_string(body.size()) +
                                         " bytes; the limit is " + std::to_string(max_bytes)});
  // The body is read as JSON whatever Content-Type says (curl -d sends form encoding by default).
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return bad("body", "the request body is not valid JSON");
  if (!doc.is_object()) return bad("body", "the request body must be a JSON object");
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    auto spec =
        std::find_if(fields.begin(), fields.end(), [&](const FieldSpec& f) { return it.key() == f.name; });
    if (spec == fields.end()) {
      std::string known;
      for (auto& f : fields) known += (known.empty() ? "" : ", ") + std::string(f.name);
      return bad(it.key(), "unknown field '" + it.key() + "' (expected " + known + ")");
    }
    bool ok = spec->type == FieldType::kString ? it->is_string() : it->is_number_integer();
    if (!ok)
      return bad(it.key(), "'" + it.key() + "' must be " +
                               (spec->type == FieldType::kString ? "a string" : "an integer"));
  }
  for (auto& f : fields)
    if (f.required && !doc.contains(f.name))
      return bad(f.name, std::string("the field '") + f.name + "' is required");
  return doc;
}

std::optional<std::string_view> PlainVerifyToken(std::string_view b) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < b.size() && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r')) ++i;
  };
  auto take = [&](std::string_view what) {
    skip_space();
    if (b.substr(i, what.size()) != what) return false;
    i += what.size();
    return true;
  };
  if (!take("{") || !take("\"token\"") || !take(":") || !take("\"")) return std::nullopt;
  size_t start = i;
  while (i < b.size() && b[i] != '"') {
    if (b[i] < 0x20 || b[i] > 0x7e || b[i] == '\\') return std::nullopt;
    ++i;
  }
  if (i == b.size()) return std::nullopt;
  std::string_view token = b.substr(start, i - start);
  ++i;
  if (!take("}")) return std::nullopt;
  skip_space();
  if (i != b.size()) return std::nullopt;
  return token;
}

}  // namespace lk::api::internal
