#pragma once
// Runtime configuration of the lerarenkaart binary: defaults, then a TOML file, then the
// environment, then command-line flags. Private to app/.
#include <filesystem>
#include <string>

#include "base/base.h"
#include "signing/signing.h"

namespace lk::app {

// Apple Wallet pass building ([passes] in the TOML file).
struct PassConfig {
  // Base URL of the PassKit web service in every pass; "" leaves it out. $LK_WEB_SERVICE_URL.
  std::string web_service_url = "https://lerarenkaart.be/wallet/";
  // Folder holding one template folder per card year (<dir>/2026/template.json). Default: the
  // templates/ folder of the source tree the binary was built from. $LK_TEMPLATES_DIR.
  std::filesystem::path templates_dir;
};

struct Config {
  std::filesystem::path data_dir = "var";  // --data-dir, $LERARENKAART_HOME
  signing::KeyConfig keys;                 // keys.dir defaults to <data_dir>/keys
  signing::TokenPolicy tokens;
  std::string ledger_url;                  // [ledger] url, $LK_LEDGER_URL; "" = <data_dir>/ledger.sqlite
  PassConfig passes;
};

// Loads `config_file` (may be empty: defaults only) and applies environment overrides:
// LERARENKAART_HOME, LK_ISSUER, LK_PASS_PASSWORD, LK_LEDGER_URL, LK_TEMPLATES_DIR,
// LK_WEB_SERVICE_URL. Errors name the file and the key.
Result<Config> LoadConfig(const std::filesystem::path& config_file, const std::string& data_dir_flag);

}  // namespace lk::app
