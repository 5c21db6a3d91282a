#include "common/backoff.h"

#include <algorithm>

namespace hb {

Backoff::Backoff(BackoffPolicy policy) : policy_(policy) {}

absl::Duration Backoff::Next(Jitter& jitter) {
  absl::Duration delay = policy_.initial;
  for (int i = 0; i < failures_ && delay < policy_.max; ++i) delay = delay * policy_.multiplier;
  delay = std::min(delay, policy_.max);
  ++failures_;
  return delay * (1.0 - policy_.jitter * jitter.Uniform());
}

void Backoff::Reset() { failures_ = 0; }

}  // namespace hb
