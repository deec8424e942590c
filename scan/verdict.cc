// Verdicts: the token verifier's refusal words grouped into what a desk acts on, and their
// sentences from verdict_texts.json (compiled in; see verdict_texts.cc.in).
#include <nlohmann/json.hpp>

#include "scan/internal/judge.h"
#include "scan/scan.h"

namespace lk::scan {
namespace internal {
extern const char kVerdictTexts[];
}  // namespace internal

namespace {
using json = nlohmann::json;

std::string_view LangCode(Lang lang) { return lang == Lang::kFr ? "fr" : lang == Lang::kEn ? "en" : "nl"; }

// The sentence `key` in `lang` with each {name} replaced by its value.
std::string Text(Lang lang, std::string_view key,
                 std::initializer_list<std::pair<std::string_view, std::string>> vars) {
  static const json texts = json::parse(internal::kVerdictTexts);  // immutable once parsed
  const json& table = texts.at(std::string(LangCode(lang)));
  auto it = table.find(std::string(key));
  std::string out = it == table.end() ? std::string(key) : it->get<std::string>();
  for (const auto& [name, value] : vars) {
    std::string marker = "{" + std::string(name) + "}";
    for (size_t at = out.find(marker); at != std::string::npos; at = out.find(marker, at + value.size()))
      out.replace(at, marker.size(), value);
  }
  return out;
}

std::string Duration(Lang lang, std::chrono::seconds d) {
  auto minutes = std::chrono::duration_cast<std::chrono::minutes>(d).count();
  if (minutes < 120) return Text(lang, "minutes", {{"n", std::to_string(minutes)}});
  return Text(lang, "hours", {{"n", std::to_string(minutes / 60)}});
}

}  // namespace

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kValid:
      return "valid";
    case Outcome::kRevoked:
      return "revoked";
    case Outcome::kExpired:
      return "expired";
    case Outcome::kNotYetValid:
      return "not_yet_valid";
    case Outcome::kNotLerarenkaart:
      return "not_lerarenkaart";
    case Outcome::kDamaged:
      return "damaged";
    case Outcome::kUnknownKey:
      return "unknown_key";
  }
  return "damaged";
}

Result<Lang> ParseLang(std::string_view code) {
  if (code == "nl") return Lang::kNl;
  if (code == "fr") return Lang::kFr;
  if (code == "en") return Lang::kEn;
  return Fail(Code::kInvalidArgument, "--lang must be nl, fr or en, not '" + std::string(code) + "'");
}

std::string Verdict::Sentence(Lang lang) const {
  return Text(lang, OutcomeName(outcome), {{"year", year ? std::to_string(*year) : "?"}, {"serial", serial}});
}

std::string Verdict::ToJson(Lang lang) const {
  json j = {{"verdict", OutcomeName(outcome)},
            {"valid", outcome == Outcome::kValid},
            {"reason", reason},
            {"serial", serial.empty() ? json(nullptr) : json(serial)},
            {"year", year ? json(*year) : json(nullptr)},
            {"message", Sentence(lang)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string KnowledgeSentence(const Knowledge& k, Lang lang) {
  std::string out;
  if (!k.online) out = Text(lang, "offline", {{"age", Duration(lang, k.age)}, {"reason", k.offline_reason}});
  if (k.stale) {
    if (!out.empty()) out += ' ';
    out += Text(lang, "stale", {{"age", Duration(lang, k.age)}, {"max_age", Duration(lang, k.max_age)}});
  }
  return out;
}

Outcome OutcomeForReason(std::string_view reason) {
  if (reason.empty()) return Outcome::kValid;
  if (reason == "revoked") return Outcome::kRevoked;
  if (reason == "expired") return Outcome::kExpired;
  if (reason == "not_yet_valid") return Outcome::kNotYetValid;
  if (reason == "unknown_kid") return Outcome::kUnknownKey;
  // Not one of our tokens at all: another QR code, another kind of JWS, or another issuer's.
  for (std::string_view r : {"malformed", "too_large", "unsupported_algorithm", "wrong_kind", "missing_kid",
                             "missing_claim", "invalid_claim", "wrong_issuer", "unknown_serial"})
    if (reason == r) return Outcome::kNotLerarenkaart;
  // bad_signature, non_canonical_signature, bad_base64, non_canonical_encoding, bad_json and
  // anything new: shaped like ours but not intact.
  return Outcome::kDamaged;
}

namespace internal {

std::string RevokedKey(std::string_view serial, int year) {
  return std::string(serial) + "/" + std::to_string(year);
}

Verdict JudgeToken(const signing::TokenVerifier& verifier, const std::unordered_set<std::string>& revoked,
                   std::string_view token, Time now) {
  token = Trim(token);
  auto v = verifier.Verify(token, now);
  Verdict out;
  out.reason = v.reason;
  out.serial = v.serial;
  out.year = v.year;
  out.outcome = OutcomeForReason(v.reason);
  // A revoked card is refused as revoked whatever its time window says, like POST /v1/verify
  // does for valid ones; an expired revoked card stays "expired" there, and here too.
  if (out.outcome == Outcome::kValid && v.year && revoked.contains(RevokedKey(v.serial, *v.year))) {
    out.outcome = Outcome::kRevoked;
    out.reason = "revoked";
  }
  if (out.outcome == Outcome::kNotLerarenkaart || out.outcome == Outcome::kDamaged ||
      out.outcome == Outcome::kUnknownKey) {
    out.serial.clear();  // not vouched for by a key we trust
    out.year.reset();
  }
  return out;
}

}  // namespace internal
}  // namespace lk::scan
