#pragma once
// Runtime configuration of the lerarenkaart binary: defaults, then a TOML file, then the
// environment, then command-line flags. Private to app/.
#include <filesystem>
#include <string>

#include "base/base.h"
#include "mail/mail.h"
#include "passgen/google_wallet.h"
#include "signing/signing.h"

namespace lk::app {

// Apple Wallet pass building ([passes] in the TOML file).
struct PassConfig {
  // Base URL of the PassKit web service in every pass; "" leaves it out. $LK_WEB_SERVICE_URL.
  // `serve` without one configured uses its public URL + "/wallet/" (when that is https://, or
  // http:// to this machine) and serves Apple's pass web service there (docs/wallet-service.md).
  std::string web_service_url = "https://lerarenkaart.be/wallet/";
  bool web_service_url_configured = false;  // set by the file or $LK_WEB_SERVICE_URL
  // Folder holding one template folder per card year (<dir>/2026/template.json). Default: the
  // templates/ folder of the source tree the binary was built from. $LK_TEMPLATES_DIR.
  std::filesystem::path templates_dir;
};

// Google Wallet ([google] in the TOML file; every command that talks to Google reads it).
struct GoogleConfig {
  // issuer_id ($LK_GOOGLE_ISSUER_ID), class_prefix ($LK_GOOGLE_CLASS_PREFIX), origins
  // ($LK_GOOGLE_ORIGINS, comma-separated), token_url ($LK_GOOGLE_TOKEN_URL), api_url
  // ($LK_GOOGLE_API_URL), connect_timeout_seconds, timeout_seconds, max_attempts. The service
  // account key file is [google] service_account_key ($LK_GOOGLE_SERVICE_ACCOUNT) =
  // keys.google_service_account.
  passgen::GoogleWalletConfig wallet;
  // `serve` creates objects through the REST API before redirecting to a save link and sets them
  // INACTIVE on revocation. Default false. [google] use_api, $LK_GOOGLE_USE_API (1/true or 0/false).
  bool use_api = false;
};

// Pushes to Apple Wallet ([apns]; docs/wallet-service.md). `serve` pushes every pass change to
// the devices registered for it, authenticated with the pass certificate.
struct ApnsSettings {
  bool enabled = true;                             // [apns] enabled, $LK_APNS_ENABLED (1/true, 0/false)
  std::string url = "https://api.push.apple.com";  // [apns] url, $LK_APNS_URL
  std::string ca_file;                             // [apns] ca_file, $LK_APNS_CA_FILE; "" = the system's CAs
  int max_in_flight = 500;                         // [apns] max_in_flight (1-10000): streams at once
  int poll_ms = 1000;                              // [apns] poll_ms (50-60000): how often the queue is read
  // [apns] journal_batch (1-100000): delivered devices journalled per ledger write. Larger: fewer
  // (synchronous) ledger writes during a push; at most this + max_in_flight devices can get a
  // change twice after a crash.
  int journal_batch = 1000;
};

// The claim mail of `claims send` ([smtp] in the TOML file; docs/mail.md).
struct MailConfig {
  // url ($LK_SMTP_URL), starttls "required" (default) | "optional" | "off", user ($LK_SMTP_USER),
  // ca_file, helo_host, rate (mails per second, default 20). The password is never read from the
  // file: only from the variable [smtp] password_env names (default LK_SMTP_PASSWORD).
  mail::SmtpConfig smtp;
  std::string from;                        // [smtp] from, $LK_SMTP_FROM: the sender's address
  std::string from_name = "Lerarenkaart";  // [smtp] from_name
  std::string contact;                     // [smtp] contact: who to ask; "" = from
  std::string public_url;                  // [server] public_url, $LK_PUBLIC_URL: the site in the link
};

struct Config {
  std::filesystem::path data_dir = "var";  // --data-dir, $LERARENKAART_HOME
  signing::KeyConfig keys;                 // keys.dir defaults to <data_dir>/keys
  signing::TokenPolicy tokens;
  std::string ledger_url;  // [ledger] url, $LK_LEDGER_URL; "" = <data_dir>/ledger.sqlite
  PassConfig passes;
  GoogleConfig google;
  ApnsSettings apns;
  MailConfig mail;
};

// Loads `config_file` (may be empty: defaults only) and applies environment overrides:
// LERARENKAART_HOME, LK_ISSUER, LK_PASS_PASSWORD, LK_LEDGER_URL, LK_TEMPLATES_DIR,
// LK_WEB_SERVICE_URL, the LK_GOOGLE_* and LK_SMTP_* variables above and LK_PUBLIC_URL. Errors name the file
// (or variable) and the key.
Result<Config> LoadConfig(const std::filesystem::path& config_file, const std::string& data_dir_flag);

}  // namespace lk::app
