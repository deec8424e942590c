// TrustStore: the issuer's JWK Set and signed revocation list, fetched conditionally, verified,
// cached on disk (one folder per issuer URL, each file replaced atomically) and used offline.
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "scan/internal/judge.h"
#include "scan/scan.h"
#include "signing/revocation_list.h"

namespace lk::scan {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

// "https://lerarenkaart.be/" -> "https_lerarenkaart.be": a folder name per issuer URL.
std::string Slug(std::string_view url) {
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  std::string out;
  for (char c : url) {
    bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
    if (keep)
      out += c;
    else if (out.empty() || out.back() != '_')
      out += '_';
  }
  return out.empty() ? "_" : out;
}

// What the cache folder holds: the two documents as fetched, their ETags, and when the issuer
// last confirmed them.
struct Cached {
  std::string jwks, list, jwks_etag, list_etag;
  Time confirmed_at;
};

class Store final : public TrustStore {
 public:
  Store(TrustOptions options, HttpGetter& http, const Clock& clock)
      : options_(std::move(options)), http_(http), clock_(clock) {
    while (!options_.issuer_url.empty() && options_.issuer_url.back() == '/') options_.issuer_url.pop_back();
    if (options_.token_issuer.empty()) options_.token_issuer = options_.issuer_url;
    if (options_.cache_dir.empty()) options_.cache_dir = DefaultCacheDir();
    dir_ = options_.cache_dir / Slug(options_.issuer_url);
    policy_.issuer = options_.token_issuer;
  }

  Result<Knowledge> Refresh() override {
    Time now = clock_.Now();
    // The copy held, verified as it was when the issuer confirmed it: the floor for `seq`. A
    // damaged copy is ignored while the issuer answers, and reported when it does not.
    std::optional<Cached> cached;
    std::optional<signing::RevocationList> held;
    std::string damage;
    auto loaded = LoadCache();
    if (!loaded) {
      damage = loaded.error().message;
    } else if (*loaded) {
      auto trusted = Trust(**loaded, (*loaded)->confirmed_at, nullptr);
      if (trusted) {
        cached = std::move(**loaded);
        held = std::move(trusted->list);
      } else {
        damage = "the cache in " + dir_.string() + " is damaged (" + trusted.error().message + ")";
      }
    }
    Knowledge k;
    auto fetched = Fetch(cached ? &*cached : nullptr, k);
    if (fetched) {
      auto trusted = Trust(*fetched, now, held ? &*held : nullptr);
      if (trusted) {
        fetched->confirmed_at = now;
        if (auto w = SaveCache(*fetched); !w) return std::unexpected(w.error());
        k.online = true;
        Use(std::move(*trusted), now, k);
        return k;
      }
      k.offline_reason = trusted.error().message;
    } else {
      k.offline_reason = fetched.error().message;
    }
    if (!cached && !damage.empty())
      return Fail(Code::kDataLoss, k.offline_reason + "; and " + damage + ": delete it and scan once online");
    if (!cached)
      return Fail(Code::kUnavailable,
                  k.offline_reason + "; and there is no cached copy in " + dir_.string() +
                      ": connect to the network once and run `lerarenkaart scan --issuer " +
                      options_.issuer_url +
                      "` (it keeps what it fetches for offline use), or check the --issuer URL");
    auto trusted = Trust(*cached, cached->confirmed_at, nullptr);
    Use(std::move(*trusted), cached->confirmed_at, k);
    return k;
  }

  Verdict Judge(std::string_view token) const override {
    if (!verifier_) {  // no successful Refresh: nothing to trust yet
      Verdict v;
      v.outcome = Outcome::kUnknownKey;
      v.reason = "unknown_kid";
      return v;
    }
    return internal::JudgeToken(*verifier_, revoked_, token, clock_.Now());
  }

 private:
  struct Trusted {
    signing::KeySet keys;
    signing::RevocationList list;
  };

  // The documents of `c`, verified: the set parses, the list is signed by its revocation key for
  // our issuer, valid at `at`, and not older than `held`.
  Result<Trusted> Trust(const Cached& c, Time at, const signing::RevocationList* held) const {
    auto keys = signing::KeySet::FromJwks(c.jwks);
    if (!keys)
      return Fail(Code::kFailedPrecondition, "the issuer's JWK Set is refused: " + keys.error().message);
    auto verifier = signing::RevocationVerifier::Create(*keys, policy_);
    auto list = verifier->Verify(c.list, at, held);
    if (!list)
      return Fail(Code::kFailedPrecondition, "the issuer's revocation list is refused (" +
                                                 list.error().reason + "): " + list.error().message);
    return Trusted{std::move(*keys), std::move(*list)};
  }

  void Use(Trusted t, Time confirmed_at, Knowledge& k) {
    Time now = clock_.Now();
    k.confirmed_at = confirmed_at;
    k.age = std::max(std::chrono::seconds(0), now - confirmed_at);
    k.max_age = options_.max_age;
    k.stale = k.age > options_.max_age;
    k.list_sequence = t.list.sequence;
    k.list_expires = t.list.expires;
    k.revoked_cards = t.list.revoked.size();
    revoked_.clear();
    for (const auto& [serial, year] : t.list.revoked) revoked_.insert(internal::RevokedKey(serial, year));
    verifier_ = signing::TokenVerifier::Create(std::move(t.keys), policy_);
  }

  // GETs both documents, conditionally on what `cached` holds.
  Result<Cached> Fetch(const Cached* cached, Knowledge& k) {
    Cached out;
    const std::pair<const char*, std::string*> docs[] = {{"/.well-known/jwks.json", &out.jwks},
                                                         {"/v1/revocations", &out.list}};
    for (int i = 0; i < 2; ++i) {
      std::string url = options_.issuer_url + docs[i].first;
      const std::string* etag = cached ? (i == 0 ? &cached->jwks_etag : &cached->list_etag) : nullptr;
      auto reply = http_.Get(url, etag ? *etag : std::string());
      if (!reply) return Fail(Code::kUnavailable, "cannot reach the issuer: " + reply.error().message);
      (i == 0 ? k.jwks_status : k.list_status) = int(reply->status);
      std::string& new_etag = i == 0 ? out.jwks_etag : out.list_etag;
      if (reply->status == 304 && cached) {
        *docs[i].second = i == 0 ? cached->jwks : cached->list;
        new_etag = *etag;
      } else if (reply->status == 200) {
        *docs[i].second = std::move(reply->body);
        new_etag = reply->etag;
      } else {
        return Fail(Code::kUnavailable, "GET " + url + " answered HTTP " + std::to_string(reply->status));
      }
    }
    return out;
  }

  // The cache, nullopt when there is none; kDataLoss when it is there but unreadable.
  Result<std::optional<Cached>> LoadCache() const {
    std::error_code ec;
    if (!fs::exists(dir_ / "state.json", ec)) return std::optional<Cached>();
    auto state = ReadFile(dir_ / "state.json");
    auto jwks = ReadFile(dir_ / "jwks.json");
    auto list = ReadFile(dir_ / "revocations.jwt");
    for (const auto* r : {&state, &jwks, &list})
      if (!*r) return Fail(Code::kDataLoss, "cannot read the cache: " + r->error().message);
    auto j = json::parse(*state, nullptr, false);
    if (!j.is_object() || !j.contains("confirmed_at") || !j["confirmed_at"].is_string())
      return Fail(Code::kDataLoss, (dir_ / "state.json").string() + " is damaged");
    auto at = ParseRfc3339(j["confirmed_at"].get<std::string>());
    if (!at) return Fail(Code::kDataLoss, (dir_ / "state.json").string() + ": " + at.error().message);
    Cached c{std::move(*jwks), std::move(*list), j.value("jwks_etag", ""), j.value("list_etag", ""), *at};
    return std::optional<Cached>(std::move(c));
  }

  // Documents first, then state.json naming their ETags: a crash in between leaves new
  // documents with old ETags, which only costs a full fetch next time.
  Result<> SaveCache(const Cached& c) const {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec)
      return Fail(Code::kFailedPrecondition,
                  "cannot create the cache folder " + dir_.string() + ": " + ec.message());
    constexpr auto kMode =
        fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read;
    json state = {{"issuer_url", options_.issuer_url},
                  {"confirmed_at", FormatRfc3339(c.confirmed_at)},
                  {"jwks_etag", c.jwks_etag},
                  {"list_etag", c.list_etag}};
    for (auto [name, text] : {std::pair<const char*, std::string>{"jwks.json", c.jwks},
                              {"revocations.jwt", c.list},
                              {"state.json", state.dump(2) + "\n"}})
      if (auto w = WriteFileAtomic(dir_ / name, text, kMode); !w) return w;
    return {};
  }

  TrustOptions options_;
  HttpGetter& http_;
  const Clock& clock_;
  fs::path dir_;
  signing::TokenPolicy policy_;
  std::unique_ptr<signing::TokenVerifier> verifier_;
  std::unordered_set<std::string> revoked_;
};

}  // namespace

fs::path DefaultCacheDir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/')
    return fs::path(xdg) / "lerarenkaart";
  if (const char* home = std::getenv("HOME"); home && *home)
    return fs::path(home) / ".cache" / "lerarenkaart";
  return fs::path(".lerarenkaart-cache");
}

Result<std::unique_ptr<TrustStore>> TrustStore::Open(TrustOptions options, HttpGetter& http,
                                                     const Clock& clock) {
  std::string_view url = options.issuer_url;
  if (!url.starts_with("https://") && !url.starts_with("http://"))
    return Fail(
        Code::kInvalidArgument,
        "--issuer must be an http(s) URL such as https://lerarenkaart.be, not '" + options.issuer_url + "'");
  return std::unique_ptr<TrustStore>(std::make_unique<Store>(std::move(options), http, clock));
}

}  // namespace lk::scan
