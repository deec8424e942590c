#pragma once
// Checks a .pkpass the way a device would, with tools that are not ours: unzip, sha1sum and
// openssl cms. Private to the passgen tests.
#include <filesystem>
#include <string>
#include <vector>

namespace lk::passgen::check {

// Unzips `pkpass` into `dir` with the unzip tool; returns unzip's error text, or "" on success.
std::string Unzip(const std::filesystem::path& pkpass, const std::filesystem::path& dir);
// The archive's entry names, in order (unzip -Z1).
std::vector<std::string> Entries(const std::filesystem::path& pkpass);
// Verifies an unpacked pass in `dir`: every file but manifest.json and signature is in the
// manifest and vice versa, every hash equals sha1sum's, and `openssl cms -verify -binary -inform
// DER` of the manifest with `root_ca` succeeds. Returns "" when all holds, else what failed.
std::string VerifyUnpacked(const std::filesystem::path& dir, const std::filesystem::path& root_ca);
// Unzip + VerifyUnpacked into a fresh subdirectory of `scratch`.
std::string VerifyPkpass(const std::filesystem::path& pkpass, const std::filesystem::path& scratch,
                         const std::filesystem::path& root_ca);

}  // namespace lk::passgen::check
