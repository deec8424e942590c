#include "app/config.h"

#include <toml++/toml.h>

#include <cstdlib>
#include <tuple>

namespace lk::app {

namespace {

Result<> GoogleFromEnvironment(Config& c) {
  auto env = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
  };
  auto& w = c.google.wallet;
  if (auto v = env("LK_GOOGLE_ISSUER_ID")) w.issuer_id = v;
  if (auto v = env("LK_GOOGLE_CLASS_PREFIX")) w.class_prefix = v;
  if (auto v = env("LK_GOOGLE_TOKEN_URL")) w.token_url = v;
  if (auto v = env("LK_GOOGLE_API_URL")) w.api_url = v;
  if (auto v = env("LK_GOOGLE_SERVICE_ACCOUNT")) c.keys.google_service_account = v;
  if (auto v = env("LK_GOOGLE_ORIGINS")) {
    w.origins.clear();
    std::string_view rest = v;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (!item.empty()) w.origins.emplace_back(item);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    if (w.origins.empty())
      return Fail(Code::kInvalidArgument, "LK_GOOGLE_ORIGINS: a comma-separated list of URLs");
  }
  if (auto v = env("LK_GOOGLE_USE_API")) {
    std::string_view s = v;
    if (s == "1" || s == "true")
      c.google.use_api = true;
    else if (s == "0" || s == "false")
      c.google.use_api = false;
    else
      return Fail(Code::kInvalidArgument,
                  "LK_GOOGLE_USE_API: '" + std::string(s) + "' must be 1, true, 0 or false");
  }
  return {};
}

}  // namespace

Result<Config> LoadConfig(const std::filesystem::path& file, const std::string& data_dir_flag) {
  Config c;
  std::string pass_password_env = "LK_PASS_PASSWORD", smtp_password_env = "LK_SMTP_PASSWORD";
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
    for (auto r : {str("data_dir", c.data_dir),
                   str("tokens.issuer", c.tokens.issuer),
                   str("keys.dir", c.keys.dir),
                   str("keys.pass_certificate", c.keys.pass_certificate),
                   str("keys.pass_key", c.keys.pass_key),
                   str("keys.pass_password_env", pass_password_env),
                   str("keys.wwdr_certificate", c.keys.wwdr_certificate),
                   str("keys.google_service_account", c.keys.google_service_account),
                   str("ledger.url", c.ledger_url),
                   str("passes.web_service_url", c.passes.web_service_url),
                   str("passes.templates_dir", c.passes.templates_dir),
                   str("google.issuer_id", c.google.wallet.issuer_id),
                   str("google.class_prefix", c.google.wallet.class_prefix),
                   str("google.token_url", c.google.wallet.token_url),
                   str("google.api_url", c.google.wallet.api_url),
                   str("google.service_account_key", c.keys.google_service_account),
                   str("server.public_url", c.mail.public_url),
                   str("smtp.url", c.mail.smtp.url),
                   str("smtp.user", c.mail.smtp.username),
                   str("smtp.password_env", smtp_password_env),
                   str("smtp.ca_file", c.mail.smtp.ca_file),
                   str("smtp.helo_host", c.mail.smtp.helo_host),
                   str("smtp.from", c.mail.from),
                   str("smtp.from_name", c.mail.from_name),
                   str("smtp.contact", c.mail.contact)})
      if (!r) return std::unexpected(r.error());
    if (t.at_path("smtp.password"))
      return Fail(Code::kInvalidArgument,
                  file.string() +
                      ": 'smtp.password' is not read from the file: put the password in "
                      "the environment variable LK_SMTP_PASSWORD (or the one "
                      "smtp.password_env names) and remove the key");
    if (auto node = t.at_path("smtp.starttls")) {
      auto v = node.value<std::string>();
      if (v && *v == "required")
        c.mail.smtp.starttls = mail::StartTls::kRequired;
      else if (v && *v == "optional")
        c.mail.smtp.starttls = mail::StartTls::kOptional;
      else if (v && *v == "off")
        c.mail.smtp.starttls = mail::StartTls::kOff;
      else
        return bad("smtp.starttls", "\"required\", \"optional\" or \"off\"");
    }
    if (auto node = t.at_path("smtp.rate")) {
      auto v = node.value<double>();
      if (!v || *v < 0 || *v > 10000)
        return bad("smtp.rate", "a number of mails per second from 0 (no limit) to 10000");
      c.mail.smtp.rate_per_second = *v;
    }
    if (auto node = t.at_path("google.origins")) {
      auto* arr = node.as_array();
      if (!arr || arr->empty()) return bad("google.origins", "a non-empty array of URLs");
      c.google.wallet.origins.clear();
      for (auto& el : *arr) {
        auto v = el.value<std::string>();
        if (!v) return bad("google.origins", "a non-empty array of URLs");
        c.google.wallet.origins.push_back(*v);
      }
    }
    auto seconds = [&](const char* key, std::chrono::milliseconds& out) -> Result<> {
      if (auto node = t.at_path(key)) {
        auto v = node.value<double>();
        if (!v || *v < 0.1 || *v > 300) return bad(key, "a number of seconds from 0.1 to 300");
        out = std::chrono::milliseconds(static_cast<int64_t>(*v * 1000));
      }
      return {};
    };
    for (auto r : {seconds("google.connect_timeout_seconds", c.google.wallet.connect_timeout),
                   seconds("google.timeout_seconds", c.google.wallet.total_timeout)})
      if (!r) return std::unexpected(r.error());
    if (auto node = t.at_path("google.max_attempts")) {
      auto v = node.value<int64_t>();
      if (!v || *v < 1 || *v > 10) return bad("google.max_attempts", "a whole number from 1 to 10");
      c.google.wallet.max_attempts = static_cast<int>(*v);
    }
    if (auto node = t.at_path("google.use_api")) {
      auto v = node.value<bool>();
      if (!v) return bad("google.use_api", "true or false");
      c.google.use_api = *v;
    }
    if (t.at_path("passes.web_service_url")) c.passes.web_service_url_configured = true;
    for (auto r : {str("apns.url", c.apns.url), str("apns.ca_file", c.apns.ca_file)})
      if (!r) return std::unexpected(r.error());
    if (auto node = t.at_path("apns.enabled")) {
      auto v = node.value<bool>();
      if (!v) return bad("apns.enabled", "true or false");
      c.apns.enabled = *v;
    }
    for (auto [key, lo, hi, out] : {std::tuple{"apns.max_in_flight", 1, 10000, &c.apns.max_in_flight},
                                    std::tuple{"apns.poll_ms", 50, 60000, &c.apns.poll_ms},
                                    std::tuple{"apns.journal_batch", 1, 100000, &c.apns.journal_batch}})
      if (auto node = t.at_path(key)) {
        auto v = node.value<int64_t>();
        if (!v || *v < lo || *v > hi)
          return bad(key,
                     ("a whole number from " + std::to_string(lo) + " to " + std::to_string(hi)).c_str());
        *out = static_cast<int>(*v);
      }
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
  if (const char* url = std::getenv("LK_WEB_SERVICE_URL")) {
    c.passes.web_service_url = url;
    c.passes.web_service_url_configured = true;
  }
  if (const char* v = std::getenv("LK_APNS_URL"); v && *v) c.apns.url = v;
  if (const char* v = std::getenv("LK_APNS_CA_FILE"); v && *v) c.apns.ca_file = v;
  if (const char* v = std::getenv("LK_APNS_ENABLED"); v && *v) {
    std::string_view s = v;
    if (s == "1" || s == "true")
      c.apns.enabled = true;
    else if (s == "0" || s == "false")
      c.apns.enabled = false;
    else
      return Fail(Code::kInvalidArgument,
                  "LK_APNS_ENABLED: '" + std::string(s) + "' must be 1, true, 0 or false");
  }
  if (auto r = GoogleFromEnvironment(c); !r) return std::unexpected(r.error());
  if (const char* v = std::getenv("LK_PUBLIC_URL"); v && *v) c.mail.public_url = v;
  if (const char* v = std::getenv("LK_SMTP_URL"); v && *v) c.mail.smtp.url = v;
  if (const char* v = std::getenv("LK_SMTP_USER"); v && *v) c.mail.smtp.username = v;
  if (const char* v = std::getenv("LK_SMTP_FROM"); v && *v) c.mail.from = v;
  if (const char* v = std::getenv(smtp_password_env.c_str())) c.mail.smtp.password = v;
  if (c.passes.templates_dir.empty()) c.passes.templates_dir = LK_DEFAULT_TEMPLATES_DIR;
  if (!data_dir_flag.empty()) c.data_dir = data_dir_flag;
  if (c.keys.dir.empty()) c.keys.dir = c.data_dir / "keys";
  return c;
}

}  // namespace lk::app
