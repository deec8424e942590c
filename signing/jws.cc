// Compact ES256 JWS pieces shared by QR tokens (token.cc) and revocation lists
// (revocation_list.cc), written directly against OpenSSL's EVP API (see token.cc for why).
#include "signing/internal/jws.h"

#include <cstring>
#include <unordered_set>

#include "signing/internal/keyring_store.h"

namespace lk::signing::internal {
using json = nlohmann::json;

namespace {

const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // immutable once fetched
  return md;
}

// SHA-256 through lk::Sha256 (pre-fetched algorithm, one context per thread: no EVP_MD_CTX
// allocated per token); Sha256Md() remains the fallback should that ever return nothing.
void Digest(std::string_view data, unsigned char out[32]) {
  std::string md = Sha256(data);
  if (md.size() == 32) {
    std::memcpy(out, md.data(), 32);
    return;
  }
  unsigned int len = 32;
  EVP_Digest(data.data(), data.size(), out, &len, Sha256Md(), nullptr);
}

// n and n/2 of P-256, for the low-s rule.
const BIGNUM* CurveOrder() {
  static BIGNUM* n = [] {
    BIGNUM* b = nullptr;
    BN_hex2bn(&b, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
    return b;
  }();
  return n;
}
const BIGNUM* HalfOrder() {
  static BIGNUM* h = [] {
    BIGNUM* b = BN_dup(CurveOrder());
    BN_rshift1(b, b);
    return b;
  }();
  return h;
}

// A small pool of prepared contexts: take one, use it, give it back.
class CtxLease {
 public:
  CtxLease(std::mutex& mu, std::vector<PKeyCtx>& pool) : mu_(mu), pool_(pool) {
    std::lock_guard l(mu_);
    if (!pool_.empty()) {
      ctx_ = std::move(pool_.back());
      pool_.pop_back();
    }
  }
  ~CtxLease() {
    if (!ctx_) return;
    std::lock_guard l(mu_);
    pool_.push_back(std::move(ctx_));
  }
  PKeyCtx& get() { return ctx_; }

 private:
  std::mutex& mu_;
  std::vector<PKeyCtx>& pool_;
  PKeyCtx ctx_;
};

enum class B64 { kOk, kBad, kNonCanonical };
B64 DecodeSegment(std::string_view seg, std::string& out) {
  if (!seg.empty() && seg.back() == '=') return B64::kNonCanonical;
  for (char c : seg)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return B64::kBad;
  auto r = Base64UrlDecode(seg);
  if (!r) return B64::kNonCanonical;  // impossible length or set padding bits
  out = std::move(*r);
  return B64::kOk;
}

}  // namespace

const char* DecodeCompact(std::string_view jws, std::string out[3]) {
  size_t d1 = jws.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : jws.find('.', d1 + 1);
  if (d2 == std::string_view::npos || jws.find('.', d2 + 1) != std::string_view::npos || d1 == 0 ||
      d2 == d1 + 1 || d2 + 1 == jws.size())
    return "malformed";
  const std::string_view parts[3] = {jws.substr(0, d1), jws.substr(d1 + 1, d2 - d1 - 1), jws.substr(d2 + 1)};
  for (int i = 0; i < 3; ++i) {
    B64 r = DecodeSegment(parts[i], out[i]);
    if (r == B64::kBad) return "bad_base64";
    if (r == B64::kNonCanonical) return "non_canonical_encoding";
  }
  return nullptr;
}

bool ParseObject(const std::string& text, json& out) {
  bool duplicate = false;
  std::vector<std::unordered_set<std::string>> seen;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) seen.emplace_back();
    if (event == json::parse_event_t::object_end && !seen.empty()) seen.pop_back();
    if (event == json::parse_event_t::key && !seen.empty() && depth > 0)
      if (!seen.back().insert(parsed.get<std::string>()).second) duplicate = true;
    return true;
  };
  out = json::parse(text, cb, /*allow_exceptions=*/false);
  return !duplicate && !out.is_discarded() && out.is_object();
}

const char* CheckEs256(const VerifyKey& key, std::string_view signing_input, std::string_view sig) {
  if (sig.size() != 64) return "bad_signature";
  Bn r(BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr));
  Bn s(BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr));
  if (BN_is_zero(r.get()) || BN_is_zero(s.get()) || BN_cmp(r.get(), CurveOrder()) >= 0 ||
      BN_cmp(s.get(), HalfOrder()) > 0)
    return "non_canonical_signature";
  EcSig ecsig(ECDSA_SIG_new());
  ECDSA_SIG_set0(ecsig.get(), r.release(), s.release());
  unsigned char der[80];
  unsigned char* dp = der;
  int der_len = i2d_ECDSA_SIG(ecsig.get(), &dp);
  unsigned char digest[32];
  Digest(signing_input, digest);
  int ok;
  {
    CtxLease lease(key.mu, key.pool);
    if (!lease.get()) {
      lease.get().reset(EVP_PKEY_CTX_new_from_pkey(nullptr, key.key.get(), nullptr));
      if (!lease.get() || EVP_PKEY_verify_init(lease.get().get()) != 1) return "internal_error";
    }
    ok = EVP_PKEY_verify(lease.get().get(), der, static_cast<size_t>(der_len), digest, sizeof digest);
  }
  if (ok != 1) {
    ERR_clear_error();
    return "bad_signature";
  }
  return nullptr;
}

Result<> Es256Key::AppendSignature(std::string& jws) const {
  unsigned char digest[32];
  Digest(jws, digest);
  unsigned char der[80];
  size_t der_len = sizeof der;
  {
    CtxLease lease(mu_, pool_);
    if (!lease.get()) {
      lease.get().reset(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
      if (!lease.get() || EVP_PKEY_sign_init(lease.get().get()) != 1)
        return std::unexpected(SslError("preparing ECDSA signing"));
    }
    if (EVP_PKEY_sign(lease.get().get(), der, &der_len, digest, sizeof digest) != 1)
      return std::unexpected(SslError("ECDSA signing"));
  }
  const unsigned char* p = der;
  EcSig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  if (!sig) return std::unexpected(SslError("decoding the ECDSA signature"));
  const BIGNUM* r = ECDSA_SIG_get0_r(sig.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(sig.get());
  unsigned char raw[64];
  BN_bn2binpad(r, raw, 32);
  if (BN_cmp(s, HalfOrder()) > 0) {  // low-s form, so the document has exactly one valid encoding
    Bn low(BN_new());
    BN_sub(low.get(), CurveOrder(), s);
    BN_bn2binpad(low.get(), raw + 32, 32);
  } else {
    BN_bn2binpad(s, raw + 32, 32);
  }
  jws += '.';
  jws += Base64UrlEncode(std::string_view(reinterpret_cast<char*>(raw), 64));
  return {};
}

}  // namespace lk::signing::internal
