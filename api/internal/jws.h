#pragma once
// ES256 compact JWS over an arbitrary JSON payload, signed with a PEM (PKCS#8) P-256 key.
#include <memory>
#include <string>

#include "base/base.h"

namespace lk::api::internal {

class JwsSigner {
 public:
  static Result<std::unique_ptr<JwsSigner>> FromPem(const std::string& pem, std::string kid);
  ~JwsSigner();
  // header {"alg":"ES256","kid":kid,"typ":typ} . payload . raw r||s signature, all base64url.
  Result<std::string> Sign(const std::string& payload_json, const std::string& typ) const;

 private:
  JwsSigner() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lk::api::internal
