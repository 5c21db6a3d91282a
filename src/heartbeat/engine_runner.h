// EngineRunner: drives a HeartbeatEngine with one thread.
//
// The thread calls engine.RunDue(), sleeps on the Clock until the time it returns or until
// the engine's wake hook fires, and repeats. Timed wake-ups are at least `min_period` apart
// (less when a capability's interval is shorter than four times that: a quarter of the
// shortest interval), so that a large fleet's beats are handled in batches (each beat at
// most that late, the puts of a batch share etcd transactions and its keep-alives one send)
// rather than with one thread wake-up per beat: a 5 ms window costs about five times the CPU
// of a 100 ms one, a 250 ms one about 70 % of it (1,000 beats/s).
// Urgent work (first puts, re-grants) comes through the wake hook and is not delayed.
// Shutdown() asks the engine to stop (revoking leases or not) and keeps driving it until
// it is drained or the timeout passes. Thread-safe; the engine and the clock must outlive
// the runner.
#pragma once

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "heartbeat/engine.h"

namespace hb::heartbeat {

class EngineRunner {
 public:
  // Installs the engine's wake hook and starts the thread.
  EngineRunner(HeartbeatEngine& engine, Clock& clock,
               absl::Duration min_period = absl::Milliseconds(200));
  ~EngineRunner();  // stops without draining if Shutdown() was not called

  // Returns true when the engine drained (every revoke answered) before `timeout`.
  bool Shutdown(bool revoke, absl::Duration timeout);
  // Stops the thread without draining. The wake hook stays valid until destruction, so an
  // etcd client destroyed after Stop() may still deliver its last answers to the engine.
  void Stop();

 private:
  void Loop();

  HeartbeatEngine& engine_;
  Clock& clock_;
  const absl::Duration min_period_;
  Waiter wake_;  // the engine's wake hook, Stop() and Shutdown() notify it
  Waiter done_;  // the loop notifies it when the engine has drained
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;  // Shutdown() waits for Drained()
  bool drained_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace hb::heartbeat
