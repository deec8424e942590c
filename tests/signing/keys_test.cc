// Development key generation and the keyring on disk.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "signing/revocation_list.h"
#include "signing/signing.h"
#include "tests/testing/testing.h"

namespace lk::signing {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::RunProgram;

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.dir = dir_ / "keys";
    auto r = InitDevelopmentKeys(config_, clock_);
    ASSERT_TRUE(r) << r.error().message;
  }
  std::string Path(const char* name) const { return (config_.dir / name).string(); }
  testing::TempDir dir_;
  KeyConfig config_;
  FakeClock clock_{*ParseRfc3339("2026-03-01T10:00:00Z")};
};

TEST_F(KeysTest, EveryFileIsPrivate) {
  int files = 0;
  for (auto& e : fs::recursive_directory_iterator(config_.dir)) {
    struct stat st;
    ASSERT_EQ(stat(e.path().c_str(), &st), 0);
    if (e.is_directory()) {
      EXPECT_EQ(st.st_mode & 0777, 0700u) << e.path();
    } else {
      EXPECT_EQ(st.st_mode & 0777, 0600u) << e.path();
      ++files;
    }
  }
  // 7 development files, keyring.json, one token key, revocations.json, one revocation-list key
  // (+ the lock file)
  EXPECT_GE(files, 11);
  auto ring = Keyring::Open(config_);
  ASSERT_TRUE(ring) << ring.error().message;
  ASSERT_EQ((*ring)->RevocationKeys().size(), 1u);
  EXPECT_TRUE(fs::exists(config_.dir / "revocations" / ((*ring)->RevocationKeys()[0].kid + ".pem")));
}

TEST_F(KeysTest, RefusesToOverwriteAndChangesNothing) {
  std::string before = *ReadFile(config_.dir / "pass-type-id-key.pem");
  std::string ring_before = *ReadFile(config_.dir / "keyring.json");
  auto again = InitDevelopmentKeys(config_, clock_);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::kAlreadyExists);
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos);
  EXPECT_EQ(*ReadFile(config_.dir / "pass-type-id-key.pem"), before);
  EXPECT_EQ(*ReadFile(config_.dir / "keyring.json"), ring_before);
}

TEST_F(KeysTest, PassCertificateChainsToTheDevelopmentRootAndNamesPassTypeAndTeam) {
  auto r = RunProgram({"openssl", "verify", "-CAfile", Path("dev-root-ca.pem"), "-untrusted",
                       Path("dev-wwdr.pem"), Path("pass-type-id.pem")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto subject = RunProgram(
      {"openssl", "x509", "-in", Path("pass-type-id.pem"), "-noout", "-subject", "-nameopt", "RFC2253"});
  EXPECT_NE(subject.out.find("UID=pass.be.lerarenkaart.dev"), std::string::npos) << subject.out;
  EXPECT_NE(subject.out.find("OU=LKDEVTEAM1"), std::string::npos) << subject.out;
  EXPECT_NE(subject.out.find("CN=Pass Type ID: pass.be.lerarenkaart.dev"), std::string::npos) << subject.out;
  EXPECT_NE(subject.out.find("DEVELOPMENT ONLY"), std::string::npos) << subject.out;
  auto text = RunProgram({"openssl", "x509", "-in", Path("pass-type-id.pem"), "-noout", "-text"});
  EXPECT_NE(text.out.find("Public-Key: (2048 bit)"), std::string::npos);
  EXPECT_NE(text.out.find("1.2.840.113635.100.6.1.16"), std::string::npos);  // Apple's pass type extension
  auto signer = PassSigner::Load(config_);
  ASSERT_TRUE(signer) << signer.error().message;
  EXPECT_EQ((*signer)->pass_type_identifier(), "pass.be.lerarenkaart.dev");
  EXPECT_EQ((*signer)->team_identifier(), "LKDEVTEAM1");
}

TEST_F(KeysTest, GoogleServiceAccountFile) {
  json sa = json::parse(*ReadFile(config_.dir / "google-service-account.json"));
  for (const char* f : {"client_email", "private_key", "private_key_id"}) EXPECT_TRUE(sa[f].is_string()) << f;
  EXPECT_NE(sa["private_key"].get<std::string>().find("BEGIN PRIVATE KEY"), std::string::npos);
  auto account = ServiceAccount::Load(config_);
  ASSERT_TRUE(account) << account.error().message;
  EXPECT_EQ((*account)->client_email(), sa["client_email"].get<std::string>());
  EXPECT_EQ((*account)->private_key_id(), sa["private_key_id"].get<std::string>());
}

TEST_F(KeysTest, KidIsTheRfc7638ThumbprintPrefixComputedIndependently) {
  auto ring = *Keyring::Open(config_);
  std::string kid = ring->List()[0].kid;
  fs::path pem = config_.dir / "token" / (kid + ".pem");
  // Independent computation: the uncompressed point from openssl's DER output of the public key.
  auto der = RunProgram({"openssl", "pkey", "-in", pem.string(), "-pubout", "-outform", "DER"});
  ASSERT_EQ(der.exit_code, 0);
  ASSERT_EQ(der.out.size(), 91u);  // SubjectPublicKeyInfo of P-256: 26-byte prefix + 65-byte point
  std::string x = der.out.substr(27, 32), y = der.out.substr(59, 32);
  std::string canonical =
      R"({"crv":"P-256","kty":"EC","x":")" + Base64UrlEncode(x) + R"(","y":")" + Base64UrlEncode(y) + R"("})";
  testing::WriteText(dir_ / "canonical.json", canonical);
  auto digest = RunProgram({"openssl", "dgst", "-sha256", "-binary", (dir_ / "canonical.json").string()});
  EXPECT_EQ(Base64UrlEncode(digest.out).substr(0, 6), kid);
}

TEST_F(KeysTest, TamperedKeyringIsRefused) {
  json ring = json::parse(*ReadFile(config_.dir / "keyring.json"));
  std::string kid = ring["keys"][0]["kid"];
  fs::rename(config_.dir / "token" / (kid + ".pem"), config_.dir / "token" / "AAAAAA.pem");
  ring["keys"][0]["kid"] = "AAAAAA";
  ASSERT_TRUE(WriteFileAtomic(config_.dir / "keyring.json", ring.dump()));
  auto opened = Keyring::Open(config_);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Code::kDataLoss);
  EXPECT_NE(opened.error().message.find("does not match its kid"), std::string::npos)
      << opened.error().message;

  ring["keys"][0]["active"] = false;
  ASSERT_TRUE(WriteFileAtomic(config_.dir / "keyring.json", ring.dump()));
  EXPECT_FALSE(Keyring::Open(config_));
}

// Upgrade path: a keys folder made before revocation lists had their own key opens as before;
// only signing a list fails, naming the command that adds the key.
TEST_F(KeysTest, AnOlderKeysFolderOpensWithoutARevocationKeyUntilRotateAddsOne) {
  fs::remove(config_.dir / "revocations.json");
  fs::remove_all(config_.dir / "revocations");
  auto ring = Keyring::Open(config_);
  ASSERT_TRUE(ring) << ring.error().message;
  EXPECT_TRUE((*ring)->RevocationKeys().empty());
  EXPECT_EQ((*ring)->Published(clock_.Now()).kids(), std::vector<std::string>{(*ring)->List()[0].kid});
  EXPECT_TRUE(TokenIssuer::Create(**ring, TokenPolicy{}));
  auto signer = RevocationSigner::Create(**ring);
  ASSERT_FALSE(signer);
  EXPECT_EQ(signer.error().code, Code::kFailedPrecondition);
  EXPECT_NE(signer.error().message.find("lerarenkaart keys rotate --revocations"), std::string::npos)
      << signer.error().message;
  EXPECT_NE(signer.error().message.find(config_.dir.string()), std::string::npos) << signer.error().message;

  auto added = (*ring)->RotateRevocationKey(clock_);
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_TRUE(added->active);
  EXPECT_NE(added->kid, (*ring)->List()[0].kid);
  EXPECT_TRUE(RevocationSigner::Create(**ring));
  auto reopened = Keyring::Open(config_);
  ASSERT_TRUE(reopened);
  ASSERT_EQ((*reopened)->RevocationKeys().size(), 1u);
  EXPECT_EQ((*reopened)->RevocationKeys()[0].kid, added->kid);
  for (fs::path p : {config_.dir / "revocations.json", config_.dir / "revocations",
                     config_.dir / "revocations" / (added->kid + ".pem")}) {
    struct stat st;
    ASSERT_EQ(stat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_mode & 0777, fs::is_directory(p) ? 0700u : 0600u) << p;
  }
}

TEST_F(KeysTest, ARotatedRevocationKeyStaysPublishedAsLongAsItsLastListLives) {
  auto ring = *Keyring::Open(config_);
  std::string token_kid = ring->List()[0].kid, old_kid = ring->RevocationKeys()[0].kid;
  auto rotated = ring->RotateRevocationKey(clock_);
  ASSERT_TRUE(rotated) << rotated.error().message;
  auto keys = ring->RevocationKeys();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_FALSE(keys[0].active);
  EXPECT_EQ(keys[0].retired, clock_.Now());
  EXPECT_EQ(keys[0].publish_until, clock_.Now() + kMaxRevocationListLifetime);
  EXPECT_EQ((*RevocationSigner::Create(*ring))->kid(), rotated->kid);
  EXPECT_EQ(ring->List().size(), 1u);  // the token keys are untouched
  EXPECT_EQ(ring->Published(clock_.Now()).kids().size(), 3u);
  auto later = ring->Published(clock_.Now() + kMaxRevocationListLifetime).kids();
  std::sort(later.begin(), later.end());
  std::vector<std::string> want = {token_kid, rotated->kid};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(later, want);
}

TEST_F(KeysTest, AKeyWithBothUsesIsRefused) {
  auto ring = *Keyring::Open(config_);
  std::string token_kid = ring->List()[0].kid, revocation_kid = ring->RevocationKeys()[0].kid;
  json doc = json::parse(*ReadFile(config_.dir / "revocations.json"));
  doc["keys"][0]["kid"] = token_kid;
  ASSERT_TRUE(WriteFileAtomic(config_.dir / "revocations.json", doc.dump()));
  fs::copy_file(config_.dir / "token" / (token_kid + ".pem"),
                config_.dir / "revocations" / (token_kid + ".pem"));
  auto opened = Keyring::Open(config_);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, Code::kDataLoss);
  EXPECT_NE(opened.error().message.find("one use only"), std::string::npos) << opened.error().message;
}

}  // namespace
}  // namespace lk::signing
