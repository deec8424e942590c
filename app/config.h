#pragma once
// Runtime configuration of the lerarenkaart binary: defaults, then a TOML file, then the
// environment, then command-line flags. Private to app/.
#include <filesystem>
#include <string>

#include "base/base.h"
#include "signing/signing.h"

namespace lk::app {

struct Config {
  std::filesystem::path data_dir = "var";  // --data-dir, $LERARENKAART_HOME
  signing::KeyConfig keys;                 // keys.dir defaults to <data_dir>/keys
  signing::TokenPolicy tokens;
  std::string ledger_url;                  // [ledger] url, $LK_LEDGER_URL; "" = <data_dir>/ledger.sqlite
};

// Loads `config_file` (may be empty: defaults only) and applies environment overrides:
// LERARENKAART_HOME, LK_ISSUER, LK_PASS_PASSWORD, LK_LEDGER_URL. Errors name the file and the key.
Result<Config> LoadConfig(const std::filesystem::path& config_file, const std::string& data_dir_flag);

}  // namespace lk::app
