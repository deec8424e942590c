#pragma once
// Private to signing/: the keyring's files and the shared KeySet representation.
#include <map>
#include <mutex>
#include <vector>

#include "signing/internal/ossl.h"
#include "signing/signing.h"

namespace lk::signing::internal {

extern const char* const kDevFiles[9];

// The JWK "use" of each KeyUse.
inline constexpr const char* kTokenUse = "sig";
inline constexpr const char* kRevocationsUse = "lk-revocations";

class DirLock {
 public:
  explicit DirLock(const std::filesystem::path& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

Result<> EnsurePrivateDir(const std::filesystem::path& dir);
// Writes a new file with mode 0600; refuses to replace an existing one.
Result<> WriteSecret(const std::filesystem::path& path, std::string_view content);

// The keys of one use: keyring.json plus token/<kid>.pem, or revocations.json plus
// revocations/<kid>.pem. Callers hold a DirLock around read-modify-write.
class KeyringStore {
 public:
  explicit KeyringStore(std::filesystem::path dir, KeyUse use = KeyUse::kToken)
      : dir_(std::move(dir)), use_(use) {}
  struct Entry {
    KeyInfo info;
    PKey key;
  };
  // kNotFound without keyring.json; no revocation keys (an empty list) without revocations.json.
  Result<std::vector<Entry>> Load() const;
  // Generates a key with a kid unlike any existing one of either use, makes it active, retires
  // the old one.
  Result<KeyInfo> AddKey(Time now);
  std::filesystem::path MetadataFile() const;  // keyring.json or revocations.json
  std::filesystem::path KeyDir() const;        // token/ or revocations/

 private:
  Result<> Save(const std::vector<KeyInfo>& infos) const;
  std::filesystem::path dir_;
  KeyUse use_;
};

Result<std::unique_ptr<Keyring>> OpenKeyring(const std::filesystem::path& dir);

// One verification key with a small pool of prepared EVP_PKEY_CTX objects (OpenSSL contexts
// are not shareable between threads, and preparing one costs more than a hash).
struct VerifyKey {
  std::string kid;
  KeyUse use = KeyUse::kToken;
  std::string x, y;
  PKey key;
  mutable std::mutex mu;
  mutable std::vector<PKeyCtx> pool;
};

}  // namespace lk::signing::internal

namespace lk::signing {
struct KeySet::Impl {
  std::map<std::string, std::shared_ptr<internal::VerifyKey>, std::less<>> keys;
};
namespace internal {
// The keys of `keys` that have `use` (sharing them, not copying).
KeySet KeysOfUse(const KeySet& keys, KeyUse use);
}  // namespace internal
}  // namespace lk::signing
