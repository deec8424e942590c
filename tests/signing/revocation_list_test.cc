// The signed revocation list: its own key, its format, and every way a list can be refused,
// replayed lists included.
#include "signing/revocation_list.h"

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

json Decode(const std::string& segment) { return json::parse(*Base64UrlDecode(segment)); }

// KeyringTest's keyring with a revocation-list key added, its signer and a verifier.
class RevocationListTest : public KeyringTest {
 protected:
  void SetUp() override {
    KeyringTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(ring_->RotateRevocationKey(clock_));
    auto signer = RevocationSigner::Create(*ring_);
    ASSERT_TRUE(signer) << signer.error().message;
    signer_ = std::move(*signer);
    verifier_ = RevocationVerifier::Create(ring_->Published(clock_.Now()), policy_);
    kid_ = signer_->kid();
    pem_ = *ring_->ActiveRevocationKeyPem();
  }
  RevocationList List(int64_t seq = 7) const {
    RevocationList l;
    l.issuer = policy_.issuer;
    l.issued_at = clock_.Now();
    l.expires = clock_.Now() + hours(24);
    l.sequence = seq;
    l.years = {2025, 2026, 2027};
    l.revoked = {{"7KQ2M9XH4TRB", 2026}, {"0AAAAAAAAAAA", 2026}, {"ZZZZZZZZZZZZ", 2025}};
    return l;
  }
  std::string Header(const std::string& extra = "") const {
    return R"({"alg":"ES256","kid":")" + kid_ + R"(","typ":"lk-revocations+jwt")" + extra + "}";
  }
  // The payload of List() with `edit` applied, as JSON text.
  std::string Payload(const std::function<void(json&)>& edit = nullptr) const {
    json p = {
        {"iss", policy_.issuer},
        {"typ", "revocations"},
        {"iat", clock_.Now().time_since_epoch().count()},
        {"exp", (clock_.Now() + hours(24)).time_since_epoch().count()},
        {"seq", 7},
        {"years", {2025, 2026, 2027}},
        {"revoked",
         {{"2025", {"ZZZZZZZZZZZZ"}}, {"2026", {"0AAAAAAAAAAA", "7KQ2M9XH4TRB"}}, {"2027", json::array()}}}};
    if (edit) edit(p);
    return p.dump();
  }
  // The reason `jws` is refused at the fixture's time ("" when accepted).
  std::string Reason(const std::string& jws, const RevocationList* held = nullptr) const {
    auto r = verifier_->Verify(jws, clock_.Now(), held);
    return r ? "" : r.error().reason;
  }

  std::unique_ptr<RevocationSigner> signer_;
  std::unique_ptr<RevocationVerifier> verifier_;
  std::string kid_, pem_;
};

TEST_F(RevocationListTest, SignedListVerifiesAndReadsBackInOrder) {
  auto jws = signer_->Sign(List());
  ASSERT_TRUE(jws) << jws.error().message;
  auto header = Decode(jws->substr(0, jws->find('.')));
  EXPECT_EQ(header, json({{"alg", "ES256"}, {"kid", kid_}, {"typ", "lk-revocations+jwt"}}));
  auto payload = Decode(jws->substr(jws->find('.') + 1, jws->rfind('.') - jws->find('.') - 1));
  EXPECT_EQ(payload, json::parse(Payload()));  // exactly these members, revoked sorted per year
  auto got = verifier_->Verify(*jws, clock_.Now());
  ASSERT_TRUE(got) << got.error().reason << ": " << got.error().message;
  RevocationList want = List();
  want.revoked = {{"ZZZZZZZZZZZZ", 2025}, {"0AAAAAAAAAAA", 2026}, {"7KQ2M9XH4TRB", 2026}};
  EXPECT_EQ(*got, want);
  // Low-s like tokens: the malleated twin of a valid list is refused.
  EXPECT_EQ(Reason(testing::FlipS(*jws)), "non_canonical_signature");
}

TEST_F(RevocationListTest, TheListHasItsOwnKeyPublishedWithItsOwnUse) {
  auto token_kid = ring_->List().at(0).kid;
  ASSERT_NE(kid_, token_kid);
  json jwks = json::parse(ring_->Published(clock_.Now()).ToJwks());
  ASSERT_EQ(jwks["keys"].size(), 2u);
  for (const auto& k : jwks["keys"]) {
    EXPECT_EQ(k["use"], k["kid"] == kid_ ? "lk-revocations" : "sig") << k.dump();
    EXPECT_EQ(k.count("d"), 0u);
  }
  // A partner with only the JWK Set verifies lists, and tokens, each with its own key.
  auto parsed = KeySet::FromJwks(jwks.dump());
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(json::parse(parsed->ToJwks()), jwks);
  auto jws = *signer_->Sign(List());
  EXPECT_TRUE(RevocationVerifier::Create(*parsed, policy_)->Verify(jws, clock_.Now()));
  auto token = *(*TokenIssuer::Create(*ring_, policy_))->Issue("TEST-0001", 2026, clock_.Now());
  auto tokens = TokenVerifier::Create(*parsed, policy_);
  EXPECT_TRUE(tokens->Verify(token, clock_.Now()).valid);

  // The token verifier never uses the revocation key, and the list verifier never a token key.
  Validity v = CardYearValidity(2026, policy_);
  json claims = {{"iss", policy_.issuer},
                 {"sub", "TEST-0001"},
                 {"y", 2026},
                 {"nbf", v.not_before.time_since_epoch().count()},
                 {"exp", v.expires.time_since_epoch().count()}};
  std::string by_revocation_key = ForgeEs256(pem_, R"({"alg":"ES256","kid":")" + kid_ + "\"}", claims.dump());
  EXPECT_EQ(tokens->Verify(by_revocation_key, clock_.Now()).reason, "unknown_kid");
  std::string by_token_key =
      ForgeEs256(ring_->ActivePrivateKeyPem(),
                 R"({"alg":"ES256","kid":")" + token_kid + R"(","typ":"lk-revocations+jwt"})", Payload());
  EXPECT_EQ(Reason(by_token_key), "unknown_kid");
  EXPECT_EQ(tokens->Verify(jws, clock_.Now()).reason, "wrong_kind");  // a list is not a token

  // "use" is read strictly: a key of another use is refused, no "use" means a token key.
  json enc = jwks;
  enc["keys"][0]["use"] = "enc";
  EXPECT_FALSE(KeySet::FromJwks(enc.dump()));
  json bare = jwks;
  for (auto& k : bare["keys"]) k.erase("use");
  auto as_tokens = KeySet::FromJwks(bare.dump());
  ASSERT_TRUE(as_tokens);
  EXPECT_EQ(RevocationVerifier::Create(*as_tokens, policy_)->Verify(jws, clock_.Now()).error().reason,
            "unknown_kid");
}

// Every way a list can be wrong gets its own reason.
TEST_F(RevocationListTest, ForgedListMatrix) {
  std::string good = *signer_->Sign(List());
  ASSERT_EQ(Reason(good), "");
  std::string sig = good.substr(good.rfind('.') + 1);
  auto with_payload = [&](const std::string& payload) { return ForgeEs256(pem_, Header(), payload); };
  struct Case {
    std::string name, jws, reason;
  };
  const std::vector<Case> cases = {
      {"forged with our key", with_payload(Payload()), ""},
      {"tampered payload",
       Base64UrlEncode(Header()) + "." +
           Base64UrlEncode(Payload([](json& p) { p["revoked"]["2026"] = json::array(); })) + "." + sig,
       "bad_signature"},
      {"high-s", ForgeEs256(pem_, Header(), Payload(), SForm::kHigh), "non_canonical_signature"},
      {"signed by another key", ForgeEs256(testing::NewEcKeyPem(), Header(), Payload()), "bad_signature"},
      {"too large", std::string(kMaxRevocationListBytes + 1, 'a'), "too_large"},
      {"two parts", good.substr(0, good.rfind('.')), "malformed"},
      {"bad base64", good.substr(0, 4) + "*" + good.substr(5), "bad_base64"},
      {"padded", good + "=", "non_canonical_encoding"},
      {"header not JSON", ForgeEs256(pem_, "{", Payload()), "bad_json"},
      {"duplicate header member", ForgeEs256(pem_, Header(R"(,"kid":"AAAAAA")"), Payload()), "bad_json"},
      {"alg none",
       Base64UrlEncode(R"({"alg":"none","kid":")" + kid_ + R"(","typ":"lk-revocations+jwt"})") + "." +
           Base64UrlEncode(Payload()) + "." + sig,
       "unsupported_algorithm"},
      {"HS256",
       testing::ForgeHs256(testing::PublicPemOf(pem_),
                           R"({"alg":"HS256","kid":")" + kid_ + R"(","typ":"lk-revocations+jwt"})",
                           Payload()),
       "unsupported_algorithm"},
      {"jku in header", ForgeEs256(pem_, Header(R"(,"jku":"https://evil.example/jwks")"), Payload()),
       "wrong_kind"},
      {"typ JWT", ForgeEs256(pem_, R"({"alg":"ES256","kid":")" + kid_ + R"(","typ":"JWT"})", Payload()),
       "wrong_kind"},
      {"no typ", ForgeEs256(pem_, R"({"alg":"ES256","kid":")" + kid_ + "\"}", Payload()), "wrong_kind"},
      {"no kid", ForgeEs256(pem_, R"({"alg":"ES256","typ":"lk-revocations+jwt"})", Payload()), "missing_kid"},
      {"unknown kid",
       ForgeEs256(pem_, R"({"alg":"ES256","kid":"AAAAAA","typ":"lk-revocations+jwt"})", Payload()),
       "unknown_kid"},
      {"payload not JSON", with_payload("[1]"), "bad_json"},
      {"duplicate seq", with_payload(Payload().insert(Payload().size() - 1, R"(,"seq":99)")), "bad_json"},
      {"duplicate year", with_payload(Payload().insert(Payload().find(R"("2027")"), R"("2026":[],)")),
       "bad_json"},
      {"payload typ", with_payload(Payload([](json& p) { p["typ"] = "tokens"; })), "wrong_kind"},
      {"extra member", with_payload(Payload([](json& p) { p["aud"] = "x"; })), "wrong_kind"},
      {"a token's claims",
       with_payload(R"({"iss":"https://lerarenkaart.be","sub":"A","y":2026,"nbf":0,"exp":1})"), "wrong_kind"},
      {"no seq", with_payload(Payload([](json& p) { p.erase("seq"); })), "missing_claim"},
      {"no iat", with_payload(Payload([](json& p) { p.erase("iat"); })), "missing_claim"},
      {"no exp", with_payload(Payload([](json& p) { p.erase("exp"); })), "missing_claim"},
      {"seq as text", with_payload(Payload([](json& p) { p["seq"] = "7"; })), "invalid_claim"},
      {"seq negative", with_payload(Payload([](json& p) { p["seq"] = -1; })), "invalid_claim"},
      {"seq float", with_payload(Payload([](json& p) { p["seq"] = 7.5; })), "invalid_claim"},
      {"seq over int64", with_payload(Payload([](json& p) { p["seq"] = uint64_t{1} << 63; })),
       "invalid_claim"},
      {"exp before iat", with_payload(Payload([&](json& p) { p["exp"] = p["iat"]; })), "invalid_claim"},
      {"years unordered", with_payload(Payload([](json& p) {
         p["years"] = {2026, 2025, 2027};
       })),
       "invalid_claim"},
      {"years empty", with_payload(Payload([](json& p) {
         p["years"] = json::array();
         p["revoked"] = json::object();
       })),
       "invalid_claim"},
      {"year not listed", with_payload(Payload([](json& p) { p["revoked"]["2024"] = json::array(); })),
       "invalid_claim"},
      {"listed year missing", with_payload(Payload([](json& p) { p["revoked"].erase("2027"); })),
       "invalid_claim"},
      {"serial twice", with_payload(Payload([](json& p) { p["revoked"]["2025"].push_back("ZZZZZZZZZZZZ"); })),
       "invalid_claim"},
      {"serials unordered", with_payload(Payload([](json& p) {
         p["revoked"]["2026"] = {"7KQ2M9XH4TRB", "0AAAAAAAAAAA"};
       })),
       "invalid_claim"},
      {"bad serial", with_payload(Payload([](json& p) { p["revoked"]["2027"] = {"no spaces"}; })),
       "invalid_claim"},
      {"wrong issuer", with_payload(Payload([](json& p) { p["iss"] = "https://evil.example"; })),
       "wrong_issuer"},
      {"issued in the future", with_payload(Payload([&](json& p) {
         p["iat"] = (clock_.Now() + policy_.leeway + seconds(1)).time_since_epoch().count();
       })),
       "not_yet_valid"},
      {"issued within the leeway", with_payload(Payload([&](json& p) {
         p["iat"] = (clock_.Now() + policy_.leeway).time_since_epoch().count();
       })),
       ""},
      {"expired", with_payload(Payload([&](json& p) {
         p["iat"] = (clock_.Now() - hours(24)).time_since_epoch().count();
         p["exp"] = clock_.Now().time_since_epoch().count();
       })),
       "expired"},
      {"expires in a second",
       with_payload(Payload([&](json& p) { p["exp"] = clock_.Now().time_since_epoch().count() + 1; })), ""},
  };
  for (const auto& c : cases) {
    auto r = verifier_->Verify(c.jws, clock_.Now());
    EXPECT_EQ(r ? "" : r.error().reason, c.reason) << c.name << (r ? "" : ": " + r.error().message);
    if (!r) {
      EXPECT_FALSE(r.error().message.empty()) << c.name;
    }
  }
}

// A partner keeps the newest list it accepted; an older one replayed to it is refused as stale,
// even when validly signed and not yet expired.
TEST_F(RevocationListTest, AnOlderListThanTheOneHeldIsStale) {
  std::string old_list = *signer_->Sign(List(6));
  clock_.Advance(minutes(5));
  std::string same_seq_later = *signer_->Sign(List(6));
  std::string newer = *signer_->Sign(List(7));
  auto held = verifier_->Verify(newer, clock_.Now());
  ASSERT_TRUE(held);
  EXPECT_EQ(held->sequence, 7);
  auto replayed = verifier_->Verify(old_list, clock_.Now(), &*held);
  ASSERT_FALSE(replayed);
  EXPECT_EQ(replayed.error().reason, "stale");
  EXPECT_NE(replayed.error().message.find("seq 6"), std::string::npos) << replayed.error().message;
  EXPECT_NE(replayed.error().message.find("seq 7"), std::string::npos) << replayed.error().message;
  EXPECT_TRUE(verifier_->Verify(old_list, clock_.Now()));  // on its own it is a valid list

  // Same sequence: the later issue wins; the same list again is not older than itself.
  auto held6 = *verifier_->Verify(same_seq_later, clock_.Now());
  EXPECT_EQ(Reason(old_list, &held6), "stale");
  EXPECT_EQ(Reason(same_seq_later, &held6), "");
  EXPECT_EQ(Reason(newer, &held6), "");
  // A newer list issued a little earlier (another instance's clock) is still newer.
  clock_.Advance(seconds(-30));
  EXPECT_EQ(Reason(*signer_->Sign(List(8)), &*held), "");
}

TEST_F(RevocationListTest, SignerRefusesWhatNoVerifierWouldAccept) {
  auto refused = [&](const std::function<void(RevocationList&)>& edit) {
    RevocationList l = List();
    edit(l);
    auto r = signer_->Sign(l);
    return r ? std::string("signed") : std::string(CodeName(r.error().code)) + ": " + r.error().message;
  };
  EXPECT_EQ(refused([](RevocationList&) {}), "signed");
  for (const auto& [name, edit] : std::vector<std::pair<std::string, std::function<void(RevocationList&)>>>{
           {"no issuer", [](RevocationList& l) { l.issuer.clear(); }},
           {"no years",
            [](RevocationList& l) {
              l.years.clear();
              l.revoked.clear();
            }},
           {"years unordered",
            [](RevocationList& l) {
              l.years = {2026, 2025, 2027};
            }},
           {"year out of range",
            [](RevocationList& l) {
              l.years = {1999, 2025, 2026, 2027};
            }},
           {"revoked year not covered", [](RevocationList& l) { l.revoked.emplace_back("AAAA", 2028); }},
           {"revoked twice", [](RevocationList& l) { l.revoked.emplace_back("7KQ2M9XH4TRB", 2026); }},
           {"bad serial", [](RevocationList& l) { l.revoked.emplace_back("no spaces", 2026); }},
           {"negative seq", [](RevocationList& l) { l.sequence = -1; }},
           {"expires when issued", [](RevocationList& l) { l.expires = l.issued_at; }},
           {"lives too long",
            [](RevocationList& l) { l.expires = l.issued_at + kMaxRevocationListLifetime + seconds(1); }},
       })
    EXPECT_EQ(refused(edit).substr(0, refused(edit).find(':')), "invalid_argument")
        << name << ": " << refused(edit);
  RevocationList longest = List();
  longest.expires = longest.issued_at + kMaxRevocationListLifetime;
  EXPECT_TRUE(signer_->Sign(longest));
}

}  // namespace
}  // namespace lk::signing
