#include "api/internal/jws.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <nlohmann/json.hpp>

namespace lk::api::internal {

struct JwsSigner::Impl {
  EVP_PKEY* key = nullptr;
  std::string kid;
  ~Impl() { EVP_PKEY_free(key); }
};

JwsSigner::~JwsSigner() = default;

Result<std::unique_ptr<JwsSigner>> JwsSigner::FromPem(const std::string& pem, std::string kid) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (!key) return Fail(Code::kDataLoss, "the active token key cannot be read as a PEM private key");
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC || EVP_PKEY_get_bits(key) != 256) {
    EVP_PKEY_free(key);
    return Fail(Code::kDataLoss, "the active token key is not a P-256 key");
  }
  auto s = std::unique_ptr<JwsSigner>(new JwsSigner());
  s->impl_ = std::make_unique<Impl>();
  s->impl_->key = key;
  s->impl_->kid = std::move(kid);
  return s;
}

Result<std::string> JwsSigner::Sign(const std::string& payload_json, const std::string& typ) const {
  nlohmann::json header = {{"alg", "ES256"}, {"kid", impl_->kid}, {"typ", typ}};
  std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(payload_json);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string der;
  bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, impl_->key) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  if (ok) {
    der.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len,
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    der.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return Fail(Code::kInternal, "ES256 signing failed in OpenSSL");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (!sig) return Fail(Code::kInternal, "OpenSSL returned an unreadable ECDSA signature");
  unsigned char raw[64];
  const BIGNUM *r = nullptr, *s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
  ECDSA_SIG_free(sig);
  if (!ok) return Fail(Code::kInternal, "ECDSA signature component too large");
  return input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(raw), 64));
}

}  // namespace lk::api::internal
