// What a load driver reports about its own process: peak resident memory, CPU seconds and wall
// seconds since a point. Plain functions of getrusage(2) and the steady clock; thread-safe.
#pragma once

#include <sys/resource.h>

#include <chrono>

namespace lk::bench {

// The process's peak resident set size so far, in KB (getrusage's ru_maxrss).
inline long PeakRssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// The process's user plus system CPU time so far, in seconds.
inline double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Wall seconds from `t0` to now on the steady clock.
inline double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace lk::bench
