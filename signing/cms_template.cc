#include "signing/internal/cms_template.h"

#include <openssl/rsa.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <vector>

namespace lk::signing::internal {
namespace {

// One DER element: where its content starts and how long it is.
struct Tlv {
  size_t at = 0;      // offset of the tag
  size_t header = 0;  // tag + length bytes
  size_t length = 0;  // content length
  unsigned char tag = 0;
  size_t end() const { return at + header + length; }
  size_t content() const { return at + header; }
};

std::optional<Tlv> ReadTlv(std::string_view der, size_t at, size_t limit) {
  if (at + 2 > limit) return std::nullopt;
  Tlv t{at, 2, 0, static_cast<unsigned char>(der[at])};
  auto first = static_cast<unsigned char>(der[at + 1]);
  if (first < 0x80) {
    t.length = first;
  } else {
    size_t n = first & 0x7F;
    if (n == 0 || n > 4 || at + 2 + n > limit) return std::nullopt;
    for (size_t i = 0; i < n; ++i) t.length = (t.length << 8) | static_cast<unsigned char>(der[at + 2 + i]);
    t.header += n;
  }
  if (t.end() > limit) return std::nullopt;
  return t;
}

// The children of a constructed element.
std::vector<Tlv> Children(std::string_view der, const Tlv& parent) {
  std::vector<Tlv> out;
  for (size_t at = parent.content(); at < parent.end();) {
    auto t = ReadTlv(der, at, parent.end());
    if (!t) return {};
    out.push_back(*t);
    at = t->end();
  }
  return out;
}

// "YYMMDDHHMMSSZ", or nullopt outside UTCTime's 1950-2049.
std::optional<std::string> UtcTime(Time t) {
  time_t secs = static_cast<time_t>(t.time_since_epoch().count());
  tm u{};
  if (!gmtime_r(&secs, &u) || u.tm_year < 50 || u.tm_year >= 150) return std::nullopt;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02d%02d%02d%02d%02d%02dZ", u.tm_year % 100, u.tm_mon + 1, u.tm_mday,
                u.tm_hour, u.tm_min, u.tm_sec);
  return std::string(buf, 13);
}

size_t FindOnce(std::string_view hay, std::string_view needle, size_t from, size_t to) {
  size_t at = hay.substr(0, to).find(needle, from);
  if (at == std::string_view::npos || hay.substr(0, to).find(needle, at + 1) != std::string_view::npos)
    return std::string_view::npos;
  return at;
}

}  // namespace

std::optional<CmsTemplate> CmsTemplate::Learn(std::string der, std::string_view content, Time t) {
  std::string_view d = der;
  // ContentInfo { contentType, [0] { SignedData { version, digestAlgorithms, encapContentInfo,
  // [0] certificates, signerInfos SET { SignerInfo { version, sid, digestAlgorithm,
  // [0] signedAttrs, signatureAlgorithm, signature } } } } }
  auto info = ReadTlv(d, 0, d.size());
  if (!info || info->tag != 0x30 || info->end() != d.size()) return std::nullopt;
  auto ci = Children(d, *info);
  if (ci.size() != 2 || ci[1].tag != 0xA0) return std::nullopt;
  auto wrapped = Children(d, ci[1]);
  if (wrapped.size() != 1 || wrapped[0].tag != 0x30) return std::nullopt;
  auto sd = Children(d, wrapped[0]);
  if (sd.empty() || sd.back().tag != 0x31) return std::nullopt;
  auto infos = Children(d, sd.back());
  if (infos.size() != 1 || infos[0].tag != 0x30) return std::nullopt;
  auto si = Children(d, infos[0]);
  if (si.size() != 6 || si[3].tag != 0xA0 || si[5].tag != 0x04 || si[5].end() != d.size())
    return std::nullopt;
  CmsTemplate c;
  c.attrs_at_ = si[3].at;
  c.attrs_len_ = si[3].header + si[3].length;
  c.sig_at_ = si[5].content();
  c.sig_len_ = si[5].length;
  auto when = UtcTime(t);
  if (!when) return std::nullopt;
  c.digest_at_ = FindOnce(d, Sha256(content), si[3].content(), si[3].end());
  c.time_at_ = FindOnce(d, *when, si[3].content(), si[3].end());
  if (c.digest_at_ == std::string_view::npos || c.time_at_ == std::string_view::npos) return std::nullopt;
  c.der_ = std::move(der);
  static std::atomic<uint64_t> next_id{1};
  c.id_ = next_id++;
  return c;
}

std::optional<Result<std::string>> CmsTemplate::Sign(EVP_PKEY* key, std::string_view content, Time t) const {
  auto when = UtcTime(t);
  if (!when) return std::nullopt;
  std::string out = der_;
  std::string digest = Sha256(content);
  std::memcpy(out.data() + digest_at_, digest.data(), digest.size());
  std::memcpy(out.data() + time_at_, when->data(), when->size());
  // The signature covers the DER of the attributes as a SET (RFC 5652 §5.4), not as [0].
  std::string attrs = out.substr(attrs_at_, attrs_len_);
  attrs[0] = 0x31;
  std::string md = Sha256(attrs);
  // One prepared context per thread and key, over the thread's own copy of the key: making a
  // context per call fetches the algorithms from OpenSSL's global store under a lock, and threads
  // sharing one RSA key share its second blinding under a lock (only the first thread to sign
  // gets a blinding of its own). Blinding stays on; each copy has its own, as each process of
  // `openssl speed -multi` has.
  struct CachedCtx {
    uint64_t id = 0;          // the template (and so the signer's key) this context was made for
    EVP_PKEY* own = nullptr;  // this thread's copy of it
    EVP_PKEY_CTX* ctx = nullptr;
    void Reset() {
      EVP_PKEY_CTX_free(ctx);
      EVP_PKEY_free(own);
      id = 0;
      own = nullptr;
      ctx = nullptr;
    }
    ~CachedCtx() { Reset(); }
  };
  thread_local CachedCtx cached;
  if (cached.id != id_ || !cached.ctx) {
    cached.Reset();
    cached.own = EVP_PKEY_dup(key);
    cached.ctx = cached.own ? EVP_PKEY_CTX_new(cached.own, nullptr) : nullptr;
    if (cached.ctx && EVP_PKEY_sign_init(cached.ctx) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(cached.ctx, RSA_PKCS1_PADDING) == 1 &&
        EVP_PKEY_CTX_set_signature_md(cached.ctx, EVP_sha256()) == 1) {
      cached.id = id_;
    } else {
      cached.Reset();
    }
  }
  size_t len = sig_len_;
  bool ok = cached.ctx &&
            EVP_PKEY_sign(cached.ctx, reinterpret_cast<unsigned char*>(out.data() + sig_at_), &len,
                          reinterpret_cast<const unsigned char*>(md.data()), md.size()) == 1 &&
            len == sig_len_;
  if (!ok) return Result<std::string>(Fail(Code::kInternal, "signing the manifest (RSA)"));
  return Result<std::string>(std::move(out));
}

}  // namespace lk::signing::internal
