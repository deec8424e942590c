#pragma once
// Private to scan/: the token verifier's verdict plus the revocation list, as a scan::Verdict.
#include <string>
#include <string_view>
#include <unordered_set>

#include "scan/scan.h"
#include "signing/signing.h"

namespace lk::scan::internal {

// The key of a (serial, card year) pair in the set of revoked cards.
std::string RevokedKey(std::string_view serial, int year);
// The verdict on `token` at `now`: the signature and claims by `verifier`, then `revoked`.
Verdict JudgeToken(const signing::TokenVerifier& verifier, const std::unordered_set<std::string>& revoked,
                   std::string_view token, Time now);

}  // namespace lk::scan::internal
