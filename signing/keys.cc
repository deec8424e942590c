// Development key generation and the token keyring.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "signing/internal/keyring_store.h"
#include "signing/internal/ossl.h"
#include "signing/signing.h"

namespace lk::signing {
namespace fs = std::filesystem;
using namespace internal;
using json = nlohmann::json;

namespace internal {

const char* const kDevFiles[] = {"dev-root-ca.pem",
                                 "dev-root-ca-key.pem",
                                 "dev-wwdr.pem",
                                 "dev-wwdr-key.pem",
                                 "pass-type-id.pem",
                                 "pass-type-id-key.pem",
                                 "google-service-account.json",
                                 "revocations.json",
                                 "keyring.json"};

// An exclusive advisory lock on <dir>/.lock, held for the object's lifetime.
DirLock::DirLock(const fs::path& dir) {
  fd_ = ::open((dir / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ >= 0) ::flock(fd_, LOCK_EX);
}
DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

Result<> EnsurePrivateDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Fail(Code::kInternal, dir.string() + ": cannot create directory: " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);
  return {};
}

Result<> WriteSecret(const fs::path& path, std::string_view content) {
  return WriteFileAtomic(path, content, fs::perms::owner_read | fs::perms::owner_write, /*exclusive=*/true);
}

}  // namespace internal

namespace {

struct NameEntry {
  int nid;
  std::string value;
};

Result<X509Ptr> MakeCertificate(const std::vector<NameEntry>& subject, EVP_PKEY* subject_key, X509* issuer,
                                EVP_PKEY* issuer_key, long serial, Time not_before,
                                std::chrono::days lifetime, bool ca, const std::string& extra_oid = "",
                                const std::string& extra_value = "") {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  time_t nb = std::chrono::system_clock::to_time_t(not_before);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), nb);
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), nb + std::chrono::seconds(lifetime).count());
  X509_set_pubkey(cert.get(), subject_key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& e : subject)
    X509_NAME_add_entry_by_NID(name, e.nid, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(e.value.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) return false;
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
    return true;
  };
  bool ok = add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
            add(NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature") &&
            add(NID_subject_key_identifier, "hash") &&
            (!issuer || add(NID_authority_key_identifier, "keyid:always"));
  if (!ok) return std::unexpected(SslError("building certificate extensions"));
  if (!extra_oid.empty()) {
    // Apple puts the pass type identifier in extension 1.2.840.113635.100.6.1.16 as well.
    std::unique_ptr<ASN1_OBJECT, Deleter<ASN1_OBJECT_free>> obj(OBJ_txt2obj(extra_oid.c_str(), 1));
    std::unique_ptr<ASN1_UTF8STRING, Deleter<ASN1_UTF8STRING_free>> str(ASN1_UTF8STRING_new());
    ASN1_STRING_set(str.get(), extra_value.data(), static_cast<int>(extra_value.size()));
    unsigned char* der = nullptr;
    int len = i2d_ASN1_UTF8STRING(str.get(), &der);
    std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>> oct(ASN1_OCTET_STRING_new());
    ASN1_OCTET_STRING_set(oct.get(), der, len);
    OPENSSL_free(der);
    X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, oct.get());
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0)
    return std::unexpected(SslError("signing a certificate"));
  return cert;
}

}  // namespace

bool KeysExist(const KeyConfig& config) { return fs::exists(config.dir / "keyring.json"); }

Result<> InitDevelopmentKeys(const KeyConfig& config, const Clock& clock) {
  if (auto r = EnsurePrivateDir(config.dir); !r) return r;
  DirLock lock(config.dir);
  for (const char* f : kDevFiles)
    if (fs::exists(config.dir / f))
      return Fail(Code::kAlreadyExists, (config.dir / f).string() +
                                            " already exists; keys init never overwrites keys "
                                            "(use 'keys rotate' for a new token key)");
  Time now = clock.Now();
  Time nb = now - std::chrono::hours(1);

  auto root_key = GenerateRsaKey(2048);
  auto wwdr_key = GenerateRsaKey(2048);
  auto pass_key = GenerateRsaKey(2048);
  auto sa_key = GenerateRsaKey(2048);
  if (!root_key || !wwdr_key || !pass_key || !sa_key)
    return Fail(Code::kInternal, "RSA key generation failed");

  const std::string pass_type = "pass.be.lerarenkaart.dev";
  const std::string team = "LKDEVTEAM1";
  auto root =
      MakeCertificate({{NID_countryName, "BE"},
                       {NID_organizationName, "Lerarenkaart DEVELOPMENT ONLY"},
                       {NID_commonName, "Lerarenkaart Development Root CA (not Apple)"}},
                      root_key->get(), nullptr, root_key->get(), 1, nb, std::chrono::days(3650), true);
  if (!root) return std::unexpected(root.error());
  auto wwdr =
      MakeCertificate({{NID_countryName, "BE"},
                       {NID_organizationName, "Lerarenkaart DEVELOPMENT ONLY"},
                       {NID_organizationalUnitName, "G4"},
                       {NID_commonName, "Development stand-in for Apple WWDR G4 (not Apple)"}},
                      wwdr_key->get(), root->get(), root_key->get(), 2, nb, std::chrono::days(3650), true);
  if (!wwdr) return std::unexpected(wwdr.error());
  auto pass = MakeCertificate({{NID_userId, pass_type},
                               {NID_commonName, "Pass Type ID: " + pass_type},
                               {NID_organizationalUnitName, team},
                               {NID_organizationName, "Lerarenkaart DEVELOPMENT ONLY"},
                               {NID_countryName, "BE"}},
                              pass_key->get(), wwdr->get(), wwdr_key->get(), 3, nb, std::chrono::days(825),
                              false, "1.2.840.113635.100.6.1.16", pass_type);
  if (!pass) return std::unexpected(pass.error());

  std::string sa_key_id = HexEncode(RandomBytes(20));
  json sa = {{"type", "service_account"},
             {"project_id", "lerarenkaart-dev"},
             {"private_key_id", sa_key_id},
             {"private_key", PrivateKeyPem(sa_key->get())},
             {"client_email", "wallet-dev@lerarenkaart-dev.iam.gserviceaccount.com"},
             {"client_id", "100000000000000000001"},
             {"token_uri", "https://oauth2.googleapis.com/token"},
             {"comment", "DEVELOPMENT ONLY: generated by lerarenkaart keys init, unknown to Google"}};

  const std::pair<const char*, std::string> files[] = {
      {"dev-root-ca.pem", CertificatePem(root->get())},
      {"dev-root-ca-key.pem", PrivateKeyPem(root_key->get())},
      {"dev-wwdr.pem", CertificatePem(wwdr->get())},
      {"dev-wwdr-key.pem", PrivateKeyPem(wwdr_key->get())},
      {"pass-type-id.pem", CertificatePem(pass->get())},
      {"pass-type-id-key.pem", PrivateKeyPem(pass_key->get())},
      {"google-service-account.json", sa.dump(2) + "\n"},
  };
  for (const auto& [name, content] : files)
    if (auto r = WriteSecret(config.dir / name, content); !r) return r;
  if (auto r = KeyringStore(config.dir, KeyUse::kRevocations).AddKey(now); !r)
    return std::unexpected(r.error());
  // The keyring file is written last: its presence marks a complete key set.
  if (auto r = KeyringStore(config.dir).AddKey(now); !r) return std::unexpected(r.error());
  return {};
}

Result<std::unique_ptr<Keyring>> Keyring::Open(const KeyConfig& config) {
  return internal::OpenKeyring(config.dir);
}

}  // namespace lk::signing
