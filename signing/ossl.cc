#include "signing/internal/ossl.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include <cstring>

namespace lk::signing::internal {

std::string OpenSslErrors() {
  std::string out;
  unsigned long e;
  char buf[256];
  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<PKey> GenerateEcKey() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) return std::unexpected(SslError("generating a P-256 key"));
  return PKey(key);
}

Result<PKey> GenerateRsaKey(int bits) {
  EVP_PKEY* key = EVP_RSA_gen(static_cast<unsigned>(bits));
  if (!key) return std::unexpected(SslError("generating an RSA key"));
  return PKey(key);
}

std::string PrivateKeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return BioToString(bio.get());
}

std::string PublicKeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key);
  return BioToString(bio.get());
}

std::string CertificatePem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return BioToString(bio.get());
}

Result<PKey> ParsePrivateKeyPem(std::string_view pem, const std::string& password, const std::string& where) {
  Bio bio = MemBio(pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>(password.c_str()));
  if (!key)
    return Fail(Code::kInvalidArgument, where + ": not a readable PEM private key (" + OpenSslErrors() + ")");
  return PKey(key);
}

Result<std::pair<std::string, std::string>> EcPublicXY(EVP_PKEY* key) {
  unsigned char buf[65];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &len) != 1 ||
      len != 65 || buf[0] != 0x04) {
    // Keys may carry a compressed point preference; ask for the uncompressed encoding.
    EVP_PKEY_set_utf8_string_param(key, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed");
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &len) != 1 ||
        len != 65 || buf[0] != 0x04)
      return std::unexpected(SslError("reading the EC public point"));
  }
  return std::pair{std::string(reinterpret_cast<char*>(buf + 1), 32),
                   std::string(reinterpret_cast<char*>(buf + 33), 32)};
}

Result<PKey> EcPublicFromXY(std::string_view x, std::string_view y) {
  if (x.size() != 32 || y.size() != 32)
    return Fail(Code::kInvalidArgument, "P-256 coordinates must be 32 bytes each");
  unsigned char point[65];
  point[0] = 0x04;
  std::memcpy(point + 1, x.data(), 32);
  std::memcpy(point + 33, y.data(), 32);
  std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>> bld(OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point);
  std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>> params(OSSL_PARAM_BLD_to_param(bld.get()));
  PKeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    OpenSslErrors();
    return Fail(Code::kInvalidArgument, "the x and y coordinates are not a point on P-256");
  }
  PKey owned(key);
  PKeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (EVP_PKEY_public_check(check.get()) != 1) {
    OpenSslErrors();
    return Fail(Code::kInvalidArgument, "the x and y coordinates are not a point on P-256");
  }
  return owned;
}

std::string EcThumbprint(std::string_view x, std::string_view y) {
  // RFC 7638 §3.2: required members only, lexicographic order, no white space.
  std::string canonical =
      R"({"crv":"P-256","kty":"EC","x":")" + Base64UrlEncode(x) + R"(","y":")" + Base64UrlEncode(y) + R"("})";
  return Base64UrlEncode(Sha256(canonical));
}

}  // namespace lk::signing::internal
