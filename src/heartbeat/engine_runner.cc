#include "heartbeat/engine_runner.h"

#include <algorithm>

namespace hb::heartbeat {

EngineRunner::EngineRunner(HeartbeatEngine& engine, absl::Duration min_period)
    : engine_(engine), min_period_(min_period) {
  engine_.SetWakeHook([this] { Wake(); });
  thread_ = std::thread([this] { Loop(); });
}

EngineRunner::~EngineRunner() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    woken_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void EngineRunner::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void EngineRunner::Loop() {
  while (true) {
    absl::Time ran = absl::Now();
    absl::Time next = engine_.RunDue();
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    // Sleep until `next` (at most a second, as a safety net) unless woken.
    absl::Time deadline = std::clamp(next, ran + min_period_, ran + absl::Seconds(1));
    mu_.AwaitWithDeadline(absl::Condition(&woken_), deadline);
    woken_ = false;
    if (stop_) return;
  }
}

bool EngineRunner::Shutdown(bool revoke, absl::Duration timeout) {
  engine_.BeginShutdown(revoke);
  absl::Time deadline = absl::Now() + timeout;
  bool drained = false;
  while (!(drained = engine_.Drained()) && absl::Now() < deadline) {
    Wake();
    absl::SleepFor(absl::Milliseconds(10));
  }
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    woken_ = true;
  }
  if (thread_.joinable()) thread_.join();
  return drained;
}

}  // namespace hb::heartbeat
