#include "common/jitter.h"

namespace hb {

Jitter::Jitter(uint64_t seed) : rng_(seed) {}

uint64_t Jitter::RandomSeed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

double Jitter::Uniform() {
  absl::MutexLock lock(&mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

absl::Duration Jitter::UpTo(absl::Duration max) {
  if (max <= absl::ZeroDuration()) return absl::ZeroDuration();
  return max * Uniform();
}

absl::Duration Jitter::Spread(absl::Duration base, double fraction) {
  return base * (1.0 + fraction * (2.0 * Uniform() - 1.0));
}

}  // namespace hb
