#include "tests/signing/forge.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <stdexcept>

#include "base/base.h"

namespace lk::testing {
namespace {
BIGNUM* Order() {
  BIGNUM* n = nullptr;
  BN_hex2bn(&n, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
  return n;
}
EVP_PKEY* ReadKey(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!k) throw std::runtime_error("bad test key");
  return k;
}
}  // namespace

std::string NewEcKeyPem() {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(k);
  return out;
}

std::string PublicPemOf(const std::string& private_pem) {
  EVP_PKEY* k = ReadKey(private_pem);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, k);
  char* data;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(k);
  return out;
}

std::string ForgeEs256(const std::string& private_pem, const std::string& header, const std::string& payload,
                       SForm form) {
  std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
  EVP_PKEY* key = ReadKey(private_pem);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char der[80];
  size_t len = sizeof der;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, der, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  const unsigned char* p = der;
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  BIGNUM* n = Order();
  BIGNUM* half = BN_dup(n);
  BN_rshift1(half, half);
  BIGNUM* s = BN_dup(ECDSA_SIG_get0_s(sig));
  bool high = BN_cmp(s, half) > 0;
  if (high != (form == SForm::kHigh)) BN_sub(s, n, s);
  unsigned char raw[64];
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
  BN_bn2binpad(s, raw + 32, 32);
  BN_free(s);
  BN_free(half);
  BN_free(n);
  ECDSA_SIG_free(sig);
  return input + "." + Base64UrlEncode(std::string(reinterpret_cast<char*>(raw), 64));
}

std::string ForgeHs256(const std::string& key, const std::string& header, const std::string& payload) {
  std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
  unsigned char mac[32];
  unsigned int len = 32;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), len));
}

std::string FlipS(const std::string& token) {
  size_t dot = token.rfind('.');
  std::string sig = *Base64UrlDecode(token.substr(dot + 1));
  BIGNUM* n = Order();
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr);
  BN_sub(s, n, s);
  BN_bn2binpad(s, reinterpret_cast<unsigned char*>(sig.data()) + 32, 32);
  BN_free(s);
  BN_free(n);
  return token.substr(0, dot + 1) + Base64UrlEncode(sig);
}

}  // namespace lk::testing
