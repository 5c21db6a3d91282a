// Counters and histograms of the Checker, read by the metrics endpoint and the benchmark.
// Lock-free and thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "check/check_spec.h"
#include "common/histogram.h"

namespace hb::check {

constexpr int kCheckKinds = 5;  // CheckKind values

struct CheckStats {
  // By kind (index: static_cast<int>(CheckKind)).
  std::array<std::atomic<uint64_t>, kCheckKinds> passed{};
  std::array<std::atomic<uint64_t>, kCheckKinds> failed{};
  std::array<LatencyHistogram, kCheckKinds> latency;
  std::atomic<uint64_t> transitions{0};
  std::atomic<uint64_t> delayed{0};  // probes that waited for a free in-flight slot
};

// Capabilities by check state, computed on demand.
struct CheckGauges {
  int64_t checked = 0;  // capabilities with a probe (kind other than none)
  int64_t pending = 0;
  int64_t passing = 0;
  int64_t failing = 0;
  int64_t flapping = 0;
  int64_t deregistered = 0;
  int64_t in_flight = 0;
  int64_t waiting = 0;  // due, waiting for an in-flight slot
};

}  // namespace hb::check
