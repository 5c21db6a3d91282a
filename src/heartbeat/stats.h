// Counters and histograms the engine updates as it works; read by the benchmark, the
// shutdown summary and (later) the metrics endpoint. Lock-free and thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"
#include "common/histogram.h"

namespace hb::heartbeat {

struct EngineStats {
  std::atomic<uint64_t> beats_ok{0};         // successful health-key puts
  std::atomic<uint64_t> beats_failed{0};     // puts that failed (not back-pressure, not NOSPACE)
  std::atomic<uint64_t> beats_throttled{0};  // puts etcd refused with "too many requests"
  std::atomic<uint64_t> beats_skipped{0};    // beats dropped for being a whole interval late
  std::atomic<uint64_t> beats_no_space{0};   // puts refused by etcd's NOSPACE alarm
  std::atomic<uint64_t> keepalives_sent{0};
  std::atomic<uint64_t> keepalives_answered{0};
  std::atomic<uint64_t> leases_granted{0};
  std::atomic<uint64_t> grant_failures{0};
  std::atomic<uint64_t> leases_lost{0};
  std::atomic<uint64_t> leases_adopted{0};
  std::atomic<uint64_t> leases_revoked{0};
  LatencyHistogram put_latency;        // put sent -> answered
  LatencyHistogram keepalive_latency;  // keep-alive sent -> answered
  LatencyHistogram grant_latency;
  LatencyHistogram beat_lateness;  // put sent - scheduled time
};

// Values computed on demand from the engine's state.
struct EngineGauges {
  int64_t capabilities = 0;
  int64_t leases_held = 0;  // etcd leases held (shared lease mode: the shared leases)
  int64_t keys_held = 0;    // capabilities holding a lease for their key (own or shared)
  int64_t in_flight = 0;
  int64_t waiting_for_slot = 0;
  absl::Duration lag;  // how late the most overdue unsent beat is
  bool falling_behind = false;
  bool keepalives_congested = false;  // routine puts held back for keep-alives
  absl::Duration keepalive_latency;   // slowest answer in the last batch
  bool keepalive_stream_up = false;
  bool etcd_no_space = false;  // the last put failed on etcd's NOSPACE alarm
};

}  // namespace hb::heartbeat
