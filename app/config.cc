#include "app/config.h"

#include <cstdlib>
#include <toml++/toml.h>

namespace lk::app {

Result<Config> LoadConfig(const std::filesystem::path& file, const std::string& data_dir_flag) {
  Config c;
  std::string pass_password_env = "LK_PASS_PASSWORD";
  if (!file.empty()) {
    toml::table t;
    try {
      t = toml::parse_file(file.string());
    } catch (const toml::parse_error& e) {
      return Fail(Code::kInvalidArgument, file.string() + ":" + std::to_string(e.source().begin.line) + ": " +
                                              std::string(e.description()));
    }
    auto bad = [&](const std::string& key, const char* want) {
      return Fail(Code::kInvalidArgument, file.string() + ": '" + key + "' must be " + want);
    };
    auto str = [&](const char* key, auto& out) -> Result<> {
      auto node = t.at_path(key);
      if (!node) return {};
      auto v = node.value<std::string>();
      if (!v) return bad(key, "a string");
      out = *v;
      return {};
    };
    for (auto r : {str("data_dir", c.data_dir), str("tokens.issuer", c.tokens.issuer),
                   str("keys.dir", c.keys.dir), str("keys.pass_certificate", c.keys.pass_certificate),
                   str("keys.pass_key", c.keys.pass_key), str("keys.pass_password_env", pass_password_env),
                   str("keys.wwdr_certificate", c.keys.wwdr_certificate),
                   str("keys.google_service_account", c.keys.google_service_account),
                   str("ledger.url", c.ledger_url),
                   str("passes.web_service_url", c.passes.web_service_url),
                   str("passes.templates_dir", c.passes.templates_dir)})
      if (!r) return std::unexpected(r.error());
    if (auto node = t.at_path("tokens.grace_days")) {
      auto v = node.value<int64_t>();
      if (!v || *v < 0 || *v > 90) return bad("tokens.grace_days", "a whole number of days from 0 to 90");
      c.tokens.grace = std::chrono::days(*v);
    }
    if (auto node = t.at_path("tokens.leeway_seconds")) {
      auto v = node.value<int64_t>();
      if (!v || *v < 0 || *v > 600) return bad("tokens.leeway_seconds", "a whole number from 0 to 600");
      c.tokens.leeway = std::chrono::seconds(*v);
    }
  }
  if (const char* home = std::getenv("LERARENKAART_HOME"); home && *home) c.data_dir = home;
  if (const char* iss = std::getenv("LK_ISSUER"); iss && *iss) c.tokens.issuer = iss;
  if (const char* pw = std::getenv(pass_password_env.c_str())) c.keys.pass_password = pw;
  if (const char* url = std::getenv("LK_LEDGER_URL"); url && *url) c.ledger_url = url;
  if (const char* dir = std::getenv("LK_TEMPLATES_DIR"); dir && *dir) c.passes.templates_dir = dir;
  if (const char* url = std::getenv("LK_WEB_SERVICE_URL")) c.passes.web_service_url = url;
  if (c.passes.templates_dir.empty()) c.passes.templates_dir = LK_DEFAULT_TEMPLATES_DIR;
  if (!data_dir_flag.empty()) c.data_dir = data_dir_flag;
  if (c.keys.dir.empty()) c.keys.dir = c.data_dir / "keys";
  return c;
}

}  // namespace lk::app
