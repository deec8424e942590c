// The CLI's progress bar (progress.h).
#include "app/progress.h"

#include <unistd.h>

#include <cstdio>

namespace lk::app {

ProgressBar::ProgressBar(std::string label, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), tty_(isatty(2) == 1) {}

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (!tty_ || total == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done < total) return;
  last_ = now;
  drawn_ = true;
  constexpr uint64_t kWidth = 40;
  std::string bar(static_cast<size_t>(std::min(done, total) * kWidth / total), '#');
  bar.resize(kWidth, ' ');
  std::fprintf(stderr, "\r%s%s[%s] %llu/%llu %s", label_.c_str(), label_.empty() ? "" : " ", bar.c_str(),
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), unit_.c_str());
  std::fflush(stderr);
}

void ProgressBar::Clear() {
  if (drawn_) std::fprintf(stderr, "\r\033[K");
  drawn_ = false;
}

std::function<void(uint64_t, uint64_t)> ProgressBar::callback() {
  if (!tty_) return {};
  return [this](uint64_t done, uint64_t total) { Update(done, total); };
}

}  // namespace lk::app
