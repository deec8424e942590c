// The APNs client configuration of a load driver for the stand-in that tests/bench/stand_ins.sh
// starts (apns_stand_in_start: its URL, CA and the client certificate and key it made). Plain
// function; reads the two PEM files.
#pragma once

#include <string>

#include "base/base.h"
#include "push/push.h"

namespace lk::bench {

// Topic pass.be.lerarenkaart.test, the service at `url` trusted through `ca_file`, and the client
// identity read from `cert_pem_file` and `key_pem_file`; the reading error when either cannot be read.
inline Result<push::ApnsConfig> StandInApnsConfig(const std::string& url, const std::string& ca_file,
                                                  const std::string& cert_pem_file,
                                                  const std::string& key_pem_file) {
  push::ApnsConfig config;
  config.base_url = url;
  config.topic = "pass.be.lerarenkaart.test";
  config.ca_file = ca_file;
  auto cert = ReadFile(cert_pem_file);
  if (!cert) return std::unexpected(cert.error());
  auto key = ReadFile(key_pem_file);
  if (!key) return std::unexpected(key.error());
  config.certificate_pem = *cert;
  config.private_key_pem = *key;
  return config;
}

}  // namespace lk::bench
