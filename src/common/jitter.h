// Jitter: the random spread applied to renewals, first grants and backoff delays so that
// thousands of heartbeats never fire in lock-step.
//
// Seeded explicitly so that tests are reproducible. Thread-safe.
#pragma once

#include <cstdint>
#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace hb {

class Jitter {
 public:
  explicit Jitter(uint64_t seed);
  // A seed from std::random_device, for production use.
  static uint64_t RandomSeed();

  // Uniform in [0, 1).
  double Uniform();
  // Uniform in [0, max).
  absl::Duration UpTo(absl::Duration max);
  // `base` scaled by a factor uniform in [1 - fraction, 1 + fraction].
  absl::Duration Spread(absl::Duration base, double fraction);

 private:
  absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb
