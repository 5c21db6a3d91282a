// LatencyHistogram: a lock-free, fixed-memory histogram of durations from 1 us to ~30 min
// with about 6% relative precision (16 sub-buckets per power of two), for the p50/p99
// lateness and latency figures the benchmark and metrics report.
//
// Record() is wait-free and may be called from any thread; Percentile() reads a
// consistent-enough snapshot (counts recorded concurrently may or may not be included).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace hb {

class LatencyHistogram {
 public:
  static constexpr int kSubBuckets = 16;
  static constexpr int kPowers = 28;  // up to 2^31 us
  static constexpr int kBuckets = kPowers * kSubBuckets;

  void Record(absl::Duration d);
  uint64_t Count() const;
  // The value below which a fraction `q` (0..1) of recorded samples fall; zero when empty.
  absl::Duration Percentile(double q) const;
  absl::Duration Max() const;
  absl::Duration Sum() const;
  // Samples at or below `bound` (to the histogram's precision): Prometheus buckets.
  uint64_t CountAtOrBelow(absl::Duration bound) const;
  void Reset();

 private:
  static int BucketOf(int64_t micros);
  static int64_t UpperBoundMicros(int bucket);

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<int64_t> max_micros_{0};
  std::atomic<int64_t> sum_micros_{0};
};

}  // namespace hb
