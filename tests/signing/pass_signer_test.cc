// PKCS#7 detached signatures over pass manifests, checked with OpenSSL's own command line.
#include <gtest/gtest.h>
#include <openssl/cms.h>
#include <openssl/pem.h>

#include "signing/signing.h"
#include "tests/testing/testing.h"

namespace lk::signing {
namespace {
using testing::RunProgram;

class PassSignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.dir = dir_ / "keys";
    ASSERT_TRUE(InitDevelopmentKeys(config_, clock_));
    auto signer = PassSigner::Load(config_);
    ASSERT_TRUE(signer) << signer.error().message;
    signer_ = std::move(*signer);
  }
  // Writes content and its signature; returns openssl cms -verify's result.
  testing::RunResult Verify(const std::string& content, const std::string& signature) {
    testing::WriteText(dir_ / "manifest.json", content);
    testing::WriteText(dir_ / "signature", signature);
    return RunProgram({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
                       (dir_ / "signature").string(), "-content", (dir_ / "manifest.json").string(),
                       "-CAfile", (config_.dir / "dev-root-ca.pem").string(), "-out", "/dev/null"});
  }
  testing::TempDir dir_;
  KeyConfig config_;
  FakeClock clock_{*ParseRfc3339("2026-03-01T10:00:00Z")};
  std::unique_ptr<PassSigner> signer_;
  // CRLF inside: binary mode must leave it alone.
  std::string manifest_ = "{\r\n  \"pass.json\": \"2fd4e1c67a2d28fced849ee1bb76e7391b93eb12\"\n}";
};

TEST_F(PassSignerTest, OpensslVerifiesTheDetachedSignature) {
  auto sig = signer_->SignDetached(manifest_, clock_.Now());
  ASSERT_TRUE(sig) << sig.error().message;
  auto r = Verify(manifest_, *sig);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("Verification successful"), std::string::npos) << r.err;
}

TEST_F(PassSignerTest, SignatureHoldsIntermediateSigningTimeAndSha256) {
  auto sig = *signer_->SignDetached(manifest_, clock_.Now());
  testing::WriteText(dir_ / "signature", sig);
  auto print = RunProgram(
      {"openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", (dir_ / "signature").string()});
  ASSERT_EQ(print.exit_code, 0) << print.err;
  EXPECT_NE(print.out.find("signingTime"), std::string::npos);
  EXPECT_NE(print.out.find("Mar  1 10:00:00 2026 GMT"), std::string::npos)
      << "signing time from the injected clock";
  EXPECT_NE(print.out.find("Development stand-in for Apple WWDR G4"), std::string::npos);
  EXPECT_NE(print.out.find("Pass Type ID: pass.be.lerarenkaart.dev"), std::string::npos);
  EXPECT_NE(print.out.find("sha256"), std::string::npos);
  EXPECT_NE(print.out.find("eContent: <ABSENT>"), std::string::npos) << "detached";
}

TEST_F(PassSignerTest, AnyChangedByteBreaksVerification) {
  auto sig = *signer_->SignDetached(manifest_, clock_.Now());
  for (size_t i : {size_t(0), manifest_.size() / 2, manifest_.size() - 1}) {
    std::string changed = manifest_;
    changed[i] ^= 1;
    EXPECT_NE(Verify(changed, sig).exit_code, 0) << "byte " << i;
  }
  std::string crlf_normalised = manifest_;
  crlf_normalised.replace(crlf_normalised.find("\r\n"), 2, "\n");
  EXPECT_NE(Verify(crlf_normalised, sig).exit_code, 0);
  std::string bad_sig = sig;
  bad_sig[bad_sig.size() - 10] ^= 1;  // inside the RSA signature value
  EXPECT_NE(Verify(manifest_, bad_sig).exit_code, 0);
}

TEST_F(PassSignerTest, SameInputAndTimeGiveIdenticalBytes) {
  auto a = *signer_->SignDetached(manifest_, clock_.Now());
  auto b = *signer_->SignDetached(manifest_, clock_.Now());
  EXPECT_EQ(a, b);
  auto c = *signer_->SignDetached(manifest_, clock_.Now() + std::chrono::seconds(1));
  EXPECT_NE(a, c);
}

// The signer patches digest, time and RSA signature into a SignedData layout learned from
// CMS_sign (signing/internal/cms_template.h). Its output must be the bytes OpenSSL's CMS_sign
// makes itself, built here independently, for other contents and times than the load-time probe.
TEST_F(PassSignerTest, PatchedSignatureIsWhatCmsSignMakes) {
  std::string texts[3];
  auto pem = [&](int i, const char* file) {  // the BIO reads texts[i] in place
    texts[i] = ReadFile(config_.dir / file).value_or("");
    return std::unique_ptr<BIO, decltype(&BIO_free)>(BIO_new_mem_buf(texts[i].data(), int(texts[i].size())),
                                                     BIO_free);
  };
  X509* cert = PEM_read_bio_X509(pem(0, "pass-type-id.pem").get(), nullptr, nullptr, nullptr);
  X509* wwdr = PEM_read_bio_X509(pem(1, "dev-wwdr.pem").get(), nullptr, nullptr, nullptr);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(pem(2, "pass-type-id-key.pem").get(), nullptr, nullptr, nullptr);
  ASSERT_TRUE(cert && wwdr && key);
  constexpr unsigned kFlags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
  for (auto [content, when] : {std::pair{manifest_, "2026-03-01T10:00:00Z"},
                               {std::string(5000, 'x'), "2049-12-31T23:59:59Z"},
                               {std::string("{}"), "1999-07-04T00:00:01Z"}}) {
    Time t = *ParseRfc3339(when);
    CMS_ContentInfo* cms = CMS_sign(nullptr, nullptr, nullptr, nullptr, kFlags);
    CMS_SignerInfo* si = CMS_add1_signer(cms, cert, key, EVP_sha256(), kFlags);
    ASN1_TIME* at = ASN1_TIME_set(nullptr, static_cast<time_t>(t.time_since_epoch().count()));
    ASSERT_EQ(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, at->type, at, -1), 1);
    ASSERT_EQ(CMS_add1_cert(cms, wwdr), 1);
    BIO* data = BIO_new_mem_buf(content.data(), int(content.size()));
    ASSERT_EQ(CMS_final(cms, data, nullptr, kFlags & ~CMS_PARTIAL), 1);
    unsigned char* der = nullptr;
    int len = i2d_CMS_ContentInfo(cms, &der);
    std::string expected(reinterpret_cast<char*>(der), size_t(len));
    OPENSSL_free(der);
    BIO_free(data);
    ASN1_TIME_free(at);
    CMS_ContentInfo_free(cms);
    auto got = signer_->SignDetached(content, t);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_TRUE(*got == expected) << "signed at " << when;
    EXPECT_EQ(Verify(content, *got).exit_code, 0) << when;
    std::string changed = *got;
    changed[changed.size() - 1] ^= 1;  // last byte of the RSA signature
    EXPECT_NE(Verify(content, changed).exit_code, 0) << when;
  }
  X509_free(cert);
  X509_free(wwdr);
  EVP_PKEY_free(key);
}

TEST_F(PassSignerTest, LoadsLegacyEncryptedPkcs12LikeAKeychainExport) {
  auto p12 = (dir_ / "pass.p12").string();
  auto r = RunProgram(
      {"openssl", "pkcs12", "-export", "-legacy", "-in", (config_.dir / "pass-type-id.pem").string(),
       "-inkey", (config_.dir / "pass-type-id-key.pem").string(), "-passout", "pass:s3cret", "-out", p12});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  KeyConfig prod;
  prod.dir = dir_ / "unused";
  prod.pass_certificate = p12;
  prod.pass_password = "s3cret";
  prod.wwdr_certificate = config_.dir / "dev-wwdr.pem";
  auto signer = PassSigner::Load(prod);
  ASSERT_TRUE(signer) << signer.error().message;
  EXPECT_EQ((*signer)->team_identifier(), "LKDEVTEAM1");
  auto sig = (*signer)->SignDetached(manifest_, clock_.Now());
  ASSERT_TRUE(sig);
  EXPECT_EQ(Verify(manifest_, *sig).exit_code, 0);

  prod.pass_password = "wrong";
  auto bad = PassSigner::Load(prod);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("pass.p12"), std::string::npos);
}

TEST_F(PassSignerTest, LoadsProductionPemAndRejectsAMismatchedKey) {
  KeyConfig prod;
  prod.dir = dir_ / "unused";
  prod.pass_certificate = config_.dir / "pass-type-id.pem";
  prod.pass_key = config_.dir / "pass-type-id-key.pem";
  prod.wwdr_certificate = config_.dir / "dev-wwdr.pem";
  EXPECT_TRUE(PassSigner::Load(prod));
  prod.pass_key = config_.dir / "dev-wwdr-key.pem";
  auto bad = PassSigner::Load(prod);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("does not belong"), std::string::npos);
  // A DER copy of the WWDR certificate, as Apple distributes it, loads too.
  auto der = (dir_ / "wwdr.cer").string();
  ASSERT_EQ(RunProgram({"openssl", "x509", "-in", (config_.dir / "dev-wwdr.pem").string(), "-outform", "DER",
                        "-out", der})
                .exit_code,
            0);
  prod.pass_key = config_.dir / "pass-type-id-key.pem";
  prod.wwdr_certificate = der;
  EXPECT_TRUE(PassSigner::Load(prod));
}

}  // namespace
}  // namespace lk::signing
