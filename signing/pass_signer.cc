// The Apple pass-signing identity and the Google service account.
#include <openssl/provider.h>

#include <nlohmann/json.hpp>

#include "signing/internal/cms_template.h"
#include "signing/internal/ossl.h"
#include "signing/signing.h"

namespace lk::signing {
using namespace internal;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string NameEntry(X509* cert, int nid) {
  X509_NAME* name = X509_get_subject_name(cert);
  int i = X509_NAME_get_index_by_NID(name, nid, -1);
  if (i < 0) return {};
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
  if (len < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

Result<X509Ptr> ReadCertificate(const fs::path& path) {
  auto text = ReadFile(path);
  if (!text) return std::unexpected(text.error());
  Bio bio = MemBio(*text);
  X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (!cert) {
    ERR_clear_error();
    const unsigned char* p = reinterpret_cast<const unsigned char*>(text->data());
    cert = d2i_X509(nullptr, &p, static_cast<long>(text->size()));
  }
  if (!cert)
    return Fail(Code::kInvalidArgument,
                path.string() + ": not a PEM or DER X.509 certificate (" + OpenSslErrors() + ")");
  return X509Ptr(cert);
}

// Reads a PKCS#12 bundle. Keychain exports use RC2/3DES, which OpenSSL 3 only reads with the
// legacy provider loaded; it is loaded on demand, once, and only for this purpose.
Result<std::pair<X509Ptr, PKey>> ReadPkcs12(const fs::path& path, const std::string& password) {
  auto text = ReadFile(path);
  if (!text) return std::unexpected(text.error());
  auto attempt = [&]() -> std::optional<std::pair<X509Ptr, PKey>> {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(text->data());
    std::unique_ptr<PKCS12, Deleter<PKCS12_free>> p12(
        d2i_PKCS12(nullptr, &p, static_cast<long>(text->size())));
    if (!p12) return std::nullopt;
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    STACK_OF(X509)* ca = nullptr;
    if (PKCS12_parse(p12.get(), password.c_str(), &key, &cert, &ca) != 1) return std::nullopt;
    sk_X509_pop_free(ca, X509_free);
    if (!key || !cert) {
      EVP_PKEY_free(key);
      X509_free(cert);
      return std::nullopt;
    }
    return std::pair{X509Ptr(cert), PKey(key)};
  };
  if (auto r = attempt()) return std::move(*r);
  ERR_clear_error();
  // Loading "legacy" explicitly stops OpenSSL loading "default" implicitly, so load both, and
  // unload them again once the bundle is read.
  OSSL_PROVIDER* legacy = OSSL_PROVIDER_load(nullptr, "legacy");
  OSSL_PROVIDER* deflt = OSSL_PROVIDER_load(nullptr, "default");
  auto second = attempt();
  if (legacy) OSSL_PROVIDER_unload(legacy);
  if (deflt) OSSL_PROVIDER_unload(deflt);
  if (second) return std::move(*second);
  return Fail(Code::kInvalidArgument, path.string() +
                                          ": cannot read the PKCS#12 bundle (wrong password, or no "
                                          "certificate and key inside): " +
                                          OpenSslErrors());
}

class PassSignerImpl final : public PassSigner {
 public:
  PassSignerImpl(X509Ptr cert, PKey key, X509Ptr wwdr)
      : cert_(std::move(cert)), key_(std::move(key)), wwdr_(std::move(wwdr)) {
    pass_type_ = NameEntry(cert_.get(), NID_userId);
    team_ = NameEntry(cert_.get(), NID_organizationalUnitName);
    tm t{};
    ASN1_TIME_to_tm(X509_get0_notAfter(cert_.get()), &t);
    expires_ = Time(std::chrono::seconds(timegm(&t)));
    // Learn the fast path from one real CMS_sign, and keep it only if it reproduces another
    // CMS_sign byte for byte (see internal/cms_template.h).
    const Time probe = *ParseRfc3339("2031-02-03T04:05:06Z"), check = *ParseRfc3339("2029-12-31T23:59:58Z");
    auto der = SignWithCms("lerarenkaart: CMS layout probe", probe);
    if (!der) return;
    auto fast = CmsTemplate::Learn(std::move(*der), "lerarenkaart: CMS layout probe", probe);
    auto expected = SignWithCms("{\"check\": 2}", check);
    if (!fast || !expected) return;
    auto got = fast->Sign(key_.get(), "{\"check\": 2}", check);
    if (got && *got && **got == *expected) fast_ = std::move(fast);
  }

  Result<std::string> SignDetached(std::string_view content, Time signing_time) const override {
    if (fast_)
      if (auto r = fast_->Sign(key_.get(), content, signing_time)) return std::move(*r);
    return SignWithCms(content, signing_time);
  }

  Result<std::string> SignWithCms(std::string_view content, Time signing_time) const {
    constexpr unsigned kFlags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
    Cms cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, kFlags));
    if (!cms) return std::unexpected(SslError("creating CMS SignedData"));
    CMS_SignerInfo* si = CMS_add1_signer(cms.get(), cert_.get(), key_.get(), EVP_sha256(), kFlags);
    if (!si) return std::unexpected(SslError("adding the CMS signer"));
    // Our own signing time (the injected clock) instead of OpenSSL's "now", so output is
    // reproducible; CMS_final keeps an existing signingTime attribute.
    std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME_free>> t(
        ASN1_TIME_set(nullptr, static_cast<time_t>(signing_time.time_since_epoch().count())));
    if (!t || CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t.get(), -1) != 1)
      return std::unexpected(SslError("adding the signing-time attribute"));
    if (CMS_add1_cert(cms.get(), wwdr_.get()) != 1)
      return std::unexpected(SslError("adding the WWDR certificate"));
    Bio data = MemBio(content);
    if (CMS_final(cms.get(), data.get(), nullptr, kFlags & ~CMS_PARTIAL) != 1)
      return std::unexpected(SslError("signing the manifest"));
    unsigned char* der = nullptr;
    int len = i2d_CMS_ContentInfo(cms.get(), &der);
    if (len <= 0) return std::unexpected(SslError("encoding the signature"));
    std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    return out;
  }
  const std::string& pass_type_identifier() const override { return pass_type_; }
  const std::string& team_identifier() const override { return team_; }
  Time certificate_expires() const override { return expires_; }
  std::string CertificatePem() const override { return internal::CertificatePem(cert_.get()); }
  std::string PrivateKeyPem() const override { return internal::PrivateKeyPem(key_.get()); }

 private:
  X509Ptr cert_;
  PKey key_;
  X509Ptr wwdr_;
  std::string pass_type_, team_;
  Time expires_;
  std::optional<CmsTemplate> fast_;  // absent: every signature goes through CMS_sign
};

}  // namespace

Result<std::unique_ptr<PassSigner>> PassSigner::Load(const KeyConfig& config) {
  bool dev = config.pass_certificate.empty();
  fs::path cert_path = dev ? config.dir / "pass-type-id.pem" : config.pass_certificate;
  fs::path wwdr_path =
      config.wwdr_certificate.empty() ? config.dir / "dev-wwdr.pem" : config.wwdr_certificate;
  X509Ptr cert;
  PKey key;
  std::string ext = cert_path.extension().string();
  if (ext == ".p12" || ext == ".pfx") {
    auto bundle = ReadPkcs12(cert_path, config.pass_password);
    if (!bundle) return std::unexpected(bundle.error());
    cert = std::move(bundle->first);
    key = std::move(bundle->second);
  } else {
    auto c = ReadCertificate(cert_path);
    if (!c) return std::unexpected(c.error());
    cert = std::move(*c);
    fs::path key_path = dev ? config.dir / "pass-type-id-key.pem" : config.pass_key;
    if (key_path.empty())
      return Fail(Code::kInvalidArgument, "pass_certificate is PEM, so pass_key must name its private key");
    auto pem = ReadFile(key_path);
    if (!pem) return std::unexpected(pem.error());
    auto k = ParsePrivateKeyPem(*pem, config.pass_password, key_path.string());
    if (!k) return std::unexpected(k.error());
    key = std::move(*k);
  }
  auto wwdr = ReadCertificate(wwdr_path);
  if (!wwdr) return std::unexpected(wwdr.error());
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA)
    return Fail(Code::kInvalidArgument,
                cert_path.string() + ": the pass-signing key must be RSA, as Apple issues it");
  if (X509_check_private_key(cert.get(), key.get()) != 1)
    return Fail(Code::kInvalidArgument,
                cert_path.string() + ": the private key does not belong to the certificate");
  auto signer = std::make_unique<PassSignerImpl>(std::move(cert), std::move(key), std::move(*wwdr));
  if (signer->pass_type_identifier().empty() || signer->team_identifier().empty())
    return Fail(Code::kInvalidArgument, cert_path.string() +
                                            ": the certificate subject lacks the pass type identifier (UID) "
                                            "or team identifier (OU) of a Pass Type ID certificate");
  return signer;
}

namespace {
class ServiceAccountImpl final : public ServiceAccount {
 public:
  ServiceAccountImpl(std::string email, std::string key_id, PKey key)
      : email_(std::move(email)), key_id_(std::move(key_id)), key_(std::move(key)) {
    header_b64_ = Base64UrlEncode(json({{"alg", "RS256"}, {"kid", key_id_}, {"typ", "JWT"}}).dump());
  }
  const std::string& client_email() const override { return email_; }
  const std::string& private_key_id() const override { return key_id_; }
  std::string PublicKeyPem() const override { return internal::PublicKeyPem(key_.get()); }

  Result<std::string> SignJwt(std::string_view claims_json) const override {
    std::string input = header_b64_ + "." + Base64UrlEncode(claims_json);
    MdCtx ctx(EVP_MD_CTX_new());
    size_t len = 0;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) != 1)
      return std::unexpected(SslError("RS256 signing"));
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
      return std::unexpected(SslError("RS256 signing"));
    sig.resize(len);
    return input + "." + Base64UrlEncode(sig);
  }

 private:
  std::string email_, key_id_, header_b64_;
  PKey key_;
};
}  // namespace

Result<std::unique_ptr<ServiceAccount>> ServiceAccount::Load(const KeyConfig& config) {
  fs::path path = config.google_service_account.empty() ? config.dir / "google-service-account.json"
                                                        : config.google_service_account;
  auto text = ReadFile(path);
  if (!text) return std::unexpected(text.error());
  json doc = json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return Fail(Code::kInvalidArgument, path.string() + ": not JSON");
  for (const char* field : {"client_email", "private_key", "private_key_id"})
    if (!doc.contains(field) || !doc[field].is_string())
      return Fail(Code::kInvalidArgument,
                  path.string() + ": field '" + field + "' is missing or not a string");
  auto key = ParsePrivateKeyPem(doc["private_key"].get<std::string>(), "", path.string() + ": private_key");
  if (!key) return std::unexpected(key.error());
  if (EVP_PKEY_get_base_id(key->get()) != EVP_PKEY_RSA)
    return Fail(Code::kInvalidArgument, path.string() + ": private_key must be an RSA key");
  return std::make_unique<ServiceAccountImpl>(doc["client_email"], doc["private_key_id"], std::move(*key));
}

}  // namespace lk::signing
