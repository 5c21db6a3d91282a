// RetrySchedule: when a sink may try again after failed deliveries (capped exponential
// backoff from the last failure, common/backoff.h), and how often failures may be logged (5
// lines a minute). Not thread-safe: the sink's lock guards it.
#pragma once

#include <cstdint>

#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/jitter.h"
#include "common/log_limiter.h"

namespace hb::alert {

class RetrySchedule {
 public:
  explicit RetrySchedule(BackoffPolicy policy) : backoff_(policy), jitter_(0) {}

  // The earliest time of the next attempt (InfinitePast: at once).
  absl::Time next() const { return next_; }
  void Succeeded() {
    backoff_.Reset();
    next_ = absl::InfinitePast();
  }
  // Schedules the next attempt after a failure at `now`; returns the delay.
  absl::Duration Failed(absl::Time now) {
    const absl::Duration delay = backoff_.Next(jitter_);
    next_ = now + delay;
    return delay;
  }
  // Whether a failure line may be logged at `now`.
  bool MayLog(absl::Time now) {
    int64_t suppressed = 0;
    return log_limit_.Allow(now, &suppressed);
  }

 private:
  Backoff backoff_;
  Jitter jitter_;
  LogLimiter log_limit_{5, absl::Minutes(1)};
  absl::Time next_ = absl::InfinitePast();
};

}  // namespace hb::alert
