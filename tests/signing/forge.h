#pragma once
// Test-only token forgery: signs arbitrary header and payload bytes with a P-256 key through
// raw OpenSSL, so that tests can build every kind of bad token the verifier must refuse.
#include <string>

namespace lk::testing {

enum class SForm { kLow, kHigh };
// Returns base64url(header).base64url(payload).base64url(r||s) signed with `private_pem`.
std::string ForgeEs256(const std::string& private_pem, const std::string& header, const std::string& payload,
                       SForm s = SForm::kLow);
// HMAC-SHA256 "token" keyed with `key` (the algorithm-confusion attack).
std::string ForgeHs256(const std::string& key, const std::string& header, const std::string& payload);
// Replaces the signature's s by n - s (the malleated twin of a valid signature).
std::string FlipS(const std::string& token);
// A fresh P-256 private key in PEM, and its public key in PEM.
std::string NewEcKeyPem();
std::string PublicPemOf(const std::string& private_pem);

}  // namespace lk::testing
