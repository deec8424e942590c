#pragma once
// Fast re-signing of pass manifests. Every SignedData the pass signer makes is the same DER except
// for three fixed-size fields: the messageDigest and signingTime attributes and the RSA
// signature. CmsTemplate learns where they are from one signature OpenSSL's CMS_sign made, then
// signs new content by patching them and making one RSA signature over the signed attributes,
// which skips rebuilding the whole CMS structure each time. The output is byte-identical to
// CMS_sign's; PassSigner checks that at load time and falls back to CMS_sign if not.
// Thread safety: immutable after Learn; Sign may run on many threads, always with the same key
// for one template (each thread keeps a copy of the key and a prepared signing context for the
// template it last used).
#include <openssl/evp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/base.h"

namespace lk::signing::internal {

class CmsTemplate {
 public:
  // `der` is CMS_sign's output for `content` signed at `t` by an RSA key. nullopt when the layout
  // is not the expected one (then the caller keeps using CMS_sign).
  static std::optional<CmsTemplate> Learn(std::string der, std::string_view content, Time t);
  // The SignedData for `content` at `t`, signed with `key` (the same key on every call); nullopt when `t`
  // needs GeneralizedTime (before 1950 or from 2050 on), which changes the layout.
  std::optional<Result<std::string>> Sign(EVP_PKEY* key, std::string_view content, Time t) const;

 private:
  std::string der_;
  uint64_t id_ = 0;  // unique per learned template: keys the per-thread signing context
  size_t attrs_at_ = 0, attrs_len_ = 0, digest_at_ = 0, time_at_ = 0, sig_at_ = 0, sig_len_ = 0;
};

}  // namespace lk::signing::internal
