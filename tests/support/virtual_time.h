// Drives a HeartbeatEngine and a FakeEtcd on a FakeClock: the unit tests' event loop (the
// engine does not wait; the test calls RunDue()). Threads that sleep on the clock are
// driven by ClockDriver (clock_driver.h).
#pragma once

#include "absl/time/time.h"
#include "common/clock.h"
#include "etcd/fake_etcd.h"
#include "heartbeat/engine.h"

namespace hb::testing {

// Runs the engine and delivers fake etcd answers until nothing more happens at the
// current virtual instant.
inline void Settle(etcd::FakeEtcd& etcd, heartbeat::HeartbeatEngine& engine) {
  for (int i = 0; i < 1000; ++i) {
    engine.RunDue();
    if (etcd.Deliver() == 0) {
      engine.RunDue();
      if (etcd.Deliver() == 0) return;
    }
  }
}

// Advances virtual time by `total` in `step`s, settling at every step.
inline void RunFor(FakeClock& clock, etcd::FakeEtcd& etcd, heartbeat::HeartbeatEngine& engine,
                   absl::Duration total, absl::Duration step = absl::Milliseconds(10)) {
  absl::Time end = clock.Now() + total;
  Settle(etcd, engine);
  while (clock.Now() < end) {
    clock.Advance(step);
    Settle(etcd, engine);
  }
}

}  // namespace hb::testing
