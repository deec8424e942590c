// ES256 QR tokens: issuing, validity windows, key rotation, and the forged-token matrix.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "signing/signing.h"
#include "tests/signing/forge.h"
#include "tests/signing/keyring_fixture.h"
#include "tests/testing/testing.h"

namespace lk::signing {
namespace {
using namespace std::chrono;
using json = nlohmann::json;
using testing::ForgeEs256;
using testing::SForm;

Time At(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

std::string NextB64(char c) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  return std::string(1, kAlphabet[kAlphabet.find(c) + 1]);
}

class TokenTest : public KeyringTest {
 protected:
  void SetUp() override {
    KeyringTest::SetUp();
    if (HasFatalFailure()) return;
    auto issuer = TokenIssuer::Create(*ring_, policy_);
    ASSERT_TRUE(issuer) << issuer.error().message;
    issuer_ = std::move(*issuer);
    verifier_ = TokenVerifier::Create(ring_->Published(clock_.Now()), policy_);
    kid_ = issuer_->kid();
    pem_ = ring_->ActivePrivateKeyPem();
  }
  std::string Header(const std::string& extra = "") const {
    return R"({"alg":"ES256","kid":")" + kid_ + "\"" + extra + "}";
  }
  // A correct claim set for card TEST-0001 of 2026, with `edit` applied.
  std::string Claims(const std::function<void(json&)>& edit = nullptr) const {
    Validity v = CardYearValidity(2026, policy_);
    json c = {{"iss", policy_.issuer},
              {"sub", "TEST-0001"},
              {"y", 2026},
              {"nbf", v.not_before.time_since_epoch().count()},
              {"exp", v.expires.time_since_epoch().count()}};
    if (edit) edit(c);
    return c.dump();
  }
  Verdict Check(const std::string& token) const { return verifier_->Verify(token, clock_.Now()); }

  std::unique_ptr<TokenIssuer> issuer_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::string kid_, pem_;
};

TEST_F(TokenTest, IssuedTokenVerifiesAndCarriesOnlyWhatAPartnerNeeds) {
  auto token = issuer_->Issue("7KQ2M9XH4TRB", 2026, clock_.Now());
  ASSERT_TRUE(token) << token.error().message;
  // QR version 12 at level M holds 287 bytes; the target is 260 characters.
  EXPECT_LE(token->size(), 260u) << *token;
  Verdict v = Check(*token);
  EXPECT_TRUE(v.valid) << v.reason;
  EXPECT_EQ(v.serial, "7KQ2M9XH4TRB");
  EXPECT_EQ(v.year, 2026);
  EXPECT_EQ(v.kid, kid_);
  auto claims = json::parse(
      *Base64UrlDecode(token->substr(token->find('.') + 1, token->rfind('.') - token->find('.') - 1)));
  std::vector<std::string> names;
  for (auto& [k, _] : claims.items()) names.push_back(k);
  EXPECT_EQ(names, (std::vector<std::string>{"exp", "iss", "nbf", "sub", "y"}));
  auto header = json::parse(*Base64UrlDecode(token->substr(0, token->find('.'))));
  EXPECT_EQ(header, json({{"alg", "ES256"}, {"kid", kid_}}));
  EXPECT_EQ(kid_.size(), 6u);
}

TEST_F(TokenTest, ValidityIsTheCardYearInBrusselsTimePlusGrace) {
  Validity v = CardYearValidity(2026, policy_);
  EXPECT_EQ(FormatRfc3339(v.not_before), "2025-12-31T23:00:00Z");  // 1 Jan 2026 00:00 CET
  EXPECT_EQ(FormatRfc3339(v.expires), "2027-01-31T23:00:00Z");     // 1 Feb 2027 00:00 CET (31 days grace)
  TokenPolicy no_grace;
  no_grace.grace = days(0);
  EXPECT_EQ(FormatRfc3339(CardYearValidity(2026, no_grace).expires), "2026-12-31T23:00:00Z");

  auto token = *issuer_->Issue("ABC", 2026, clock_.Now());
  auto at = [&](const char* t) { return verifier_->Verify(token, At(t)); };
  EXPECT_EQ(at("2025-12-31T22:58:00Z").reason, "not_yet_valid");
  EXPECT_TRUE(at("2025-12-31T22:59:30Z").valid);  // within the 60 s leeway
  EXPECT_TRUE(at("2027-01-31T22:59:59Z").valid);
  EXPECT_TRUE(at("2027-01-31T23:00:30Z").valid);  // leeway
  Verdict late = at("2027-01-31T23:01:01Z");
  EXPECT_EQ(late.reason, "expired");
  EXPECT_EQ(late.serial, "ABC");  // the signature was fine, so the partner sees which card
}

TEST_F(TokenTest, RefusesYearsThatAreOverOrTooFarAhead) {
  EXPECT_EQ(issuer_->Issue("ABC", 2025, clock_.Now()).error().code, Code::kInvalidArgument);
  EXPECT_TRUE(issuer_->Issue("ABC", 2025, At("2026-01-15T10:00:00Z")));  // grace period
  EXPECT_TRUE(issuer_->Issue("ABC", 2027, clock_.Now()));
  EXPECT_FALSE(issuer_->Issue("ABC", 2028, clock_.Now()));
  EXPECT_FALSE(issuer_->Issue("has space", 2026, clock_.Now()));
  EXPECT_FALSE(issuer_->Issue("quote\"", 2026, clock_.Now()));
  EXPECT_FALSE(issuer_->Issue("", 2026, clock_.Now()));
}

TEST_F(TokenTest, SignaturesAreLowS) {
  // Half of raw ECDSA signatures are high-s; every issued one must be low-s, or the strict
  // verifier would refuse it.
  for (int i = 0; i < 64; ++i) {
    auto token = *issuer_->Issue("S" + std::to_string(i), 2026, clock_.Now());
    ASSERT_TRUE(Check(token).valid) << Check(token).reason;
  }
}

TEST_F(TokenTest, RotationKeepsOldTokensValidAndSignsWithTheNewKey) {
  auto old_token = *issuer_->Issue("OLD", 2026, clock_.Now());
  auto rotated = ring_->Rotate(clock_);
  ASSERT_TRUE(rotated) << rotated.error().message;
  EXPECT_NE(rotated->kid, kid_);
  auto list = ring_->List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_FALSE(list[0].active);
  ASSERT_TRUE(list[0].publish_until);
  // Tokens for 2027 could have been signed before rotation: published until they expire.
  EXPECT_EQ(FormatRfc3339(*list[0].publish_until),
            FormatRfc3339(CardYearValidity(2027, TokenPolicy{.grace = days(90)}).expires));
  auto issuer2 = *TokenIssuer::Create(*ring_, policy_);
  EXPECT_EQ(issuer2->kid(), rotated->kid);
  auto new_token = *issuer2->Issue("NEW", 2026, clock_.Now());
  auto verifier = TokenVerifier::Create(ring_->Published(clock_.Now()), policy_);
  EXPECT_TRUE(verifier->Verify(old_token, clock_.Now()).valid);
  EXPECT_TRUE(verifier->Verify(new_token, clock_.Now()).valid);
  EXPECT_EQ(verifier->Verify(new_token, clock_.Now()).kid, rotated->kid);
  // Once the old key's publication ends it is no longer in the published set.
  auto later = ring_->Published(*list[0].publish_until + seconds(1));
  EXPECT_EQ(later.kids(), std::vector<std::string>{rotated->kid});
  // A reopened keyring reads the same state from disk.
  auto reopened = *Keyring::Open(config_);
  EXPECT_EQ(reopened->List().size(), 2u);
  EXPECT_TRUE(reopened->List()[1].active);
}

TEST_F(TokenTest, JwksRoundTripAndStrictParsing) {
  std::string jwks = ring_->Published(clock_.Now()).ToJwks();
  auto set = KeySet::FromJwks(jwks);
  ASSERT_TRUE(set) << set.error().message;
  auto token = *issuer_->Issue("JWKS1", 2026, clock_.Now());
  EXPECT_TRUE(TokenVerifier::Create(*set, policy_)->Verify(token, clock_.Now()).valid);
  EXPECT_EQ(json::parse(jwks)["keys"][0].count("d"), 0u);  // never a private member

  auto edit = [&](const std::function<void(json&)>& f) {
    json j = json::parse(jwks);
    f(j["keys"][0]);
    return KeySet::FromJwks(j.dump());
  };
  EXPECT_FALSE(edit([](json& k) { k["kid"] = "AAAAAA"; }));  // kid not its thumbprint
  EXPECT_FALSE(edit([](json& k) { k["alg"] = "HS256"; }));
  EXPECT_FALSE(edit([](json& k) { k["crv"] = "P-384"; }));
  EXPECT_FALSE(edit([](json& k) { k["d"] = "AAAA"; }));
  EXPECT_FALSE(edit([](json& k) { k["y"] = k["x"]; }));  // not on the curve
  EXPECT_FALSE(KeySet::FromJwks("[]"));
  json dup = json::parse(jwks);
  dup["keys"].push_back(dup["keys"][0]);
  EXPECT_FALSE(KeySet::FromJwks(dup.dump()));
}

// Every way a token can be wrong gets its own reason.
TEST_F(TokenTest, ForgedTokenMatrix) {
  std::string good = *issuer_->Issue("TEST-0001", 2026, clock_.Now());
  ASSERT_TRUE(Check(good).valid);
  std::string other_key = testing::NewEcKeyPem();
  std::string pub_pem = testing::PublicPemOf(pem_);
  std::string sig = good.substr(good.rfind('.') + 1);
  std::string body = good.substr(0, good.rfind('.'));

  struct Case {
    std::string name, token, reason;
  };
  std::vector<Case> cases = {
      {"alg none, empty signature",
       Base64UrlEncode(R"({"alg":"none","kid":")" + kid_ + "\"}") + "." + Base64UrlEncode(Claims()) + ".",
       "malformed"},
      {"alg none, junk signature",
       Base64UrlEncode(R"({"alg":"none","kid":")" + kid_ + "\"}") + "." + Base64UrlEncode(Claims()) + ".AAAA",
       "unsupported_algorithm"},
      {"algorithm confusion: HS256 keyed with the public key PEM",
       testing::ForgeHs256(pub_pem, R"({"alg":"HS256","kid":")" + kid_ + "\"}", Claims()),
       "unsupported_algorithm"},
      {"RS256 header", ForgeEs256(pem_, R"({"alg":"RS256","kid":")" + kid_ + "\"}", Claims()),
       "unsupported_algorithm"},
      {"lower-case es256", ForgeEs256(pem_, R"({"alg":"es256","kid":")" + kid_ + "\"}", Claims()),
       "unsupported_algorithm"},
      {"alg not a string", ForgeEs256(pem_, R"({"alg":7,"kid":")" + kid_ + "\"}", Claims()),
       "unsupported_algorithm"},
      {"no alg", ForgeEs256(pem_, R"({"kid":")" + kid_ + "\"}", Claims()), "unsupported_algorithm"},
      {"malleated high-s twin of a valid token", testing::FlipS(good), "non_canonical_signature"},
      {"high-s signature", ForgeEs256(pem_, Header(), Claims(), SForm::kHigh), "non_canonical_signature"},
      {"zero r",
       body + "." + Base64UrlEncode(std::string(32, '\0') + std::string(*Base64UrlDecode(sig)).substr(32)),
       "non_canonical_signature"},
      {"padded signature", good + "==", "non_canonical_encoding"},
      // Same decoded bytes, but one of the four unused low bits of the last character set.
      {"non-canonical last character", body + "." + sig.substr(0, sig.size() - 1) + NextB64(sig.back()),
       "non_canonical_encoding"},
      {"standard base64 alphabet", body + "." + sig.substr(0, 10) + "+" + sig.substr(11), "bad_base64"},
      {"white space", body + " ." + sig, "bad_base64"},
      {"two segments", body, "malformed"},
      {"four segments", good + ".e30", "malformed"},
      {"empty payload", good.substr(0, good.find('.')) + ".." + sig, "malformed"},
      {"oversized", ForgeEs256(pem_, Header(), Claims([](json& c) { c["x"] = std::string(2000, 'a'); })),
       "too_large"},
      {"header not JSON", ForgeEs256(pem_, "not json", Claims()), "bad_json"},
      {"header a JSON array", ForgeEs256(pem_, "[1]", Claims()), "bad_json"},
      {"duplicate alg in header",
       ForgeEs256(pem_, R"({"alg":"ES256","alg":"ES256","kid":")" + kid_ + "\"}", Claims()), "bad_json"},
      {"payload not JSON", ForgeEs256(pem_, Header(), "{\"iss\":"), "bad_json"},
      {"duplicate sub in payload",
       ForgeEs256(pem_, Header(), Claims().substr(0, Claims().size() - 1) + R"(,"sub":"X"})"), "bad_json"},
      {"jku header", ForgeEs256(pem_, Header(R"(,"jku":"https://evil.example/jwks.json")"), Claims()),
       "wrong_kind"},
      {"x5u header", ForgeEs256(pem_, Header(R"(,"x5u":"https://evil.example/c.pem")"), Claims()),
       "wrong_kind"},
      {"embedded jwk", ForgeEs256(pem_, Header(R"(,"jwk":{"kty":"EC"})"), Claims()), "wrong_kind"},
      {"crit header", ForgeEs256(pem_, Header(R"(,"crit":["exp"])"), Claims()), "wrong_kind"},
      {"explicit other typ", ForgeEs256(pem_, Header(R"(,"typ":"at+jwt")"), Claims()), "wrong_kind"},
      {"missing kid", ForgeEs256(pem_, R"({"alg":"ES256"})", Claims()), "missing_kid"},
      {"kid not a string", ForgeEs256(pem_, R"({"alg":"ES256","kid":5})", Claims()), "missing_kid"},
      {"unknown kid", ForgeEs256(other_key, R"({"alg":"ES256","kid":"zzzzzz"})", Claims()), "unknown_kid"},
      {"path in kid", ForgeEs256(pem_, R"({"alg":"ES256","kid":"../../etc/passwd"})", Claims()),
       "unknown_kid"},
      {"signed by another key under our kid", ForgeEs256(other_key, Header(), Claims()), "bad_signature"},
      {"payload edited after signing",
       good.substr(0, good.find('.') + 1) + Base64UrlEncode(Claims([](json& c) { c["sub"] = "TEST-0002"; })) +
           "." + sig,
       "bad_signature"},
      {"signature too short", body + "." + sig.substr(0, 80), "bad_signature"},
      {"missing exp", ForgeEs256(pem_, Header(), Claims([](json& c) { c.erase("exp"); })), "missing_claim"},
      {"missing nbf", ForgeEs256(pem_, Header(), Claims([](json& c) { c.erase("nbf"); })), "missing_claim"},
      {"missing iss", ForgeEs256(pem_, Header(), Claims([](json& c) { c.erase("iss"); })), "missing_claim"},
      {"another kind: Google save-to-wallet claims", ForgeEs256(pem_, Header(), Claims([](json& c) {
                                                                  c["aud"] = "google";
                                                                  c["typ"] = "savetowallet";
                                                                })),
       "wrong_kind"},
      {"personal data added", ForgeEs256(pem_, Header(), Claims([](json& c) { c["name"] = "An Peeters"; })),
       "wrong_kind"},
      {"exp as a string", ForgeEs256(pem_, Header(), Claims([](json& c) { c["exp"] = "1801436400"; })),
       "invalid_claim"},
      {"exp as a float", ForgeEs256(pem_, Header(), Claims([](json& c) { c["exp"] = 1801436400.5; })),
       "invalid_claim"},
      {"year out of range", ForgeEs256(pem_, Header(), Claims([](json& c) { c["y"] = 99999; })),
       "invalid_claim"},
      {"wrong issuer", ForgeEs256(pem_, Header(), Claims([](json& c) { c["iss"] = "https://evil.example"; })),
       "wrong_issuer"},
      {"expired", ForgeEs256(pem_, Header(), Claims([](json& c) { c["exp"] = 1767222000; })), "expired"},
      {"not yet valid", ForgeEs256(pem_, Header(), Claims([](json& c) { c["nbf"] = 1893452400; })),
       "not_yet_valid"},
  };
  for (const auto& c : cases) {
    Verdict v = Check(c.token);
    EXPECT_FALSE(v.valid) << c.name;
    EXPECT_EQ(v.reason, c.reason) << c.name << ": " << c.token.substr(0, 120);
  }
  // The forger itself is sound: with a correct header and claims its token is valid.
  EXPECT_TRUE(Check(ForgeEs256(pem_, Header(), Claims())).valid);
  EXPECT_TRUE(Check(ForgeEs256(pem_, Header(R"(,"typ":"JWT")"), Claims())).valid);
}

// The verifier reads the exact header and claims layout the issuer writes without a JSON parser;
// every near miss of that layout must get the verdict the general (parsed) path gives.
TEST_F(TokenTest, IssuerLayoutAndItsNearMissesGetTheParsedVerdict) {
  Validity v = CardYearValidity(2026, policy_);
  std::string nbf = std::to_string(v.not_before.time_since_epoch().count());
  std::string exp = std::to_string(v.expires.time_since_epoch().count());
  std::string iss = json(policy_.issuer).dump();
  auto ours = [&](const std::string& sub, const std::string& y, const std::string& n, const std::string& e) {
    return R"({"iss":)" + iss + R"(,"sub":")" + sub + R"(","y":)" + y + R"(,"nbf":)" + n + R"(,"exp":)" + e +
           "}";
  };
  // The issuer writes exactly this layout (the fast path's), so its tokens verify as before.
  std::string issued = *issuer_->Issue("TEST-0001", 2026, clock_.Now());
  EXPECT_EQ(
      Base64UrlDecode(issued.substr(issued.find('.') + 1, issued.rfind('.') - issued.find('.') - 1)).value(),
      ours("TEST-0001", "2026", nbf, exp));
  struct Case {
    const char* name;
    std::string header, claims;
    bool valid;
    std::string reason;
  };
  std::vector<Case> cases = {
      {"issuer layout", Header(), ours("TEST-0001", "2026", nbf, exp), true, ""},
      {"same claims, other member order", Header(), Claims(), true, ""},
      {"header with other member order", R"({"kid":")" + kid_ + R"(","alg":"ES256"})",
       ours("TEST-0001", "2026", nbf, exp), true, ""},
      {"header with a space", R"({"alg": "ES256","kid":")" + kid_ + "\"}",
       ours("TEST-0001", "2026", nbf, exp), true, ""},
      {"header kid escaped",
       R"({"alg":"ES256","kid":"\u00)" + HexEncode(kid_.substr(0, 1)) + kid_.substr(1) + "\"}",
       ours("TEST-0001", "2026", nbf, exp), true, ""},
      {"unknown kid in issuer layout", R"({"alg":"ES256","kid":"AAAAAAAAAAAAAAAA"})",
       ours("TEST-0001", "2026", nbf, exp), false, "unknown_kid"},
      {"kid with a quote", R"({"alg":"ES256","kid":"a\"b"})", ours("TEST-0001", "2026", nbf, exp), false,
       "unknown_kid"},
      {"leading zero year", Header(), ours("TEST-0001", "02026", nbf, exp), false, "bad_json"},
      {"year before 2000", Header(), ours("TEST-0001", "1999", nbf, exp), false, "invalid_claim"},
      {"year after 2200", Header(), ours("TEST-0001", "2201", nbf, exp), false, "invalid_claim"},
      {"negative nbf", Header(), ours("TEST-0001", "2026", "-1", exp), true, ""},
      {"19-digit exp", Header(), ours("TEST-0001", "2026", nbf, "1000000000000000000"), true, ""},
      {"exp as a float", Header(), ours("TEST-0001", "2026", nbf, exp + ".5"), false, "invalid_claim"},
      {"exp with exponent", Header(), ours("TEST-0001", "2026", nbf, exp + "e0"), false, "invalid_claim"},
      {"serial with a space", Header(), ours("TEST 0001", "2026", nbf, exp), false, "invalid_claim"},
      {"empty serial", Header(), ours("", "2026", nbf, exp), false, "invalid_claim"},
      {"serial escaped", Header(), ours("TEST\\u002D0001", "2026", nbf, exp), true, ""},
      {"expired", Header(), ours("TEST-0001", "2026", nbf, "1767222000"), false, "expired"},
      {"not yet valid", Header(), ours("TEST-0001", "2026", "1893452400", exp), false, "not_yet_valid"},
      {"trailing member", Header(),
       ours("TEST-0001", "2026", nbf, exp)
           .insert(ours("TEST-0001", "2026", nbf, exp).size() - 1, R"(,"x":1)"),
       false, "wrong_kind"},
      {"trailing space", Header(), ours("TEST-0001", "2026", nbf, exp) + " ", true, ""},
      {"duplicate exp", Header(),
       ours("TEST-0001", "2026", nbf, exp)
           .insert(ours("TEST-0001", "2026", nbf, exp).size() - 1, ",\"exp\":1"),
       false, "bad_json"},
  };
  for (const auto& c : cases) {
    Verdict got = Check(ForgeEs256(pem_, c.header, c.claims));
    EXPECT_EQ(got.valid, c.valid) << c.name << ": " << c.reason << " / " << got.reason;
    EXPECT_EQ(got.reason, c.reason) << c.name;
    if (c.valid) {
      EXPECT_EQ(got.serial, "TEST-0001") << c.name;
      EXPECT_EQ(got.year, 2026) << c.name;
      EXPECT_EQ(got.kid, kid_) << c.name;
    }
  }
  // A foreign issuer in the issuer's own layout: wrong_issuer, with the claims reported.
  std::string foreign =
      R"({"iss":"https://evil.example","sub":"TEST-0001","y":2026,"nbf":)" + nbf + R"(,"exp":)" + exp + "}";
  Verdict w = Check(ForgeEs256(pem_, Header(), foreign));
  EXPECT_EQ(w.reason, "wrong_issuer");
  EXPECT_EQ(w.serial, "TEST-0001");
}

TEST_F(TokenTest, VerdictJson) {
  auto v = Check(*issuer_->Issue("J1", 2026, clock_.Now()));
  auto j = json::parse(v.ToJson());
  EXPECT_EQ(j["valid"], true);
  EXPECT_EQ(j["serial"], "J1");
  EXPECT_EQ(j["year"], 2026);
  EXPECT_EQ(j["kid"], kid_);
  EXPECT_FALSE(j.contains("reason"));
  auto bad = json::parse(Check("x.y.z").ToJson());
  EXPECT_EQ(bad["valid"], false);
  EXPECT_TRUE(bad["serial"].is_null());
  EXPECT_EQ(bad["reason"], "non_canonical_encoding");  // "x" cannot be base64url
}

}  // namespace
}  // namespace lk::signing
