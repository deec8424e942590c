// Interoperability with JWT code nobody here wrote: PyJWT (Debian's python3-jwt) and cpp-jwt.
#include <gtest/gtest.h>

#include <jwt/jwt.hpp>
#include <nlohmann/json.hpp>

#include "signing/revocation_list.h"
#include "signing/signing.h"
#include "tests/signing/forge.h"
#include "tests/testing/testing.h"

namespace lk::signing {
namespace {
using json = nlohmann::json;
using testing::RunProgram;

class InteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.dir = dir_ / "keys";
    ASSERT_TRUE(InitDevelopmentKeys(config_, clock_));
    ring_ = std::move(*Keyring::Open(config_));
    jwks_path_ = (dir_ / "jwks.json").string();
    testing::WriteText(jwks_path_, ring_->Published(clock_.Now()).ToJwks());
  }
  testing::RunResult Py(std::vector<std::string> args) {
    args.insert(args.begin(),
                {"/usr/bin/python3", (testing::SourceDir() / "tests/signing/pyjwt_tool.py").string()});
    return RunProgram(args);
  }
  testing::TempDir dir_;
  KeyConfig config_;
  SystemClock clock_;  // PyJWT checks exp/nbf against the real clock
  std::unique_ptr<Keyring> ring_;
  std::string jwks_path_;
  TokenPolicy policy_;
};

TEST_F(InteropTest, CliTokensVerifyWithPyJwtGivenOnlyTheJwks) {
  int year = int(BrusselsDate(clock_.Now()).year());
  auto issued = RunProgram({testing::Binary(), "--data-dir", dir_.path().string(), "token", "issue",
                            "--serial", "PY-INTEROP-1", "--year", std::to_string(year)});
  ASSERT_EQ(issued.exit_code, 0) << issued.err;
  std::string token = issued.out.substr(0, issued.out.find('\n'));
  auto r = Py({"verify", jwks_path_, token, policy_.issuer});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto claims = json::parse(r.out);
  EXPECT_EQ(claims["sub"], "PY-INTEROP-1");
  EXPECT_EQ(claims["y"], year);
  // And PyJWT refuses a token whose payload was changed.
  std::string tampered = token;
  tampered[token.find('.') + 5] ^= 1;
  EXPECT_NE(Py({"verify", jwks_path_, tampered, policy_.issuer}).exit_code, 0);
}

// PyJWT, given only the published JWK Set, verifies a signed revocation list with the key
// published as "use":"lk-revocations" (not a token key), and refuses a changed one.
TEST_F(InteropTest, RevocationListsVerifyWithPyJwtAgainstTheRevocationKey) {
  auto signer = RevocationSigner::Create(*ring_);
  ASSERT_TRUE(signer) << signer.error().message;
  const Time now = clock_.Now();  // read once: the system clock moves on while PyJWT runs
  int year = int(BrusselsDate(now).year());
  RevocationList list{policy_.issuer,          now, now + std::chrono::hours(1), 42, {year, year + 1},
                      {{"PY-REVOKED-1", year}}};
  auto jws = (*signer)->Sign(list);
  ASSERT_TRUE(jws) << jws.error().message;
  auto r = Py({"verify-revocations", jwks_path_, *jws, policy_.issuer});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto claims = json::parse(r.out);
  EXPECT_EQ(claims["seq"], 42);
  EXPECT_EQ(claims["typ"], "revocations");
  EXPECT_EQ(claims["years"], json({year, year + 1}));
  EXPECT_EQ(claims["revoked"][std::to_string(year)], json({"PY-REVOKED-1"}));
  EXPECT_EQ(claims["revoked"][std::to_string(year + 1)], json::array());
  EXPECT_EQ(claims["iat"], now.time_since_epoch().count());
  json jwks = json::parse(*ReadFile(jwks_path_));
  for (const auto& k : jwks["keys"])
    if (k["kid"] == (*signer)->kid()) {
      EXPECT_EQ(k["use"], "lk-revocations");
    }
  std::string tampered = *jws;
  tampered[jws->find('.') + 5] ^= 1;
  EXPECT_NE(Py({"verify-revocations", jwks_path_, tampered, policy_.issuer}).exit_code, 0);
}

TEST_F(InteropTest, PyJwtTokensWithOurKeyVerifyWithOurs) {
  auto kid = ring_->List()[0].kid;
  auto pem_path = (config_.dir / "token" / (kid + ".pem")).string();
  int year = int(BrusselsDate(clock_.Now()).year());
  Validity v = CardYearValidity(year, policy_);
  json claims = {{"iss", policy_.issuer},
                 {"sub", "PYJWT-1"},
                 {"y", year},
                 {"nbf", v.not_before.time_since_epoch().count()},
                 {"exp", v.expires.time_since_epoch().count()}};
  auto verifier = TokenVerifier::Create(ring_->Published(clock_.Now()), policy_);
  // PyJWT adds "typ":"JWT" to the header and orders members its own way; both are accepted.
  // Our verifier requires low-s signatures (one valid encoding per token); PyJWT's s is random,
  // so the tool normalises it the way our issuer does, and an un-normalised high-s one is refused.
  int high_seen = 0;
  for (int i = 0; i < 12; ++i) {
    auto low = Py({"sign", pem_path, kid, claims.dump(), "low-s"});
    ASSERT_EQ(low.exit_code, 0) << low.err;
    std::string token = low.out.substr(0, low.out.find('\n'));
    Verdict verdict = verifier->Verify(token, clock_.Now());
    EXPECT_TRUE(verdict.valid) << verdict.reason << " " << token;
    EXPECT_EQ(verdict.serial, "PYJWT-1");
    auto raw = Py({"sign", pem_path, kid, claims.dump()});
    std::string raw_token = raw.out.substr(0, raw.out.find('\n'));
    Verdict rv = verifier->Verify(raw_token, clock_.Now());
    if (!rv.valid) {
      EXPECT_EQ(rv.reason, "non_canonical_signature");
      ++high_seen;
    }
  }
  RecordProperty("pyjwt_high_s_of_12", high_seen);
}

TEST_F(InteropTest, CppJwtAcceptsOurTokens) {
  auto issuer = *TokenIssuer::Create(*ring_, policy_);
  int year = int(BrusselsDate(clock_.Now()).year());
  auto token = *issuer->Issue("CPPJWT-1", year, clock_.Now());
  auto kid = ring_->List()[0].kid;
  std::string pub = testing::PublicPemOf(*ReadFile(config_.dir / "token" / (kid + ".pem")));
  std::error_code ec;
  auto decoded = jwt::decode(token, jwt::params::algorithms({"ES256"}), ec, jwt::params::secret(pub),
                             jwt::params::verify(true), jwt::params::issuer(policy_.issuer));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(decoded.payload().get_claim_value<std::string>("sub"), "CPPJWT-1");
}

TEST_F(InteropTest, ServiceAccountJwtVerifiesWithPyJwt) {
  auto account = *ServiceAccount::Load(config_);
  json claims = {{"iss", account->client_email()},
                 {"aud", "google"},
                 {"typ", "savetowallet"},
                 {"iat", clock_.Now().time_since_epoch().count()}};
  auto token = account->SignJwt(claims.dump());
  ASSERT_TRUE(token) << token.error().message;
  testing::WriteText(dir_ / "sa.pub.pem", account->PublicKeyPem());
  auto r = Py({"verify-rs256", (dir_ / "sa.pub.pem").string(), *token});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["typ"], "savetowallet");
  auto header = json::parse(*Base64UrlDecode(token->substr(0, token->find('.'))));
  EXPECT_EQ(header["kid"], account->private_key_id());
  EXPECT_EQ(header["alg"], "RS256");
}

}  // namespace
}  // namespace lk::signing
