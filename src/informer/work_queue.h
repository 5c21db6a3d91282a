// WorkQueue: the queue of object keys a controller's workers reconcile, with the guarantees
// of client-go's workqueue:
//  - De-duplication: a key added again while it waits is queued once.
//  - One worker per key: a key handed out by Get() is not handed out again until Done();
//    adds in between are remembered and the key is queued again at Done().
//  - Delays: AddAfter() holds a key until the Clock reaches its time (the earlier time wins
//    when a key is delayed twice). AddRateLimited() delays by a per-key exponential backoff,
//    base_delay * 2^n capped at max_delay (n = the key's requeues since its last Forget()),
//    and, when qps > 0, by an overall token bucket (qps, burst) shared by all keys; the
//    longer of the two applies.
//  - ShutDown(): Get() returns nullopt at once (waiting and delayed keys are dropped) and
//    adds are ignored; ShutDownWithDrain() also waits for the keys being processed.
//
// Time comes from the injected Clock, and so do the waits: a Get() blocked until the
// earliest delayed key is due wakes when a FakeClock is advanced past it.
//
// Metrics use controller-runtime's names in mind (workqueue_depth, _adds_total,
// _retries_total, _queue_duration_seconds, _work_duration_seconds,
// _unfinished_work_seconds, _longest_running_processor_seconds): Metrics() returns a
// snapshot; the optional hooks are called on the calling thread after the queue's lock is
// released (they may call back into the queue; they must be quick).
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/histogram.h"

namespace hb::informer {

// Observers of queue activity, e.g. for Prometheus counters and histograms. Each may be
// empty. Called without the queue's lock held; must be quick.
struct WorkQueueHooks {
  std::function<void()> on_add;                       // a key entered the queue (not a duplicate)
  std::function<void()> on_retry;                     // AddRateLimited()
  std::function<void(absl::Duration)> on_queue_time;  // from add to Get()
  std::function<void(absl::Duration)> on_work_time;   // from Get() to Done()
};

struct WorkQueueOptions {
  absl::Duration base_delay = absl::Milliseconds(5);  // first per-key retry delay
  absl::Duration max_delay = absl::Seconds(1000);     // cap of the per-key delay
  double qps = 0;                                     // overall retry rate; 0: no overall limit
  int burst = 100;                                    // token bucket size when qps > 0
  std::string name;                                   // for metrics and logs
  WorkQueueHooks hooks;
};

struct WorkQueueMetrics {
  int64_t depth = 0;               // keys ready to be handed out
  int64_t delayed = 0;             // keys waiting for their time (AddAfter / AddRateLimited)
  int64_t processing = 0;          // keys handed out and not Done() yet
  int64_t adds = 0;                // keys that entered the queue (duplicates excluded)
  int64_t retries = 0;             // AddRateLimited() calls
  absl::Duration unfinished_work;  // summed age of the keys being processed
  absl::Duration longest_running;  // age of the oldest key being processed
  uint64_t queue_time_count = 0;
  absl::Duration queue_time_p50, queue_time_p99;  // add -> Get()
  uint64_t work_time_count = 0;
  absl::Duration work_time_p50, work_time_p99;  // Get() -> Done()
};

class WorkQueue {
 public:
  // `clock` must outlive the queue.
  WorkQueue(Clock& clock, WorkQueueOptions options);
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Add(const std::string& key);
  // Adds `key` once the Clock has moved `delay` on; at once when `delay` <= 0.
  void AddAfter(const std::string& key, absl::Duration delay);
  // AddAfter() with the key's backoff (and the overall limit); counts a requeue.
  void AddRateLimited(const std::string& key);
  // Resets the key's backoff (call after a successful reconcile).
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;
  // The delay the next AddRateLimited(key) would use, without the overall limit.
  absl::Duration NextBackoff(const std::string& key) const;

  // Blocks until a key is ready (the caller then owns it until Done()), or returns nullopt
  // once ShutDown() was called.
  std::optional<std::string> Get();
  // Non-blocking Get(): moves the delayed keys that are due by the Clock first.
  std::optional<std::string> TryGet();
  // The caller finished `key` (successfully or not).
  void Done(const std::string& key);

  void ShutDown();
  // ShutDown(), then waits (on the Clock) until every key handed out is Done(). True when
  // drained within `timeout`.
  bool ShutDownWithDrain(absl::Duration timeout);
  bool ShuttingDown() const;

  // Keys ready to be handed out.
  size_t Len() const;
  WorkQueueMetrics Metrics() const;

 private:
  // Moves the delayed keys due at `now` into the queue; returns how many entered it.
  int MoveDueLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues `key` unless it waits already; true when it entered the queue.
  bool AddLocked(const std::string& key, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues `key` now or after `delay`; true when it entered the queue now.
  bool AddAfterLocked(const std::string& key, absl::Duration delay, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands out the first ready key (the queue is not empty).
  std::string PopLocked(absl::Time now, absl::Duration* queued) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Duration BackoffLocked(const std::string& key) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The overall token bucket's delay for one more retry at `now` (takes a token).
  absl::Duration ReserveLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sleeps (releasing mu_) until a notification or `deadline`; the caller checks again.
  void WaitLocked(absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes the waiting threads, if any.
  void NotifyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the hooks for `adds` new keys and, when `key` is set, records its queue time.
  void Report(int adds, const std::optional<std::string>& key, absl::Duration queued);

  // Constant after construction.
  Clock& clock_;
  const WorkQueueOptions options_;

  // Notified when a key is queued, a delay moves earlier, a key is done, or at shutdown;
  // Get() and ShutDownWithDrain() wait on it.
  Waiter changed_;

  mutable absl::Mutex mu_;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;  // threads waiting on changed_
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> dirty_ ABSL_GUARDED_BY(mu_);       // waiting keys -> added at
  std::map<std::string, absl::Time> processing_ ABSL_GUARDED_BY(mu_);  // -> handed out at
  std::map<std::string, absl::Time> delayed_at_ ABSL_GUARDED_BY(mu_);  // key -> due time
  std::set<std::pair<absl::Time, std::string>> delayed_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> requeues_ ABSL_GUARDED_BY(mu_);
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time tokens_at_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  int64_t adds_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t retries_ ABSL_GUARDED_BY(mu_) = 0;
  LatencyHistogram queue_time_;  // lock-free
  LatencyHistogram work_time_;
};

}  // namespace hb::informer
