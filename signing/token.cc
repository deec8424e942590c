// Compact ES256 QR tokens. Signing and verification are written directly against OpenSSL's
// EVP API rather than through cpp-jwt: cpp-jwt 1.4 re-parses the PEM key on every call (about
// 10% of the raw ECDSA rate), accepts malleable high-s signatures and padded base64, does not
// require exp, and allows algorithm confusion when several algorithms are listed. Here each
// check is explicit and keys are parsed once.
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_set>

#include "signing/internal/jws.h"
#include "signing/internal/keyring_store.h"
#include "signing/signing.h"

namespace lk::signing {
using namespace internal;
using json = nlohmann::json;
namespace chr = std::chrono;

Validity CardYearValidity(int year, const TokenPolicy& policy) {
  Time start = BrusselsMidnight(chr::year(year) / chr::January / 1);
  Time end = BrusselsMidnight(chr::year(year + 1) / chr::January / 1) + policy.grace;
  return {start, end};
}

namespace {

class IssuerImpl final : public TokenIssuer {
 public:
  IssuerImpl(PKey key, std::string kid, TokenPolicy policy)
      : key_(std::move(key)), kid_(std::move(kid)), policy_(std::move(policy)) {
    header_b64_ = Base64UrlEncode(R"({"alg":"ES256","kid":")" + kid_ + R"("})");
    iss_json_ = json(policy_.issuer).dump();
  }

  Result<std::string> Issue(std::string_view serial, int year, Time now) const override {
    if (!ValidSerial(serial))
      return Fail(Code::kInvalidArgument,
                  "serial '" + std::string(serial) + "' must be 1-40 letters, digits, '-' or '_'");
    int this_year = int(BrusselsDate(now).year());
    Validity v = CardYearValidity(year, policy_);
    if (year > this_year + 1 || v.expires <= now)
      return Fail(Code::kInvalidArgument, "card year " + std::to_string(year) +
                                              " cannot be issued now: tokens are issued for a card year "
                                              "that has not ended (with grace) and at most one year ahead");
    char claims[256];
    int n = std::snprintf(claims, sizeof claims, R"({"iss":%s,"sub":"%.*s","y":%d,"nbf":%lld,"exp":%lld})",
                          iss_json_.c_str(), int(serial.size()), serial.data(), year,
                          static_cast<long long>(v.not_before.time_since_epoch().count()),
                          static_cast<long long>(v.expires.time_since_epoch().count()));
    if (n < 0 || n >= int(sizeof claims))
      return Fail(Code::kInvalidArgument, "issuer URL too long for a token");
    std::string token = header_b64_;
    token += '.';
    token += Base64UrlEncode(std::string_view(claims, static_cast<size_t>(n)));
    if (auto r = key_.AppendSignature(token); !r) return std::unexpected(r.error());
    return token;
  }

  const std::string& kid() const override { return kid_; }

 private:
  Es256Key key_;
  std::string kid_;
  TokenPolicy policy_;
  std::string header_b64_, iss_json_;
};

Verdict Invalid(std::string reason) {
  Verdict v;
  v.reason = std::move(reason);
  return v;
}

class VerifierImpl final : public TokenVerifier {
 public:
  // Only the token keys of `keys`: a revocation-list key never verifies a token.
  VerifierImpl(KeySet keys, TokenPolicy policy)
      : keys_(KeysOfUse(keys, KeyUse::kToken)),
        policy_(std::move(policy)),
        iss_json_(json(policy_.issuer).dump(-1, ' ', false, json::error_handler_t::replace)) {}

  Verdict Verify(std::string_view token, Time at) const override {
    if (token.size() > kMaxTokenBytes) return Invalid("too_large");
    std::string parts[3];
    if (const char* refused = DecodeCompact(token, parts)) return Invalid(refused);
    const std::string &header_text = parts[0], &payload_text = parts[1], &sig = parts[2];
    // The header our issuer writes is read without a JSON parser; any other goes through it.
    std::string kid_text;
    if (!OurHeaderKid(header_text, kid_text)) {
      json header;
      if (!ParseObject(header_text, header)) return Invalid("bad_json");
      auto alg = header.find("alg");
      if (alg == header.end() || !alg->is_string() || alg->get_ref<const std::string&>() != "ES256")
        return Invalid("unsupported_algorithm");
      for (auto it = header.begin(); it != header.end(); ++it)
        if (it.key() != "alg" && it.key() != "kid" && !(it.key() == "typ" && it.value() == "JWT"))
          return Invalid("wrong_kind");  // jku, x5u, jwk, crit, another typ: not one of our tokens
      auto kid = header.find("kid");
      if (kid == header.end() || !kid->is_string()) return Invalid("missing_kid");
      kid_text = kid->get_ref<const std::string&>();
    }
    auto key_it = keys_.impl_->keys.find(kid_text);
    if (key_it == keys_.impl_->keys.end()) return Invalid("unknown_kid");
    const VerifyKey& key = *key_it->second;

    if (const char* refused = CheckEs256(key, token.substr(0, token.rfind('.')), sig))
      return Invalid(refused);

    if (auto fast = OurClaims(payload_text))
      return Judge(key, fast->serial, fast->year, fast->nbf, fast->exp, at);
    json claims;
    if (!ParseObject(payload_text, claims)) return Invalid("bad_json");
    static const std::unordered_set<std::string> kClaims = {"iss", "sub", "y", "nbf", "exp"};
    for (auto it = claims.begin(); it != claims.end(); ++it)
      if (!kClaims.contains(it.key())) return Invalid("wrong_kind");
    for (const auto& c : kClaims)
      if (!claims.contains(c)) return Invalid("missing_claim");
    const json &iss = claims["iss"], &sub = claims["sub"], &y = claims["y"], &nbf = claims["nbf"],
               &exp = claims["exp"];
    if (!iss.is_string() || !sub.is_string() || !y.is_number_integer() || !nbf.is_number_integer() ||
        !exp.is_number_integer() || !ValidSerial(sub.get_ref<const std::string&>()) ||
        y.get<int64_t>() < 2000 || y.get<int64_t>() > 2200)
      return Invalid("invalid_claim");
    if (iss.get_ref<const std::string&>() != policy_.issuer) {
      Verdict v;
      v.kid = key.kid;
      v.serial = sub.get<std::string>();
      v.year = static_cast<int>(y.get<int64_t>());
      v.expires = Time(chr::seconds(exp.get<int64_t>()));
      v.reason = "wrong_issuer";
      return v;
    }
    return Judge(key, sub.get_ref<const std::string&>(), y.get<int64_t>(), nbf.get<int64_t>(),
                 exp.get<int64_t>(), at);
  }

 private:
  // The verdict on well-formed claims from our issuer: the validity window.
  Verdict Judge(const VerifyKey& key, std::string_view serial, int64_t year, int64_t nbf, int64_t exp,
                Time at) const {
    Verdict v;
    v.kid = key.kid;
    v.serial = std::string(serial);
    v.year = static_cast<int>(year);
    v.expires = Time(chr::seconds(exp));
    int64_t now = at.time_since_epoch().count(), leeway = policy_.leeway.count();
    if (now + leeway < nbf) {
      v.reason = "not_yet_valid";
    } else if (now - leeway >= exp) {
      v.reason = "expired";
    } else {
      v.valid = true;
    }
    return v;
  }

  // True when `text` is exactly the header IssuerImpl writes, {"alg":"ES256","kid":"..."}, with a
  // kid of letters, digits, '-' or '_' (put in `kid`). Such a header parses to exactly these
  // members, so the general checks would accept it with this kid.
  static bool OurHeaderKid(std::string_view text, std::string& kid) {
    constexpr std::string_view kPrefix = R"({"alg":"ES256","kid":")", kSuffix = R"("})";
    if (!text.starts_with(kPrefix) || !text.ends_with(kSuffix) ||
        text.size() <= kPrefix.size() + kSuffix.size())
      return false;
    std::string_view k = text.substr(kPrefix.size(), text.size() - kPrefix.size() - kSuffix.size());
    if (!ValidSerial(k)) return false;  // the same character set as kids; a longer one is not ours
    kid.assign(k);
    return true;
  }

  struct Claims {
    std::string_view serial;
    int64_t year, nbf, exp;
  };
  // The claims of `text` when it is exactly what IssuerImpl writes for this verifier's issuer:
  // {"iss":<issuer>,"sub":"<serial>","y":<year>,"nbf":<n>,"exp":<n>} with a valid serial, a year
  // in 2000-2200 and plain integers; std::nullopt for anything else (the general path judges it).
  std::optional<Claims> OurClaims(std::string_view text) const {
    size_t i = 0;
    auto lit = [&](std::string_view s) {
      if (text.substr(i, s.size()) != s) return false;
      i += s.size();
      return true;
    };
    auto integer = [&](int64_t& out) {
      size_t start = i;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 18) ++i;
      if (i == start || (text[start] == '0' && i - start > 1) ||
          (i < text.size() && text[i] >= '0' && text[i] <= '9'))
        return false;  // empty, a leading zero, or too long to be one of ours
      out = std::stoll(std::string(text.substr(start, i - start)));
      return true;
    };
    Claims c{};
    if (!lit(R"({"iss":)") || !lit(iss_json_) || !lit(R"(,"sub":")")) return std::nullopt;
    size_t end = text.find('"', i);
    if (end == std::string_view::npos) return std::nullopt;
    c.serial = text.substr(i, end - i);
    i = end;
    if (!ValidSerial(c.serial) || !lit(R"(","y":)") || !integer(c.year) || !lit(R"(,"nbf":)") ||
        !integer(c.nbf) || !lit(R"(,"exp":)") || !integer(c.exp) || !lit("}") || i != text.size() ||
        c.year < 2000 || c.year > 2200)
      return std::nullopt;
    return c;
  }

  KeySet keys_;
  TokenPolicy policy_;
  std::string iss_json_;  // the issuer as a JSON string, as IssuerImpl writes it
};

}  // namespace

std::string Verdict::ToJson() const {
  json j = {{"valid", valid},
            {"serial", serial.empty() ? json(nullptr) : json(serial)},
            {"year", year ? json(*year) : json(nullptr)},
            {"kid", kid.empty() ? json(nullptr) : json(kid)},
            {"expires", expires ? json(FormatRfc3339(*expires)) : json(nullptr)}};
  if (!valid) j["reason"] = reason;
  return j.dump();
}

Result<std::unique_ptr<TokenIssuer>> TokenIssuer::Create(const Keyring& keyring, TokenPolicy policy) {
  if (policy.grace < chr::days(0) || policy.grace > kMaxGrace)
    return Fail(Code::kInvalidArgument, "token grace period must be between 0 and 90 days");
  auto key = ParsePrivateKeyPem(keyring.ActivePrivateKeyPem(), "", "active token key");
  if (!key) return std::unexpected(key.error());
  std::string kid;
  for (const auto& k : keyring.List())
    if (k.active) kid = k.kid;
  return std::make_unique<IssuerImpl>(std::move(*key), kid, std::move(policy));
}

std::unique_ptr<TokenVerifier> TokenVerifier::Create(KeySet keys, TokenPolicy policy) {
  return std::make_unique<VerifierImpl>(std::move(keys), std::move(policy));
}

KeySet::KeySet() : impl_(std::make_shared<Impl>()) {}
KeySet::~KeySet() = default;
KeySet::KeySet(KeySet&&) noexcept = default;
KeySet& KeySet::operator=(KeySet&&) noexcept = default;
KeySet::KeySet(const KeySet&) = default;

namespace internal {
KeySet KeysOfUse(const KeySet& keys, KeyUse use) {
  auto impl = std::make_shared<KeySet::Impl>();
  for (const auto& [kid, key] : keys.impl_->keys)
    if (key->use == use) impl->keys.emplace(kid, key);
  KeySet set;
  set.impl_ = std::move(impl);
  return set;
}
}  // namespace internal

std::vector<std::string> KeySet::kids() const {
  std::vector<std::string> out;
  for (const auto& [kid, _] : impl_->keys) out.push_back(kid);
  return out;
}

std::string KeySet::ToJwks() const {
  json keys = json::array();
  for (const auto& [kid, k] : impl_->keys)
    keys.push_back({{"kty", "EC"},
                    {"crv", "P-256"},
                    {"x", Base64UrlEncode(k->x)},
                    {"y", Base64UrlEncode(k->y)},
                    {"kid", kid},
                    {"use", k->use == KeyUse::kToken ? kTokenUse : kRevocationsUse},
                    {"alg", "ES256"}});
  return json({{"keys", keys}}).dump(2);
}

Result<KeySet> KeySet::FromJwks(std::string_view text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array())
    return Fail(Code::kInvalidArgument, "not a JWK Set: expected a JSON object with a \"keys\" array");
  auto impl = std::make_shared<Impl>();
  for (size_t i = 0; i < doc["keys"].size(); ++i) {
    const json& k = doc["keys"][i];
    std::string where = "keys[" + std::to_string(i) + "]";
    auto str = [&](const char* f) -> std::string {
      return k.is_object() && k.contains(f) && k[f].is_string() ? k[f].get<std::string>()
                                                                : std::string("\x01");
    };
    if (!k.is_object()) return Fail(Code::kInvalidArgument, where + ": not an object");
    if (str("kty") != "EC" || str("crv") != "P-256")
      return Fail(Code::kInvalidArgument, where + ": only EC P-256 keys are accepted (kty EC, crv P-256)");
    if (k.contains("alg") && str("alg") != "ES256")
      return Fail(Code::kInvalidArgument, where + ": alg must be ES256");
    // No "use" means a token key, as before revocation lists had keys of their own.
    KeyUse use = KeyUse::kToken;
    if (k.contains("use") && str("use") == kRevocationsUse)
      use = KeyUse::kRevocations;
    else if (k.contains("use") && str("use") != kTokenUse)
      return Fail(Code::kInvalidArgument, where + ": use must be \"" + kTokenUse + "\" (token keys) or \"" +
                                              kRevocationsUse + "\" (revocation-list keys)");
    if (k.contains("d"))
      return Fail(Code::kInvalidArgument, where + ": holds a private key ('d'); refusing it");
    auto x = Base64UrlDecode(str("x"));
    auto y = Base64UrlDecode(str("y"));
    if (!x || !y || x->size() != 32 || y->size() != 32)
      return Fail(Code::kInvalidArgument, where + ": x and y must be base64url of 32 bytes");
    auto key = EcPublicFromXY(*x, *y);
    if (!key) return Fail(Code::kInvalidArgument, where + ": " + key.error().message);
    std::string kid = str("kid");
    if (kid != EcThumbprint(*x, *y).substr(0, kKidChars))
      return Fail(Code::kInvalidArgument,
                  where + ": kid '" + kid + "' is not the thumbprint prefix of its key");
    auto vk = std::make_shared<VerifyKey>();
    vk->kid = kid;
    vk->use = use;
    vk->x = *x;
    vk->y = *y;
    vk->key = std::move(*key);
    if (!impl->keys.emplace(kid, std::move(vk)).second)
      return Fail(Code::kInvalidArgument, where + ": duplicate kid '" + kid + "'");
  }
  KeySet set;
  set.impl_ = std::move(impl);
  return set;
}

}  // namespace lk::signing
