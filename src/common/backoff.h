// Backoff: capped exponential delays with jitter, for retrying anything that failed
// (an unreachable etcd, a refused grant, a broken stream).
//
// Delay n (0-based) is min(max, initial * multiplier^n), reduced by a random fraction of up
// to `jitter` so that retries of many clients spread out. Never exceeds `max`.
// Not thread-safe: each retrying thing owns its Backoff.
#pragma once

#include "absl/time/time.h"
#include "common/jitter.h"

namespace hb {

struct BackoffPolicy {
  absl::Duration initial = absl::Milliseconds(100);
  absl::Duration max = absl::Seconds(5);
  double multiplier = 2.0;
  double jitter = 0.5;  // fraction of the delay that may be removed at random, in [0, 1]
};

// Delay number `failures` (0-based) of `policy`, jittered; what Backoff::Next() returns for
// its n-th call. For state kept elsewhere (a counter per capability).
absl::Duration BackoffDelay(const BackoffPolicy& policy, int failures, Jitter& jitter);

class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy = {});
  // The delay before the next attempt; each call moves one step up.
  absl::Duration Next(Jitter& jitter);
  // Back to the initial delay after a success.
  void Reset();
  int failures() const { return failures_; }

 private:
  BackoffPolicy policy_;
  int failures_ = 0;
};

}  // namespace hb
