// Informer: keeps a local cache of one collection of Kubernetes objects in step with the API
// server and tells handlers what changed. Modelled on client-go's reflector and informer
// and on kube-rs's watcher state machine:
//
//   listing --ok--> watching(resourceVersion) --server ended the stream--> watching(last rv)
//      ^  \--error: back off, retry         |--410 Gone (HTTP or ERROR event)--> listing
//      |                                    \--other error: back off--> watching(last rv)
//      \------------------------------------/
//
//  - A list reads every page (page_size) and replaces the cache; against the previous cache
//    it yields kAdded, kUpdated (resourceVersion changed) and kDeleted (gone from the list)
//    events. Objects unchanged since the last list or watch event yield nothing, so a
//    re-list after a 410 reports exactly what was missed.
//  - A watch starts from the list's resourceVersion with bookmarks on; the last
//    resourceVersion seen (bookmarks included) is where the next watch starts when the
//    server ends one, so no event is lost or repeated.
//  - Errors other than 410 back off (backoff policy, jittered, capped); the delay resets
//    after a successful list and after a watch that delivered an event. Two watches in a row
//    that end quietly (no object event, shorter than a second) also back off, so a server
//    closing every watch at once cannot make a hot loop; so does a second 410 in a row.
//  - Logs one line per change of state (first failure of a kind, recovery, 410), at debug
//    level for each further retry.
//
// Time: backoff sleeps go through the Clock (Clock::SleepFor), so tests drive them on a
// FakeClock.
//
// Threading: Run() blocks on the calling thread until `cancel` is cancelled; handlers are
// called on that thread, one event at a time, in the order of the changes, after the cache
// has been updated (a handler calling Get() sees the new state) and with no lock held.
// A handler must not block for long: the watch is not read meanwhile. Get(), List(),
// HasSynced(), WaitForSync() and stats() may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/jitter.h"
#include "informer/object_cache.h"
#include "kube/client.h"

namespace hb::informer {

struct InformerOptions {
  kube::ResourceRef ref;  // namespace_ empty: all namespaces (or a cluster-scoped resource)
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  int64_t watch_timeout_seconds = 300;  // asked of the server for every watch; 0: its default
  BackoffPolicy backoff{absl::Milliseconds(800), absl::Seconds(30), 2.0, 0.5};
  uint64_t jitter_seed = 0;  // 0: random
  std::string name;          // for logs; default: the resource
  // Applied to every object before it is cached and handed to handlers (client-go's
  // SetTransform): a consumer that needs a few fields keeps only those, so a large
  // collection costs its fields, not whole objects. It must keep metadata.name,
  // metadata.namespace and metadata.resourceVersion. Null: objects are kept whole.
  std::function<nlohmann::json(nlohmann::json)> transform;
  // The form kept in the cache, after `transform` (ObjectCache's `keep`): handlers get the
  // object as transformed; Get(), List() and the old_object of updates and deletions the kept
  // form. For a consumer that keeps what it needs itself. Same rules as `transform`. Null:
  // the transformed object is kept.
  std::function<nlohmann::json(const nlohmann::json&)> cache_transform;
};

class Informer {
 public:
  using Handler = std::function<void(const InformerEvent&)>;

  struct Stats {
    int64_t lists = 0;    // successful lists
    int64_t watches = 0;  // watch requests made
    int64_t relists_after_gone = 0;
    int64_t errors = 0;          // failed lists and watches (410 excluded)
    int64_t handler_errors = 0;  // handler calls that threw (logged, then skipped)
    std::string last_resource_version;
  };

  // `client` and `clock` must outlive the informer.
  Informer(kube::KubeClient& client, Clock& clock, InformerOptions options);
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Before Run().
  void AddHandler(Handler handler);

  // The list/watch loop; returns soon after `cancel` is cancelled (a list in flight finishes
  // first). Call once.
  void Run(const CancelToken& cancel);

  // The first list has been stored and its kAdded events handled.
  bool HasSynced() const;
  // Waits (real time) for HasSynced(); false after `timeout`.
  bool WaitForSync(absl::Duration timeout) const;
  // Waits for HasSynced() or for `cancel`; returns HasSynced().
  bool WaitForSync(const CancelToken& cancel) const;

  // The cached object with key "namespace/name" (or "name").
  std::optional<nlohmann::json> Get(const std::string& key) const;
  std::vector<nlohmann::json> List() const;
  Stats stats() const;

 private:
  enum class State { kListing, kWatching };

  State List(const CancelToken& cancel);
  State Watch(const CancelToken& cancel);
  // Handles one watch event on the Run thread; `progress` is set for object events.
  void OnWatchEvent(kube::WatchEvent event, bool* progress);
  // After a watch that ended quietly: the second such end in a row sleeps the backoff.
  void PauseIfRestartingQuietly(const CancelToken& cancel);
  void Emit(const InformerEvent& event);
  void SetResourceVersion(const std::string& rv);
  // A failure of `what` ("list", "watch"): logs (once per streak at warning), counts and
  // sleeps the backoff.
  void Failed(const char* what, const absl::Status& status, const CancelToken& cancel);
  // Logs the end of a failure streak of `what`, if there was one.
  void Recovered(const char* what);

  // Constant after construction.
  kube::KubeClient& client_;
  Clock& clock_;
  const InformerOptions options_;
  const std::string name_;

  // Run thread only.
  std::vector<Handler> handlers_;
  Jitter jitter_;
  Backoff backoff_;
  std::string rv_;          // the last resourceVersion seen: where the next watch starts
  std::string failing_;     // what failed last ("list", "watch"); empty when healthy
  int failures_ = 0;        // in the current streak
  int quiet_restarts_ = 0;  // watches in a row that ended or expired without an event

  ObjectCache cache_;
  mutable absl::Mutex mu_;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb::informer
