#include "common/backoff.h"

#include <algorithm>

namespace hb {

Backoff::Backoff(BackoffPolicy policy) : policy_(policy) {}

absl::Duration BackoffDelay(const BackoffPolicy& policy, int failures, Jitter& jitter) {
  absl::Duration delay = policy.initial;
  for (int i = 0; i < failures && delay < policy.max; ++i) delay = delay * policy.multiplier;
  delay = std::min(delay, policy.max);
  return delay * (1.0 - policy.jitter * jitter.Uniform());
}

absl::Duration Backoff::Next(Jitter& jitter) { return BackoffDelay(policy_, failures_++, jitter); }

void Backoff::Reset() { failures_ = 0; }

}  // namespace hb
