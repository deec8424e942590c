#pragma once
// One progress bar for the long CLI commands (imports, Google sync): one line on stderr,
// "<label> [#####     ] done/total <unit>", drawn only when stderr is a terminal, at most ten
// times a second (the first and the last step always). Not thread-safe: one caller at a time.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace lk::app {

class ProgressBar {
 public:
  // `label` may be empty (no prefix); `unit` names what is counted ("rows", "cards").
  ProgressBar(std::string label, std::string unit);
  ~ProgressBar() { Clear(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void Update(uint64_t done, uint64_t total);
  // Erases the bar so that the next line starts clean.
  void Clear();
  // Update as a callback; empty when stderr is not a terminal. REQUIRES: this outlives it.
  std::function<void(uint64_t, uint64_t)> callback();

 private:
  std::string label_, unit_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace lk::app
