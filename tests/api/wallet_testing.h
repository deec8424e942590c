#pragma once
// What the wallet scenario tests check on every pass and push: a served pass unpacked and
// verified the way a careful device would (manifest hashes, CMS signature against the development
// root CA), and the pushes the APNs stand-in recorded for a device token. Used by
// WalletServiceTest and KdePassReaderTest.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/base.h"
#include "tests/api/service_harness.h"
#include "tests/testing/testing.h"

namespace lk::api::testing {

// Writes `pkpass` to DIR/NAME.pkpass, unzips it into DIR/NAME/ and expects: every manifest
// SHA-1 right, the CMS signature verifying against `root_ca` (`openssl cms -verify`), its signer
// written to DIR/NAME/signer.pem. Returns the parsed pass.json (an empty object if unreadable).
inline nlohmann::json UnpackVerifiedPass(const std::string& pkpass, const std::filesystem::path& dir,
                                         const std::string& name, const std::filesystem::path& root_ca) {
  using lk::testing::RunProgram;
  std::filesystem::path file = dir / (name + ".pkpass"), x = dir / name;
  lk::testing::WriteText(file, pkpass);
  auto unzip = RunProgram({"unzip", "-q", "-o", file.string(), "-d", x.string()});
  EXPECT_EQ(unzip.exit_code, 0) << unzip.err;
  auto cms =
      RunProgram({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", (x / "signature").string(),
                  "-content", (x / "manifest.json").string(), "-CAfile", root_ca.string(), "-purpose", "any",
                  "-signer", (x / "signer.pem").string(), "-out", "/dev/null"});
  EXPECT_EQ(cms.exit_code, 0) << cms.err;
  EXPECT_THAT(cms.err, ::testing::HasSubstr("Verification successful"));
  nlohmann::json manifest = nlohmann::json::parse(ReadAll(x / "manifest.json"), nullptr, false);
  EXPECT_TRUE(manifest.is_object());
  if (manifest.is_object()) {
    for (auto& [f, sha1] : manifest.items()) {
      EXPECT_EQ(HexEncode(Sha1(ReadAll(x / f))), sha1.get<std::string>()) << f;
    }
  }
  nlohmann::json pass = nlohmann::json::parse(ReadAll(x / "pass.json"), nullptr, false);
  EXPECT_TRUE(pass.is_object());
  return pass.is_object() ? pass : nlohmann::json::object();
}

// The requests the APNs stand-in logged (`log`, one JSON object a line) for device `token`,
// waiting up to `tries` x 0.1 s until there are `count`.
inline std::vector<nlohmann::json> PushesTo(const std::filesystem::path& log, const std::string& token,
                                            size_t count = 1, int tries = 200) {
  std::vector<nlohmann::json> found;
  for (int i = 0; i < tries; ++i) {
    found.clear();
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.value("path", "") == "/3/device/" + token) found.push_back(j);
    }
    if (found.size() >= count) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return found;
}

}  // namespace lk::api::testing
