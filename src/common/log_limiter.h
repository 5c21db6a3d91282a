// LogLimiter: caps how many lines of one kind are logged per window, so that an event
// hitting 10,000 capabilities at once (etcd wiped, a network cut) gives a few example
// lines and a count instead of a flood. Not thread-safe; guard it with its user's lock.
#pragma once

#include <cstdint>

#include "absl/time/time.h"

namespace hb {

class LogLimiter {
 public:
  LogLimiter(int lines_per_window, absl::Duration window)
      : limit_(lines_per_window), window_(window) {}

  // Whether a line may be logged at `now`. When a new window starts and lines were
  // suppressed in the previous one, `*suppressed` gets their number (else 0).
  bool Allow(absl::Time now, int64_t* suppressed) {
    *suppressed = 0;
    if (now - window_start_ >= window_) {
      *suppressed = dropped_;
      dropped_ = 0;
      used_ = 0;
      window_start_ = now;
    }
    if (used_ < limit_) {
      ++used_;
      return true;
    }
    ++dropped_;
    return false;
  }

 private:
  const int limit_;
  const absl::Duration window_;
  absl::Time window_start_ = absl::InfinitePast();
  int used_ = 0;
  int64_t dropped_ = 0;
};

}  // namespace hb
