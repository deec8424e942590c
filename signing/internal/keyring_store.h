#pragma once
// Private to signing/: the keyring's files and the shared KeySet representation.
#include <map>
#include <mutex>
#include <vector>

#include "signing/internal/ossl.h"
#include "signing/signing.h"

namespace lk::signing::internal {

extern const char* const kDevFiles[8];

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

// keyring.json plus token/<kid>.pem. Callers hold a DirLock around read-modify-write.
class KeyringStore {
 public:
  explicit KeyringStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  struct Entry {
    TokenKeyInfo info;
    PKey key;
  };
  Result<std::vector<Entry>> Load() const;
  // Generates a key with a kid unlike any existing one, makes it active, retires the old one.
  Result<TokenKeyInfo> AddKey(Time now);

 private:
  Result<> Save(const std::vector<TokenKeyInfo>& infos) const;
  std::filesystem::path dir_;
};

Result<std::unique_ptr<Keyring>> OpenKeyring(const std::filesystem::path& dir);

// One verification key with a small pool of prepared EVP_PKEY_CTX objects (OpenSSL contexts
// are not shareable between threads, and preparing one costs more than a hash).
struct VerifyKey {
  std::string kid;
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
}  // namespace lk::signing
