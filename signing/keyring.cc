#include <nlohmann/json.hpp>

#include "signing/internal/keyring_store.h"

namespace lk::signing::internal {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
json TimeOrNull(const std::optional<Time>& t) { return t ? json(FormatRfc3339(*t)) : json(nullptr); }

Result<std::optional<Time>> OptionalTime(const json& j, const char* field, const std::string& where) {
  if (!j.contains(field) || j[field].is_null()) return std::optional<Time>{};
  if (!j[field].is_string()) return Fail(Code::kDataLoss, where + ": field '" + field + "' is not a time");
  auto t = ParseRfc3339(j[field].get<std::string>());
  if (!t) return Fail(Code::kDataLoss, where + ": field '" + field + "': " + t.error().message);
  return std::optional<Time>(*t);
}

// Last possible expiry of a token signed before `retired`: tokens are issued for at most the
// next card year, with at most kMaxGrace of grace.
Time PublishUntil(Time retired) {
  int next = int(BrusselsDate(retired).year()) + 1;
  TokenPolicy longest;
  longest.grace = kMaxGrace;
  return CardYearValidity(next, longest).expires;
}
}  // namespace

Result<std::vector<KeyringStore::Entry>> KeyringStore::Load() const {
  fs::path file = dir_ / "keyring.json";
  auto text = ReadFile(file);
  if (!text) return Fail(Code::kNotFound, file.string() + " not found: run 'lerarenkaart keys init' first");
  json doc = json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array())
    return Fail(Code::kDataLoss, file.string() + ": not a keyring document (expected {\"keys\": [...]})");
  std::vector<Entry> out;
  int active = 0;
  for (size_t i = 0; i < doc["keys"].size(); ++i) {
    const json& k = doc["keys"][i];
    std::string where = file.string() + ": keys[" + std::to_string(i) + "]";
    if (!k.is_object() || !k.contains("kid") || !k["kid"].is_string() || !k.contains("created") ||
        !k.contains("active") || !k["active"].is_boolean())
      return Fail(Code::kDataLoss, where + ": needs kid, created and active");
    Entry e;
    e.info.kid = k["kid"];
    e.info.active = k["active"];
    auto created = OptionalTime(k, "created", where);
    auto retired = OptionalTime(k, "retired", where);
    auto until = OptionalTime(k, "publish_until", where);
    if (!created || !*created) return Fail(Code::kDataLoss, where + ": bad 'created'");
    if (!retired) return std::unexpected(retired.error());
    if (!until) return std::unexpected(until.error());
    e.info.created = **created;
    e.info.retired = *retired;
    e.info.publish_until = *until;
    fs::path pem_path = dir_ / "token" / (e.info.kid + ".pem");
    auto pem = ReadFile(pem_path);
    if (!pem) return std::unexpected(pem.error());
    auto key = ParsePrivateKeyPem(*pem, "", pem_path.string());
    if (!key) return std::unexpected(key.error());
    auto xy = EcPublicXY(key->get());
    if (!xy || EVP_PKEY_get_bits(key->get()) != 256)
      return Fail(Code::kDataLoss, pem_path.string() + ": not a P-256 key");
    if (EcThumbprint(xy->first, xy->second).substr(0, kKidChars) != e.info.kid)
      return Fail(Code::kDataLoss, pem_path.string() + ": key does not match its kid " + e.info.kid);
    e.key = std::move(*key);
    active += e.info.active;
    out.push_back(std::move(e));
  }
  if (active != 1)
    return Fail(Code::kDataLoss, file.string() + ": exactly one key must be active, found " + std::to_string(active));
  return out;
}

Result<> KeyringStore::Save(const std::vector<TokenKeyInfo>& infos) const {
  json keys = json::array();
  for (const auto& i : infos)
    keys.push_back({{"kid", i.kid},
                    {"created", FormatRfc3339(i.created)},
                    {"active", i.active},
                    {"retired", TimeOrNull(i.retired)},
                    {"publish_until", TimeOrNull(i.publish_until)}});
  json doc = {{"keys", keys}};
  return WriteFileAtomic(dir_ / "keyring.json", doc.dump(2) + "\n");
}

Result<TokenKeyInfo> KeyringStore::AddKey(Time now) {
  std::vector<TokenKeyInfo> infos;
  if (fs::exists(dir_ / "keyring.json")) {
    auto loaded = Load();
    if (!loaded) return std::unexpected(loaded.error());
    for (auto& e : *loaded) infos.push_back(e.info);
  }
  if (auto r = EnsurePrivateDir(dir_ / "token"); !r) return std::unexpected(r.error());
  // A kid is a prefix of the thumbprint; a new key whose kid collides with a kept one is
  // discarded and another generated, so a kid always names exactly one key.
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto key = GenerateEcKey();
    if (!key) return std::unexpected(key.error());
    auto xy = EcPublicXY(key->get());
    if (!xy) return std::unexpected(xy.error());
    std::string kid = EcThumbprint(xy->first, xy->second).substr(0, kKidChars);
    bool clash = std::any_of(infos.begin(), infos.end(), [&](const auto& i) { return i.kid == kid; }) ||
                 fs::exists(dir_ / "token" / (kid + ".pem"));
    if (clash) continue;
    if (auto r = WriteSecret(dir_ / "token" / (kid + ".pem"), PrivateKeyPem(key->get())); !r)
      return std::unexpected(r.error());
    for (auto& i : infos)
      if (i.active) {
        i.active = false;
        i.retired = now;
        i.publish_until = PublishUntil(now);
      }
    TokenKeyInfo info{kid, now, true, std::nullopt, std::nullopt};
    infos.push_back(info);
    if (auto r = Save(infos); !r) return std::unexpected(r.error());
    return info;
  }
  return Fail(Code::kInternal, "could not generate a token key with an unused kid");
}

namespace {
class KeyringImpl final : public Keyring {
 public:
  KeyringImpl(fs::path dir, std::vector<KeyringStore::Entry> entries)
      : dir_(std::move(dir)), entries_(std::move(entries)) {}

  Result<TokenKeyInfo> Rotate(const Clock& clock) override {
    DirLock lock(dir_);
    auto info = KeyringStore(dir_).AddKey(clock.Now());
    if (!info) return info;
    auto reloaded = KeyringStore(dir_).Load();
    if (!reloaded) return std::unexpected(reloaded.error());
    entries_ = std::move(*reloaded);
    return info;
  }

  std::vector<TokenKeyInfo> List() const override {
    std::vector<TokenKeyInfo> out;
    for (const auto& e : entries_) out.push_back(e.info);
    return out;
  }

  KeySet Published(Time now) const override {
    KeySet set;
    auto impl = std::make_shared<KeySet::Impl>();
    for (const auto& e : entries_) {
      if (!e.info.active && e.info.publish_until && *e.info.publish_until <= now) continue;
      auto vk = std::make_shared<VerifyKey>();
      vk->kid = e.info.kid;
      auto xy = EcPublicXY(e.key.get());
      vk->x = xy->first;
      vk->y = xy->second;
      vk->key = std::move(*EcPublicFromXY(vk->x, vk->y));
      impl->keys.emplace(vk->kid, std::move(vk));
    }
    set.impl_ = std::move(impl);
    return set;
  }

  std::string ActivePrivateKeyPem() const override {
    for (const auto& e : entries_)
      if (e.info.active) return PrivateKeyPem(e.key.get());
    return {};
  }

 private:
  fs::path dir_;
  std::vector<KeyringStore::Entry> entries_;
};
}  // namespace

Result<std::unique_ptr<Keyring>> OpenKeyring(const fs::path& dir) {
  auto entries = KeyringStore(dir).Load();
  if (!entries) return std::unexpected(entries.error());
  return std::make_unique<KeyringImpl>(dir, std::move(*entries));
}

}  // namespace lk::signing::internal
