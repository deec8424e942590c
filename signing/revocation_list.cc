// The signed revocation list: signing with the revocation-list key and strict verification,
// on the same JWS pieces as QR tokens (signing/internal/jws.h).
#include "signing/revocation_list.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "signing/internal/jws.h"
#include "signing/internal/keyring_store.h"

namespace lk::signing {
using namespace internal;
using json = nlohmann::json;
namespace chr = std::chrono;

namespace {

constexpr const char *kHeaderTyp = "lk-revocations+jwt", *kPayloadTyp = "revocations";
constexpr int kFirstYear = 2000, kLastYear = 2200;  // as a token's `y`

int64_t Seconds(Time t) { return t.time_since_epoch().count(); }

std::string Describe(const RevocationList& l) {
  return "seq " + std::to_string(l.sequence) + ", issued " + FormatRfc3339(l.issued_at);
}

// Whether `list` is older than `held`: a smaller seq, or the same seq issued earlier.
bool Older(const RevocationList& list, const RevocationList& held) {
  return std::pair(list.sequence, list.issued_at) < std::pair(held.sequence, held.issued_at);
}

// Years non-empty, strictly ascending, each in kFirstYear..kLastYear.
bool ValidYears(const std::vector<int>& years) {
  if (years.empty()) return false;
  for (size_t i = 0; i < years.size(); ++i)
    if (years[i] < kFirstYear || years[i] > kLastYear || (i > 0 && years[i] <= years[i - 1])) return false;
  return true;
}

class SignerImpl final : public RevocationSigner {
 public:
  SignerImpl(PKey key, std::string kid) : key_(std::move(key)), kid_(std::move(kid)) {
    header_b64_ = Base64UrlEncode(json({{"alg", "ES256"}, {"kid", kid_}, {"typ", kHeaderTyp}}).dump());
  }

  Result<std::string> Sign(const RevocationList& list) const override {
    if (list.issuer.empty()) return Fail(Code::kInvalidArgument, "a revocation list needs an issuer");
    if (!ValidYears(list.years))
      return Fail(Code::kInvalidArgument,
                  "a revocation list's card years must be ascending, from 2000 to 2200, at least one");
    if (list.sequence < 0)
      return Fail(Code::kInvalidArgument, "a revocation list's sequence number cannot be negative");
    if (list.expires <= list.issued_at || list.expires - list.issued_at > kMaxRevocationListLifetime)
      return Fail(Code::kInvalidArgument, "a revocation list must expire after it is issued and within " +
                                              std::to_string(kMaxRevocationListLifetime.count()) + " hours");
    auto revoked = list.revoked;
    std::sort(revoked.begin(), revoked.end(), [](const auto& a, const auto& b) {
      return std::pair(a.second, a.first) < std::pair(b.second, b.first);
    });
    nlohmann::ordered_json by_year = nlohmann::ordered_json::object();
    for (int y : list.years) by_year[std::to_string(y)] = json::array();
    for (size_t i = 0; i < revoked.size(); ++i) {
      const auto& [serial, year] = revoked[i];
      if (!ValidSerial(serial))
        return Fail(Code::kInvalidArgument,
                    "revoked serial '" + serial + "' must be 1-40 letters, digits, '-' or '_'");
      if (!std::binary_search(list.years.begin(), list.years.end(), year))
        return Fail(Code::kInvalidArgument, "revoked card " + serial + " is of card year " +
                                                std::to_string(year) + ", which the list does not cover");
      if (i > 0 && revoked[i - 1] == revoked[i])
        return Fail(Code::kInvalidArgument, "revoked card " + serial + " is listed twice");
      by_year[std::to_string(year)].push_back(serial);
    }
    nlohmann::ordered_json payload = {
        {"iss", list.issuer},           {"typ", kPayloadTyp},   {"iat", Seconds(list.issued_at)},
        {"exp", Seconds(list.expires)}, {"seq", list.sequence}, {"years", list.years},
        {"revoked", std::move(by_year)}};
    std::string jws = header_b64_;
    jws += '.';
    jws += Base64UrlEncode(payload.dump(-1, ' ', false, json::error_handler_t::replace));
    if (auto r = key_.AppendSignature(jws); !r) return std::unexpected(r.error());
    if (jws.size() > kMaxRevocationListBytes)
      return Fail(Code::kResourceExhausted,
                  "the revocation list would be " + std::to_string(jws.size()) + " bytes, over the " +
                      std::to_string(kMaxRevocationListBytes) + " that verifiers accept");
    return jws;
  }

  const std::string& kid() const override { return kid_; }

 private:
  Es256Key key_;
  std::string kid_;
  std::string header_b64_;
};

std::unexpected<RevocationRefusal> Refuse(std::string reason, std::string message) {
  return std::unexpected(RevocationRefusal{std::move(reason), std::move(message)});
}

// A JSON integer that fits int64_t.
bool Int64(const json& j, int64_t& out) {
  if (j.is_number_unsigned()) {
    if (j.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) return false;
    out = static_cast<int64_t>(j.get<uint64_t>());
    return true;
  }
  if (!j.is_number_integer()) return false;
  out = j.get<int64_t>();
  return true;
}

class VerifierImpl final : public RevocationVerifier {
 public:
  VerifierImpl(KeySet keys, TokenPolicy policy)
      : keys_(KeysOfUse(keys, KeyUse::kRevocations)), policy_(std::move(policy)) {}

  std::expected<RevocationList, RevocationRefusal> Verify(std::string_view jws, Time now,
                                                          const RevocationList* held) const override {
    if (jws.size() > kMaxRevocationListBytes)
      return Refuse("too_large",
                    "the revocation list is over " + std::to_string(kMaxRevocationListBytes) + " bytes");
    std::string parts[3];
    if (const char* refused = DecodeCompact(jws, parts))
      return Refuse(refused, "the revocation list is not a compact JWS of three base64url parts");

    json header;
    if (!ParseObject(parts[0], header))
      return Refuse("bad_json", "the header is not a JSON object (or repeats a member)");
    auto alg = header.find("alg");
    if (alg == header.end() || !alg->is_string() || alg->get_ref<const std::string&>() != "ES256")
      return Refuse("unsupported_algorithm", "the header's alg is not ES256");
    for (auto it = header.begin(); it != header.end(); ++it)
      if (it.key() != "alg" && it.key() != "kid" && it.key() != "typ")
        return Refuse("wrong_kind", "the header has member '" + it.key() +
                                        "'; a revocation list has alg, kid and typ only");
    auto typ = header.find("typ");
    if (typ == header.end() || !typ->is_string() || typ->get_ref<const std::string&>() != kHeaderTyp)
      return Refuse("wrong_kind", "the header's typ is not \"lk-revocations+jwt\": not a revocation list");
    auto kid = header.find("kid");
    if (kid == header.end() || !kid->is_string()) return Refuse("missing_kid", "the header has no kid");
    auto key = keys_.impl_->keys.find(kid->get_ref<const std::string&>());
    if (key == keys_.impl_->keys.end())
      return Refuse("unknown_kid",
                    "kid '" + kid->get<std::string>() + "' is not a published revocation-list key");
    if (const char* refused = CheckEs256(*key->second, jws.substr(0, jws.rfind('.')), parts[2]))
      return Refuse(refused, "the signature does not verify with revocation-list key " + key->first);

    json payload;
    if (!ParseObject(parts[1], payload))
      return Refuse("bad_json", "the payload is not a JSON object (or repeats a member)");
    static const std::set<std::string, std::less<>> kMembers = {"iss", "typ",   "iat",    "exp",
                                                                "seq", "years", "revoked"};
    for (auto it = payload.begin(); it != payload.end(); ++it)
      if (!kMembers.contains(it.key()))
        return Refuse("wrong_kind",
                      "the payload has member '" + it.key() + "', which a revocation list does not");
    if (auto t = payload.find("typ");
        t != payload.end() && (!t->is_string() || t->get_ref<const std::string&>() != kPayloadTyp))
      return Refuse("wrong_kind", "the payload's typ is not \"revocations\"");
    for (const auto& m : kMembers)
      if (!payload.contains(m)) return Refuse("missing_claim", "the payload has no '" + m + "'");
    auto list = Read(payload);
    if (!list) return std::unexpected(list.error());
    if (list->issuer != policy_.issuer)
      return Refuse("wrong_issuer",
                    "the list's issuer '" + list->issuer + "' is not '" + policy_.issuer + "'");
    if (list->issued_at > now + policy_.leeway)
      return Refuse("not_yet_valid",
                    "the list is issued at " + FormatRfc3339(list->issued_at) + ", in the future");
    if (now >= list->expires) return Refuse("expired", "the list expired at " + FormatRfc3339(list->expires));
    if (held && Older(*list, *held))
      return Refuse(
          "stale", "the list (" + Describe(*list) + ") is older than the one held (" + Describe(*held) + ")");
    return std::move(*list);
  }

 private:
  // The members' values, each of the right type and range ("invalid_claim" otherwise).
  static std::expected<RevocationList, RevocationRefusal> Read(const json& p) {
    RevocationList l;
    int64_t iat, exp;
    if (!p["iss"].is_string()) return Refuse("invalid_claim", "'iss' is not a string");
    l.issuer = p["iss"].get<std::string>();
    if (!Int64(p["iat"], iat) || !Int64(p["exp"], exp) || iat < 0 || exp <= iat)
      return Refuse("invalid_claim", "'iat' and 'exp' must be integers (seconds), 0 <= iat < exp");
    l.issued_at = Time(chr::seconds(iat));
    l.expires = Time(chr::seconds(exp));
    if (!Int64(p["seq"], l.sequence) || l.sequence < 0)
      return Refuse("invalid_claim", "'seq' must be an integer of at least 0");
    const json& years = p["years"];
    if (!years.is_array()) return Refuse("invalid_claim", "'years' is not an array");
    for (const json& y : years) {
      int64_t v;
      if (!Int64(y, v) || v < kFirstYear || v > kLastYear)
        return Refuse("invalid_claim", "'years' holds something other than a card year 2000-2200");
      l.years.push_back(static_cast<int>(v));
    }
    if (!ValidYears(l.years))
      return Refuse("invalid_claim", "'years' must be ascending card years, at least one");
    const json& revoked = p["revoked"];
    if (!revoked.is_object() || revoked.size() != l.years.size())
      return Refuse("invalid_claim", "'revoked' must be an object with one member per card year in 'years'");
    for (int y : l.years) {
      auto serials = revoked.find(std::to_string(y));
      if (serials == revoked.end() || !serials->is_array())
        return Refuse("invalid_claim", "'revoked' has no array for card year " + std::to_string(y));
      const std::string* previous = nullptr;
      for (const json& s : *serials) {
        if (!s.is_string() || !ValidSerial(s.get_ref<const std::string&>()) ||
            (previous && *previous >= s.get_ref<const std::string&>()))
          return Refuse("invalid_claim", "'revoked' of " + std::to_string(y) +
                                             " must hold valid serials in ascending order, each once");
        previous = &s.get_ref<const std::string&>();
        l.revoked.emplace_back(*previous, y);
      }
    }
    return l;
  }

  KeySet keys_;
  TokenPolicy policy_;
};

}  // namespace

Result<std::unique_ptr<RevocationSigner>> RevocationSigner::Create(const Keyring& keyring) {
  auto pem = keyring.ActiveRevocationKeyPem();
  if (!pem) return std::unexpected(pem.error());
  auto key = ParsePrivateKeyPem(*pem, "", "active revocation-list key");
  if (!key) return std::unexpected(key.error());
  std::string kid;
  for (const auto& k : keyring.RevocationKeys())
    if (k.active) kid = k.kid;
  return std::make_unique<SignerImpl>(std::move(*key), std::move(kid));
}

std::unique_ptr<RevocationVerifier> RevocationVerifier::Create(KeySet keys, TokenPolicy policy) {
  return std::make_unique<VerifierImpl>(std::move(keys), std::move(policy));
}

}  // namespace lk::signing
