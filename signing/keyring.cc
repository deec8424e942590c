#include <nlohmann/json.hpp>

#include "signing/internal/keyring_store.h"
#include "signing/revocation_list.h"

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

// Last possible expiry of a token or revocation list signed before `retired`: tokens are issued
// for at most the next card year, with at most kMaxGrace of grace; lists live at most
// kMaxRevocationListLifetime.
Time PublishUntil(Time retired, KeyUse use) {
  if (use == KeyUse::kRevocations) return retired + kMaxRevocationListLifetime;
  int next = int(BrusselsDate(retired).year()) + 1;
  TokenPolicy longest;
  longest.grace = kMaxGrace;
  return CardYearValidity(next, longest).expires;
}

KeyUse Other(KeyUse use) { return use == KeyUse::kToken ? KeyUse::kRevocations : KeyUse::kToken; }
}  // namespace

fs::path KeyringStore::MetadataFile() const {
  return dir_ / (use_ == KeyUse::kToken ? "keyring.json" : "revocations.json");
}

fs::path KeyringStore::KeyDir() const { return dir_ / (use_ == KeyUse::kToken ? "token" : "revocations"); }

Result<std::vector<KeyringStore::Entry>> KeyringStore::Load() const {
  fs::path file = MetadataFile();
  if (use_ == KeyUse::kRevocations && !fs::exists(file)) return std::vector<Entry>{};  // an older keys folder
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
    fs::path pem_path = KeyDir() / (e.info.kid + ".pem");
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
    return Fail(Code::kDataLoss,
                file.string() + ": exactly one key must be active, found " + std::to_string(active));
  return out;
}

Result<> KeyringStore::Save(const std::vector<KeyInfo>& infos) const {
  json keys = json::array();
  for (const auto& i : infos)
    keys.push_back({{"kid", i.kid},
                    {"created", FormatRfc3339(i.created)},
                    {"active", i.active},
                    {"retired", TimeOrNull(i.retired)},
                    {"publish_until", TimeOrNull(i.publish_until)}});
  json doc = {{"keys", keys}};
  return WriteFileAtomic(MetadataFile(), doc.dump(2) + "\n");
}

Result<KeyInfo> KeyringStore::AddKey(Time now) {
  std::vector<KeyInfo> infos;
  std::vector<std::string> taken;  // kids of both uses: a kid names one key in the JWK Set
  for (KeyUse use : {use_, Other(use_)}) {
    KeyringStore store(dir_, use);
    if (!fs::exists(store.MetadataFile())) continue;
    auto loaded = store.Load();
    if (!loaded) return std::unexpected(loaded.error());
    for (auto& e : *loaded) {
      taken.push_back(e.info.kid);
      if (use == use_) infos.push_back(e.info);
    }
  }
  if (auto r = EnsurePrivateDir(KeyDir()); !r) return std::unexpected(r.error());
  // A kid is a prefix of the thumbprint; a new key whose kid collides with a kept one is
  // discarded and another generated, so a kid always names exactly one key.
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto key = GenerateEcKey();
    if (!key) return std::unexpected(key.error());
    auto xy = EcPublicXY(key->get());
    if (!xy) return std::unexpected(xy.error());
    std::string kid = EcThumbprint(xy->first, xy->second).substr(0, kKidChars);
    bool clash = std::find(taken.begin(), taken.end(), kid) != taken.end() ||
                 fs::exists(KeyDir() / (kid + ".pem")) ||
                 fs::exists(KeyringStore(dir_, Other(use_)).KeyDir() / (kid + ".pem"));
    if (clash) continue;
    if (auto r = WriteSecret(KeyDir() / (kid + ".pem"), PrivateKeyPem(key->get())); !r)
      return std::unexpected(r.error());
    for (auto& i : infos)
      if (i.active) {
        i.active = false;
        i.retired = now;
        i.publish_until = PublishUntil(now, use_);
      }
    KeyInfo info{kid, now, true, std::nullopt, std::nullopt};
    infos.push_back(info);
    if (auto r = Save(infos); !r) return std::unexpected(r.error());
    return info;
  }
  return Fail(Code::kInternal, "could not generate a key with an unused kid");
}

namespace {
class KeyringImpl final : public Keyring {
 public:
  KeyringImpl(fs::path dir, std::vector<KeyringStore::Entry> tokens,
              std::vector<KeyringStore::Entry> revocations)
      : dir_(std::move(dir)), tokens_(std::move(tokens)), revocations_(std::move(revocations)) {}

  Result<KeyInfo> Rotate(const Clock& clock) override { return Add(clock, KeyUse::kToken, tokens_); }
  Result<KeyInfo> RotateRevocationKey(const Clock& clock) override {
    return Add(clock, KeyUse::kRevocations, revocations_);
  }

  std::vector<KeyInfo> List() const override { return Infos(tokens_); }
  std::vector<KeyInfo> RevocationKeys() const override { return Infos(revocations_); }

  KeySet Published(Time now) const override {
    KeySet set;
    auto impl = std::make_shared<KeySet::Impl>();
    for (auto [use, entries] : {std::pair{KeyUse::kToken, &tokens_}, {KeyUse::kRevocations, &revocations_}})
      for (const auto& e : *entries) {
        if (!e.info.active && e.info.publish_until && *e.info.publish_until <= now) continue;
        auto vk = std::make_shared<VerifyKey>();
        vk->kid = e.info.kid;
        vk->use = use;
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
    for (const auto& e : tokens_)
      if (e.info.active) return PrivateKeyPem(e.key.get());
    return {};
  }

  Result<std::string> ActiveRevocationKeyPem() const override {
    for (const auto& e : revocations_)
      if (e.info.active) return PrivateKeyPem(e.key.get());
    return Fail(Code::kFailedPrecondition, "no revocation-list signing key in " + dir_.string() +
                                               " (keys made by an older lerarenkaart): create one with "
                                               "'lerarenkaart keys rotate --revocations'");
  }

 private:
  Result<KeyInfo> Add(const Clock& clock, KeyUse use, std::vector<KeyringStore::Entry>& entries) {
    DirLock lock(dir_);
    auto info = KeyringStore(dir_, use).AddKey(clock.Now());
    if (!info) return info;
    auto reloaded = KeyringStore(dir_, use).Load();
    if (!reloaded) return std::unexpected(reloaded.error());
    entries = std::move(*reloaded);
    return info;
  }

  static std::vector<KeyInfo> Infos(const std::vector<KeyringStore::Entry>& entries) {
    std::vector<KeyInfo> out;
    for (const auto& e : entries) out.push_back(e.info);
    return out;
  }

  fs::path dir_;
  std::vector<KeyringStore::Entry> tokens_, revocations_;
};
}  // namespace

Result<std::unique_ptr<Keyring>> OpenKeyring(const fs::path& dir) {
  auto tokens = KeyringStore(dir).Load();
  if (!tokens) return std::unexpected(tokens.error());
  KeyringStore revocation_store(dir, KeyUse::kRevocations);
  auto revocations = revocation_store.Load();
  if (!revocations) return std::unexpected(revocations.error());
  for (const auto& r : *revocations)
    for (const auto& t : *tokens)
      if (r.info.kid == t.info.kid)
        return Fail(Code::kDataLoss, revocation_store.MetadataFile().string() + ": key " + r.info.kid +
                                         " is also a token key; a key has one use only");
  return std::make_unique<KeyringImpl>(dir, std::move(*tokens), std::move(*revocations));
}

}  // namespace lk::signing::internal
