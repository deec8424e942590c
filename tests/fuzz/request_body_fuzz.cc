// libFuzzer target: the JSON request bodies of POST /v1/claims, /v1/cards, /v1/verify and
// /v1/cards/{serial}/revoke. Parsing must never crash, throw or hang, and an accepted body must
// satisfy exactly the contract the handlers rely on (an object, only known fields, each of its
// type, every required one present); where the verify handler's shortcut (PlainVerifyToken) reads
// a token, the strict parser accepts the body with the same token. The first input byte picks the
// body kind.
// Build with clang >= 16 and -DLK_FUZZ=ON (see token_verify_fuzz.cc); otherwise ctest replays
// tests/fuzz/corpus/request_body.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "api/internal/request_body.h"

namespace {
using namespace lk::api::internal;

void Check(std::string_view body, std::span<const FieldSpec> fields) {
  auto parsed = ParseJsonBody(body, 4096, fields);
  if (!parsed) {
    const BodyError& e = parsed.error();
    if (e.detail.empty()) __builtin_trap();
    if (e.status == 413) {
      if (body.size() <= 4096) __builtin_trap();
      return;
    }
    if (e.status != 400) __builtin_trap();
    // A 400 names what is at fault: the body, a field of the route, or a member of the body the
    // route does not know (whatever its name, "" included).
    bool named = e.field == "body";
    for (const auto& f : fields) named = named || e.field == f.name;
    if (!named) {
      auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
      if (doc.is_discarded() || !doc.is_object() || !doc.contains(e.field)) __builtin_trap();
    }
    return;
  }
  const auto& doc = *parsed;
  if (!doc.is_object() || body.size() > 4096) __builtin_trap();
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const FieldSpec* spec = nullptr;
    for (const auto& f : fields)
      if (it.key() == f.name) spec = &f;
    if (!spec) __builtin_trap();
    if (spec->type == FieldType::kString ? !it->is_string() : !it->is_number_integer()) __builtin_trap();
  }
  for (const auto& f : fields)
    if (f.required && !doc.contains(f.name)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      Check(body, kClaimBody);
      break;
    case 1:
      Check(body, kIssueBody);
      break;
    case 2: {
      Check(body, kVerifyBody);
      // The verify handler's shortcut agrees with the strict parser wherever it answers.
      if (auto token = PlainVerifyToken(body)) {
        auto parsed = ParseJsonBody(body, body.size(), kVerifyBody);
        if (!parsed || (*parsed)["token"].get<std::string>() != *token) __builtin_trap();
      }
      break;
    }
    default:
      Check(body, kRevokeBody);
      break;
  }
  return 0;
}
