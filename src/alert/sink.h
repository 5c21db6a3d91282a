// Sink: where notifications go (Alertmanager, a generic webhook).
//
// Transition() and Storm() only queue (bounded, never waiting on the network) and call the
// wake hook; RunDue() does the sending that is due at `now`, blocking on at most one POST at
// a time (each bounded by the sink's timeout), and returns when it next has work
// (InfiniteFuture: nothing queued). One thread drives RunDue (alert/notifier.h's sink
// runner; tests on a FakeClock call it themselves). Thread-safety: Transition, Storm and
// stats from any thread; RunDue from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>

#include "absl/time/time.h"
#include "alert/transition.h"

namespace hb::alert {

struct SinkStats {
  uint64_t sent = 0;      // notifications (webhook) or alerts (Alertmanager) delivered
  uint64_t failed = 0;    // attempts that failed and will be retried
  uint64_t rejected = 0;  // notifications the receiver refused for good (4xx), not retried
  uint64_t dropped = 0;   // notifications given up because the queue was full
  int64_t queued = 0;     // waiting now
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual const char* name() const = 0;
  // Set once, before anything is queued.
  virtual void SetWakeHook(std::function<void()> wake) = 0;
  virtual void Transition(const alert::Transition& transition) = 0;
  virtual void Storm(const StormSummary& storm) = 0;
  virtual absl::Time RunDue(absl::Time now) = 0;
  virtual SinkStats stats() const = 0;
};

}  // namespace hb::alert
