#pragma once
// Shared test helpers: per-test temporary directories, running the real binary and other
// programs, and where the test inputs live.
#include <filesystem>
#include <string>
#include <vector>

namespace lk::testing {

// A fresh directory under $TMPDIR, removed when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs argv[0] with arguments (no shell), feeding `input` on stdin; captures both streams.
RunResult RunProgram(const std::vector<std::string>& argv, const std::string& input = "");
// The lerarenkaart binary under test ($LK_BINARY, set by ctest).
std::string Binary();
// The source tree ($LK_SOURCE_DIR, set by ctest).
std::filesystem::path SourceDir();
// Writes `content` to `path`, creating parent directories.
void WriteText(const std::filesystem::path& path, const std::string& content);

}  // namespace lk::testing
