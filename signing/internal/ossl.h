#pragma once
// OpenSSL ownership helpers and error text, private to signing/.
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/base.h"

namespace lk::signing::internal {

template <auto Fn>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PKeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using Bn = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using EcSig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using Cms = std::unique_ptr<CMS_ContentInfo, Deleter<CMS_ContentInfo_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;

// The OpenSSL error queue as one line (and clears it).
std::string OpenSslErrors();
inline Error SslError(std::string what) {
  return Error{Code::kInternal, std::move(what) + ": " + OpenSslErrors()};
}

inline Bio MemBio(std::string_view data) {
  return Bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}
std::string BioToString(BIO* bio);

Result<PKey> GenerateEcKey();
Result<PKey> GenerateRsaKey(int bits);
std::string PrivateKeyPem(EVP_PKEY* key);  // PKCS#8, unencrypted
std::string PublicKeyPem(EVP_PKEY* key);
std::string CertificatePem(X509* cert);
Result<PKey> ParsePrivateKeyPem(std::string_view pem, const std::string& password, const std::string& where);

// EC P-256 public point as 32-byte big-endian x and y.
Result<std::pair<std::string, std::string>> EcPublicXY(EVP_PKEY* key);
Result<PKey> EcPublicFromXY(std::string_view x, std::string_view y);
// RFC 7638 thumbprint (base64url of SHA-256 over the canonical JWK members).
std::string EcThumbprint(std::string_view x, std::string_view y);
inline constexpr size_t kKidChars = 6;
inline constexpr std::chrono::days kMaxGrace{90};

}  // namespace lk::signing::internal
