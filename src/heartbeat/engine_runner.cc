#include "heartbeat/engine_runner.h"

#include <algorithm>

namespace hb::heartbeat {

EngineRunner::EngineRunner(HeartbeatEngine& engine, Clock& clock, absl::Duration min_period)
    : engine_(engine), clock_(clock), min_period_(min_period), wake_(clock), done_(clock) {
  engine_.SetWakeHook([this] { wake_.NotifyAll(); });
  thread_ = std::thread([this] { Loop(); });
}

EngineRunner::~EngineRunner() { Stop(); }

void EngineRunner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  wake_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void EngineRunner::Loop() {
  while (true) {
    uint64_t epoch = wake_.Epoch();  // a wake-up during RunDue() is not lost
    absl::Time ran = clock_.Now();
    absl::Time next = engine_.RunDue();
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      if (draining_ && !drained_ && engine_.Drained()) {
        drained_ = true;
        done_.NotifyAll();
      }
    }
    // Sleep until `next` (at most a second, as a safety net) unless woken; the batching window
    // stays within a quarter of the shortest interval, so no beat is late by more than that.
    absl::Duration window = std::min(min_period_, engine_.ShortestInterval() / 4);
    wake_.WaitUntil(std::clamp(next, ran + window, ran + absl::Seconds(1)), epoch);
  }
}

bool EngineRunner::Shutdown(bool revoke, absl::Duration timeout) {
  engine_.BeginShutdown(revoke);  // wakes the loop through the engine's hook
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
  }
  wake_.NotifyAll();
  // The loop marks the engine drained after a RunDue(); the engine wakes it when its last
  // call in flight is answered.
  absl::Time deadline = clock_.Now() + timeout;
  bool drained = false;
  while (true) {
    uint64_t epoch;
    {
      absl::MutexLock lock(&mu_);
      drained = drained_;
      epoch = done_.Epoch();
    }
    if (drained || !done_.WaitUntil(deadline, epoch)) break;
  }
  Stop();
  return drained;
}

}  // namespace hb::heartbeat
