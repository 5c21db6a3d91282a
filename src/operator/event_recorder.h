// EventRecorder: Kubernetes Events (core/v1) about Capabilities and ConfigMaps, so that
// `kubectl describe` and `kubectl get events` show what happened and why.
//
// Events are best effort and bounded, as client-go's recorder makes them:
//  - Correlated: the same event again (object, type, reason, message) within
//    `correlation_window` updates the first one (count + 1, lastTimestamp) with one PATCH
//    instead of creating another object.
//  - Per object, a token bucket (`per_object_burst`, one more every `per_object_refill`)
//    drops the excess of a flapping object (client-go's spam filter).
//  - In all, a budget (`qps`, `burst`) taken without waiting: when an outage changes 10,000
//    objects at once, the first `burst` events are written and the rest dropped and
//    counted (one log line per minute), so Events never delay status writes or reconciles.
// A failed write is logged at debug level and dropped. Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/log_limiter.h"
#include "common/token_bucket.h"
#include "kube/client.h"

namespace hb::op {

struct EventRecorderOptions {
  absl::Duration correlation_window = absl::Minutes(10);
  int per_object_burst = 25;
  absl::Duration per_object_refill = absl::Minutes(5);
  double qps = 2;
  int burst = 50;
  size_t max_tracked = 4096;  // correlation entries kept (oldest forgotten first)
};

class EventRecorder {
 public:
  EventRecorder(kube::KubeClient& client, Clock& clock, std::string instance,
                EventRecorderOptions options = {});

  // `warning` selects type Warning instead of Normal.
  void Record(const kube::ObjectReference& object, bool warning, const std::string& reason,
              const std::string& message);

  struct Stats {
    int64_t created = 0;
    int64_t correlated = 0;  // repeats written as a count update
    int64_t dropped = 0;     // over the per-object or the global budget
  };
  Stats stats() const;

 private:
  struct Tracked {
    std::string event_name;  // the Event object holding the count
    std::string ns;
    int64_t count = 0;
    absl::Time last;
    std::list<std::string>::iterator age;  // position in order_
  };
  // Whether the budgets allow one more event about `object_key` now.
  bool Admit(const std::string& object_key, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Forget(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  kube::KubeClient& client_;
  Clock& clock_;
  const std::string instance_;
  const EventRecorderOptions options_;

  mutable absl::Mutex mu_;
  TokenBucket global_;
  std::map<std::string, std::unique_ptr<TokenBucket>> per_object_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Tracked> tracked_ ABSL_GUARDED_BY(mu_);  // correlation key -> event
  std::list<std::string> order_ ABSL_GUARDED_BY(mu_);            // correlation keys, oldest first
  Stats stats_ ABSL_GUARDED_BY(mu_);
  LogLimiter drop_log_ ABSL_GUARDED_BY(mu_){1, absl::Minutes(1)};
};

}  // namespace hb::op
