#include "tests/passgen/pkpass_check.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tests/testing/testing.h"

namespace lk::passgen::check {
namespace fs = std::filesystem;

std::string Unzip(const fs::path& pkpass, const fs::path& dir) {
  fs::create_directories(dir);
  auto r = testing::RunProgram({"unzip", "-q", "-o", pkpass.string(), "-d", dir.string()});
  return r.exit_code == 0 ? "" : "unzip failed (" + std::to_string(r.exit_code) + "): " + r.err + r.out;
}

std::vector<std::string> Entries(const fs::path& pkpass) {
  auto r = testing::RunProgram({"unzip", "-Z1", pkpass.string()});
  std::vector<std::string> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

std::string VerifyUnpacked(const fs::path& dir, const fs::path& root_ca) {
  std::set<std::string> files;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files.insert(fs::relative(e.path(), dir).generic_string());
  if (!files.contains("manifest.json") || !files.contains("signature") || !files.contains("pass.json"))
    return "pass.json, manifest.json or signature missing";
  files.erase("manifest.json");
  files.erase("signature");
  auto manifest = nlohmann::json::parse(testing::RunProgram({"cat", (dir / "manifest.json").string()}).out,
                                        nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object()) return "manifest.json is not a JSON object";
  std::set<std::string> listed;
  for (auto& [k, v] : manifest.items()) listed.insert(k);
  if (listed != files) return "manifest.json does not list exactly the files of the pass";
  std::vector<std::string> argv = {"sha1sum"};
  for (const auto& f : files) argv.push_back((dir / f).string());
  auto sums = testing::RunProgram(argv);
  if (sums.exit_code != 0) return "sha1sum failed: " + sums.err;
  std::istringstream in(sums.out);
  size_t checked = 0;
  for (std::string hex, path; in >> hex >> path; ++checked) {
    std::string rel = fs::relative(path, dir).generic_string();
    if (!manifest[rel].is_string() || manifest[rel].get<std::string>() != hex)
      return "hash of " + rel + " differs from sha1sum " + hex;
  }
  if (checked != files.size()) return "sha1sum did not hash every file";
  auto v = testing::RunProgram({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-content",
                                (dir / "manifest.json").string(), "-in", (dir / "signature").string(),
                                "-CAfile", root_ca.string(), "-out", "/dev/null"});
  if (v.exit_code != 0) return "openssl cms -verify failed: " + v.err;
  return "";
}

std::string VerifyPkpass(const fs::path& pkpass, const fs::path& scratch, const fs::path& root_ca) {
  static int n = 0;
  fs::path dir = scratch / ("unpacked-" + std::to_string(++n));
  if (auto e = Unzip(pkpass, dir); !e.empty()) return e;
  return VerifyUnpacked(dir, root_ca);
}

}  // namespace lk::passgen::check
