#include <cstdio>

#include "app/commands.h"

namespace lk::app {
namespace {

// The keyring in the configured keys folder; a configuration error comes first.
Result<std::unique_ptr<signing::Keyring>> OpenKeyring(const Globals& g) {
  auto c = Load(g);
  if (!c) return std::unexpected(c.error());
  return signing::Keyring::Open(c->keys);
}

}  // namespace

void AddKeysCommands(CLI::App& app, Globals& g, int& exit_code) {
  auto* keys =
      app.add_subcommand("keys", "Manage signing keys: token keyring, pass certificate, Google account");
  keys->require_subcommand(1);

  keys->add_subcommand("init",
                       "Create development keys under <data-dir>/keys (mode 0600): a P-256 token key, a "
                       "P-256 revocation-list key, a development pass-signing chain and a Google "
                       "service-account stand-in. Never overwrites existing keys.")
      ->callback([&] {
        auto c = Load(g);
        if (!c) {
          exit_code = Report(c.error());
          return;
        }
        SystemClock clock;
        if (auto r = signing::InitDevelopmentKeys(c->keys, clock); !r) {
          exit_code = Report(r.error());
          return;
        }
        auto ring = signing::Keyring::Open(c->keys);
        if (!ring) {
          exit_code = Report(ring.error());
          return;
        }
        std::printf("created development keys in %s (DEVELOPMENT ONLY: not trusted by Apple or Google)\n",
                    c->keys.dir.c_str());
        std::printf("active token key: %s\n", (*ring)->List().back().kid.c_str());
        std::printf("active revocation-list key: %s\n", (*ring)->RevocationKeys().back().kid.c_str());
      });

  auto* rotate = keys->add_subcommand(
      "rotate",
      "Add a new active token key; older keys stay published until their tokens expire. With --revocations,\n"
      "the revocation-list key instead (the old one stays published for 7 days, the longest a list lives);\n"
      "this also creates the first one in a keys folder made by an older lerarenkaart. Then send the\n"
      "service SIGHUP (or restart it).");
  auto revocations = std::make_shared<bool>(false);
  rotate->add_flag("--revocations", *revocations, "Rotate (or create) the revocation-list signing key");
  rotate->callback([&, revocations] {
    auto ring = OpenKeyring(g);
    if (!ring) {
      exit_code = Report(ring.error());
      return;
    }
    SystemClock clock;
    auto info = *revocations ? (*ring)->RotateRevocationKey(clock) : (*ring)->Rotate(clock);
    if (!info) {
      exit_code = Report(info.error());
      return;
    }
    std::printf("new active %s key: %s\n", *revocations ? "revocation-list" : "token", info->kid.c_str());
  });

  keys->add_subcommand("list",
                       "List token and revocation-list keys: kid, use, status, created, retired, "
                       "published until")
      ->callback([&] {
        auto ring = OpenKeyring(g);
        if (!ring) {
          exit_code = Report(ring.error());
          return;
        }
        Time now = SystemClock().Now();
        const char* row = "%-10s %-12s %-10s %-21s %-21s %s\n";
        std::printf(row, "KID", "USE", "STATUS", "CREATED", "RETIRED", "PUBLISHED UNTIL");
        auto revocation_keys = (*ring)->RevocationKeys();
        for (auto [use, list] : {std::pair{"token", (*ring)->List()}, {"revocations", revocation_keys}})
          for (const auto& k : list) {
            const char* status =
                k.active ? "active" : (k.publish_until && *k.publish_until <= now ? "expired" : "retired");
            std::printf(row, k.kid.c_str(), use, status, FormatRfc3339(k.created).c_str(),
                        k.retired ? FormatRfc3339(*k.retired).c_str() : "-",
                        k.publish_until ? FormatRfc3339(*k.publish_until).c_str() : "-");
          }
        if (revocation_keys.empty())  // a keys folder made by an older lerarenkaart: name the fix
          std::fprintf(stderr, "lerarenkaart: %s\n",
                       (*ring)->ActiveRevocationKeyPem().error().message.c_str());
      });

  keys->add_subcommand("jwks",
                       "Print the public JWK Set that partners verify tokens (\"use\":\"sig\") and "
                       "revocation lists (\"use\":\"lk-revocations\") against")
      ->callback([&] {
        auto ring = OpenKeyring(g);
        if (!ring) {
          exit_code = Report(ring.error());
          return;
        }
        std::printf("%s\n", (*ring)->Published(SystemClock().Now()).ToJwks().c_str());
      });
}

}  // namespace lk::app
