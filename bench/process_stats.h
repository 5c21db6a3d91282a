// The benchmarks' view of their own process: CPU time used and resident memory. Linux only
// (getrusage, /proc/self/status). Thread-safe.
#pragma once

#include <sys/resource.h>

#include <fstream>
#include <string>
#include <utility>

namespace hb::bench {

// User + system CPU seconds of the whole process so far.
inline double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Current and peak resident set size in MiB, from /proc/self/status.
inline std::pair<double, double> RssMiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  double rss = 0, peak = 0;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stod(line.substr(6)) / 1024.0;
    if (line.rfind("VmHWM:", 0) == 0) peak = std::stod(line.substr(6)) / 1024.0;
  }
  return {rss, peak};
}

}  // namespace hb::bench
