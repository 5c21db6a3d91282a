// Checker: runs the health checks of many capabilities on a few threads.
//
// Each capability (Upsert) has a CheckSpec and a CheckState (check_state.h). The checker
// starts a probe when one is due, through the Prober registered for the spec's kind, and
// applies its result when it arrives: probes are asynchronous, so one thread schedules
// thousands of them. Load shaping: the first probe comes within a second of the initial
// delay (a quick verdict), the second is placed at random within the following period, and
// later ones keep that phase, so a fleet started together spreads over the period. A
// failed probe is not retried before its next period, so a host that goes away costs one
// probe per capability per period, never a storm. At most `max_in_flight` probes run at
// once; due ones wait in FIFO order.
//
// Reports: after every result the report hook gets the capability's CheckReport (with
// `transition` set when its verdict changed). Before a capability's first result the seed
// hook may return the state a previous process left (check_state.h: CheckSeed).
//
// Time: scheduling runs on the injected Clock; RunDue() does the work due at Now() and says
// when it next has work. Start() runs it on a thread of its own; tests call it directly on a
// FakeClock with fake probers.
//
// Thread-safety: all public methods are thread-safe; hooks are called without the
// checker's lock held, from the scheduling thread or a prober's. Lifetime: stop the thread
// and destroy the probers (which abandon their probes) before the checker.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "check/check_spec.h"
#include "check/check_state.h"
#include "check/check_stats.h"
#include "check/prober.h"
#include "common/clock.h"

namespace hb::check {

struct CheckerOptions {
  int max_in_flight = 256;
  uint64_t seed = 0;  // phase jitter seed; 0 picks a random one
  // Start()'s thread wakes at most this often for due probes (they start in batches, each
  // at most this late); new capabilities and freed slots wake it at once.
  absl::Duration batch_window = absl::Milliseconds(50);
};

class Checker {
 public:
  Checker(Clock& clock, CheckerOptions options);
  ~Checker();  // Stop()
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  // Set before the first Upsert() and never changed.
  void SetProber(CheckKind kind, Prober* prober);
  using ReportHook = std::function<void(const std::string& id, const CheckReport& report)>;
  void SetReportHook(ReportHook hook);
  using SeedHook = std::function<std::optional<CheckSeed>(const std::string& id)>;
  void SetSeedHook(SeedHook hook);

  // Starts checking `id`, or changes its spec (the state carries over unless the kind
  // changed). A spec of kind kNone, or one without a prober, is not checked; Report() of it
  // then says why.
  void Upsert(const std::string& id, const CheckSpec& spec);
  void Remove(const std::string& id);
  std::optional<CheckReport> Report(const std::string& id) const;

  // Starts the probes due at clock.Now(); returns when the next one is due.
  absl::Time RunDue();
  // Runs RunDue() on a thread of its own until Stop().
  void Start();
  void Stop();

  const CheckStats& stats() const { return stats_; }
  // Starts the latency histograms afresh (benchmarks measure after warm-up).
  void ResetHistograms();
  CheckGauges Gauges() const;

 private:
  class Impl;
  CheckStats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hb::check
