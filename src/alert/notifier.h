// Notifier: turns heartbeat changes into notifications (Alertmanager, webhook), off the
// engine's threads.
//
// The engine's change hook calls Changed(identifier), which only records the identifier
// (a set: a capability changing ten times in a batch is read once). Every `batch` the
// notifier's thread reads those heartbeats (StatusSource, i.e. HeartbeatEngine::GetStatus;
// none: the capability was removed), feeds their levels to the TransitionTracker
// (alert/tracker.h: hold, storm guard) and hands the transitions that are due to every sink,
// each of which sends on a thread of its own. So a receiver that hangs delays only its own
// sink, and never a heartbeat. Storm starts and ends go to every sink as one summary.
// Each transition is logged (info) with its id; a storm start and end as warnings.
//
// Thread-safety: Changed() and stats() from any thread. Start() and Stop() from one thread;
// Stop() (or destruction) joins the threads, abandoning what is still queued. RunDue() is
// for tests on a FakeClock that do not Start() the threads.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "alert/sink.h"
#include "alert/tracker.h"
#include "common/clock.h"
#include "heartbeat/engine.h"

namespace hb::alert {

struct NotifierOptions {
  TrackerPolicy policy;
  absl::Duration batch = absl::Milliseconds(500);  // changes are read at most this often
  std::string run;  // prefix of every notification id; "" picks a random one per process
};

using StatusSource =
    std::function<std::optional<heartbeat::HeartbeatStatus>(const std::string& identifier)>;

struct NotifierStats {
  uint64_t transitions = 0;  // handed to the sinks
  uint64_t storms = 0;       // storms begun
  bool storm = false;
  int64_t held = 0;  // transitions waiting for their hold or for a storm to end
  int64_t failing = 0;
  int64_t total = 0;
  std::vector<std::pair<std::string, SinkStats>> sinks;  // by sink name
};

class Notifier {
 public:
  Notifier(StatusSource status, Clock& clock, NotifierOptions options,
           std::vector<std::unique_ptr<Sink>> sinks);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void Changed(const std::string& identifier);
  void Start();
  void Stop();
  // Reads the changed heartbeats and notifies what is due at `now`; returns when the next
  // held transition is due (InfiniteFuture: none). Drive the sinks with RunSinks().
  absl::Time RunDue(absl::Time now);
  // Calls every sink's RunDue(now); returns the earliest time one of them has work.
  absl::Time RunSinks(absl::Time now);
  NotifierStats stats() const;
  const std::string& run() const { return run_; }

 private:
  void TrackerLoop();
  void SinkLoop(Sink* sink, Waiter* wake);
  void Notify(const DueChange& change);
  void NotifyStorm(const StormChange& change);
  std::string NextId() ABSL_EXCLUSIVE_LOCKS_REQUIRED(track_mu_);

  const StatusSource status_;
  Clock& clock_;
  const NotifierOptions options_;
  const std::string run_;
  const std::vector<std::unique_ptr<Sink>> sinks_;
  std::vector<std::unique_ptr<Waiter>> sink_wakes_;  // one per sink, same order

  mutable absl::Mutex mu_;  // the change set and the thread state
  absl::flat_hash_set<std::string> dirty_ ABSL_GUARDED_BY(mu_);
  absl::Time first_dirty_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  absl::Time next_due_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  Waiter wake_;  // Changed() and Stop() notify the tracker thread

  mutable absl::Mutex track_mu_;  // held by RunDue; stats() reads under it
  TransitionTracker tracker_ ABSL_GUARDED_BY(track_mu_);
  uint64_t sequence_ ABSL_GUARDED_BY(track_mu_) = 0;
  uint64_t transitions_ ABSL_GUARDED_BY(track_mu_) = 0;
  uint64_t storms_ ABSL_GUARDED_BY(track_mu_) = 0;

  std::vector<std::thread> threads_;
};

}  // namespace hb::alert
