#include "common/token_bucket.h"

#include <algorithm>

namespace hb {

TokenBucket::TokenBucket(Clock& clock, double qps, int burst)
    : clock_(clock), qps_(qps), burst_(std::max(1, burst)), tokens_(burst_), last_(clock.Now()) {}

void TokenBucket::RefillLocked(absl::Time now) {
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * qps_);
    last_ = now;
  }
}

absl::Duration TokenBucket::Reserve() {
  absl::MutexLock lock(&mu_);
  ++stats_.granted;
  if (unlimited()) return absl::ZeroDuration();
  RefillLocked(clock_.Now());
  tokens_ -= 1;
  if (tokens_ >= 0) return absl::ZeroDuration();
  absl::Duration wait = absl::Seconds(-tokens_ / qps_);
  ++stats_.delayed;
  stats_.waited += wait;
  return wait;
}

bool TokenBucket::Wait(const CancelToken& cancel) {
  absl::Duration wait = Reserve();
  if (wait <= absl::ZeroDuration()) return !cancel.IsCancelled();
  return clock_.SleepFor(wait, cancel);
}

bool TokenBucket::TryTake() {
  absl::MutexLock lock(&mu_);
  if (!unlimited()) {
    RefillLocked(clock_.Now());
    if (tokens_ < 1) {
      ++stats_.refused;
      return false;
    }
    tokens_ -= 1;
  }
  ++stats_.granted;
  return true;
}

TokenBucket::Stats TokenBucket::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace hb
