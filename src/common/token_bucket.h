// TokenBucket: a client-side request budget, `qps` per second on average with bursts of up
// to `burst` (client-go's flowcontrol.NewTokenBucketRateLimiter, the Kubernetes client's
// default QPS 20 / burst 30 in controller-runtime).
//
// Reserve() takes a token now and says how long the caller must wait before using it
// (zero while the bucket has tokens); reservations queue up fairly, in order. Wait()
// reserves and sleeps on the Clock, so a test drives it in virtual time. TryTake() takes
// a token only if one is free now (for best-effort work such as Events, which is dropped
// rather than delayed). qps <= 0 means unlimited. Thread-safe.
#pragma once

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/cancel.h"
#include "common/clock.h"

namespace hb {

class TokenBucket {
 public:
  TokenBucket(Clock& clock, double qps, int burst);

  absl::Duration Reserve();
  // Reserves and sleeps until the token may be used; false when cancelled meanwhile.
  bool Wait(const CancelToken& cancel);
  bool TryTake();

  struct Stats {
    int64_t granted = 0;    // tokens taken (Reserve, Wait, successful TryTake)
    int64_t delayed = 0;    // reservations that had to wait
    int64_t refused = 0;    // TryTake without a free token
    absl::Duration waited;  // total wait handed out
  };
  Stats stats() const;
  bool unlimited() const { return qps_ <= 0; }

 private:
  void RefillLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock& clock_;
  const double qps_;
  const double burst_;

  mutable absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);  // may go below zero: reservations not yet due
  absl::Time last_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb
