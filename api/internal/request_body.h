#pragma once
// Strict JSON request bodies: an object with known fields of the right types. Pure and
// thread-safe; fuzzed by tests/fuzz/request_body_fuzz.cc.
#include <cstddef>
#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace lk::api::internal {

enum class FieldType { kString, kInt };
struct FieldSpec {
  const char* name;
  FieldType type;
  bool required;
};
struct BodyError {
  int status;          // 400, or 413 when the body is larger than max_bytes
  std::string field;   // the field at fault ("body" for the whole body; "" for 413)
  std::string detail;  // a sentence naming what is wrong
};

// The body as a JSON object whose members are all in `fields`, each of its type, with every
// required one present. Never throws.
std::expected<nlohmann::json, BodyError> ParseJsonBody(std::string_view body, size_t max_bytes,
                                                       std::span<const FieldSpec> fields);

// The token of a verify body that is exactly {"token":"..."} (JSON whitespace around the tokens)
// with a value of printable ASCII without escapes; std::nullopt for any other body. Where it
// answers, ParseJsonBody(body, n, kVerifyBody) accepts the body (for n >= its size) with the same
// token: the verify handler tries this first and leaves every other body to ParseJsonBody.
std::optional<std::string_view> PlainVerifyToken(std::string_view body);

// The bodies the service accepts, for the handlers and the fuzz target.
inline constexpr FieldSpec kClaimBody[] = {{"claim_code", FieldType::kString, true}};
inline constexpr FieldSpec kIssueBody[] = {{"staff_id", FieldType::kString, true},
                                           {"year", FieldType::kInt, false}};
inline constexpr FieldSpec kVerifyBody[] = {{"token", FieldType::kString, true}};
inline constexpr FieldSpec kRevokeBody[] = {{"reason", FieldType::kString, true}};

}  // namespace lk::api::internal
