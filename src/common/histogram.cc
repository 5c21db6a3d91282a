#include "common/histogram.h"

#include <algorithm>

namespace hb {

int LatencyHistogram::BucketOf(int64_t micros) {
  if (micros < kSubBuckets) return static_cast<int>(std::max<int64_t>(micros, 0));
  int power = 63 - __builtin_clzll(static_cast<uint64_t>(micros));  // >= 4
  int shift = power - 4;                                            // keep 4 mantissa bits
  int sub = static_cast<int>((micros >> shift) & (kSubBuckets - 1));
  int bucket = (power - 3) * kSubBuckets + sub;
  return std::min(bucket, kBuckets - 1);
}

int64_t LatencyHistogram::UpperBoundMicros(int bucket) {
  if (bucket < kSubBuckets) return bucket;
  int power = bucket / kSubBuckets + 3;
  int sub = bucket % kSubBuckets;
  int shift = power - 4;
  return ((static_cast<int64_t>(kSubBuckets + sub) + 1) << shift) - 1;
}

void LatencyHistogram::Record(absl::Duration d) {
  int64_t micros = absl::ToInt64Microseconds(d);
  counts_[BucketOf(micros)].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(std::max<int64_t>(micros, 0), std::memory_order_relaxed);
  int64_t seen = max_micros_.load(std::memory_order_relaxed);
  while (micros > seen && !max_micros_.compare_exchange_weak(seen, micros)) {
  }
}

uint64_t LatencyHistogram::Count() const {
  uint64_t total = 0;
  for (const auto& c : counts_) total += c.load(std::memory_order_relaxed);
  return total;
}

absl::Duration LatencyHistogram::Percentile(double q) const {
  uint64_t total = Count();
  if (total == 0) return absl::ZeroDuration();
  auto rank = static_cast<uint64_t>(q * static_cast<double>(total));
  if (rank >= total) rank = total - 1;
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts_[b].load(std::memory_order_relaxed);
    if (seen > rank) return absl::Microseconds(std::min(UpperBoundMicros(b), max_micros_.load()));
  }
  return Max();
}

absl::Duration LatencyHistogram::Max() const { return absl::Microseconds(max_micros_.load()); }

absl::Duration LatencyHistogram::Sum() const { return absl::Microseconds(sum_micros_.load()); }

uint64_t LatencyHistogram::CountAtOrBelow(absl::Duration bound) const {
  int64_t micros = absl::ToInt64Microseconds(bound);
  uint64_t total = 0;
  for (int b = 0; b < kBuckets && UpperBoundMicros(b) <= micros; ++b) {
    total += counts_[b].load(std::memory_order_relaxed);
  }
  return total;
}

void LatencyHistogram::Reset() {
  for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
  max_micros_.store(0);
  sum_micros_.store(0);
}

}  // namespace hb
