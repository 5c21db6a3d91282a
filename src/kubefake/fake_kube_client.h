// FakeKubeClient: an in-memory KubeClient for unit tests of controllers.
//
// It follows the API server (and hack/kube-emulator, the project's test API server) where a
// controller depends on it:
//  - Objects are kept per (group, version, resource, namespace, name). One global integer
//    resourceVersion is bumped by every write; an identical rewrite is a no-op (no new
//    version, no event). Create sets uid, creationTimestamp (from the injected Clock) and
//    metadata.generation 1; any change outside metadata and status bumps the generation, as
//    does the first deletionTimestamp.
//  - Every resource behaves as if it had a status subresource: Update and non-status patches
//    keep the stored status, UpdateStatus and patches of subresource "status" change only
//    the status. A non-empty metadata.resourceVersion on Update, UpdateStatus or in a patch
//    result must match (else IsConflict). Create keeps the status it is given.
//  - Delete of an object with metadata.finalizers sets deletionTimestamp (MODIFIED event);
//    finalizers cannot be added afterwards (422); the write that empties them removes the
//    object (DELETED event). Preconditions (uid, resourceVersion) are honoured.
//  - List: label selectors (=, ==, !=, in, notin, exists, !), field selectors on
//    metadata.name / metadata.namespace, an empty namespace_ for all namespaces, sorted by
//    (namespace, name), limit + continue over a consistent snapshot (410 when the snapshot
//    fell out of the history).
//  - Patch: JSON merge patch (RFC 7386), JSON patch (RFC 6902, 422 when an operation fails);
//    strategic merge patch is treated as a merge patch (no merge-by-key lists); apply
//    (needs a field manager) creates a missing object or merge-patches it, without field
//    ownership.
//  - Watch blocks on the calling thread, like the real client: replays events
//    after options.resource_version from a bounded history (default 1000 events), sends
//    synthetic ADDED events first for "" and "0", honours selectors (an object leaving the
//    selection is DELETED for the watcher, one entering it ADDED), sends a BOOKMARK right
//    after the start when allow_bookmarks (and on SendBookmarks()), and returns IsGone()
//    (410 Expired) for a too-old resourceVersion. It returns kCancelled promptly when the
//    token is cancelled, OK at timeout_seconds (on the injected Clock) or on
//    CloseWatches(), and OK when the watcher fell behind the history window. The handler
//    is called without any lock held, so it may call back into the client.
//
// Fault injection and inspection are the methods after the KubeClient overrides. Unknown
// kinds: the fake does not know which resources are namespaced; it uses whatever namespace
// the call names (or the object's metadata.namespace for writes), "" for cluster-scoped.
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "kube/client.h"

namespace hb::kubefake {

class ObjectSelector;

enum class Verb { kGet, kList, kCreate, kUpdate, kUpdateStatus, kPatch, kDelete, kWatch };

// The RBAC verb of a call: "get", "list", "create", "update" (UpdateStatus too; see
// FakeRequest::subresource), "patch", "delete", "watch".
const char* VerbName(Verb verb);

// One call as the request log records it.
struct FakeRequest {
  Verb verb = Verb::kGet;
  kube::ResourceRef ref;         // the namespace the call addressed (a write's effective namespace)
  std::string name;              // empty for list and watch
  std::string subresource;       // "status" for UpdateStatus and status patches
  std::string resource_version;  // list and watch: the requested resourceVersion
};

struct FakeKubeClientOptions {
  size_t history_limit = 1000;  // watch events kept for replay and consistent paging
};

class FakeKubeClient final : public kube::KubeClient {
 public:
  // Timestamps from the real clock.
  FakeKubeClient();
  // Timestamps (creationTimestamp, deletionTimestamp) from `clock`, which must outlive this.
  explicit FakeKubeClient(Clock& clock, FakeKubeClientOptions options = FakeKubeClientOptions());
  ~FakeKubeClient() override;
  FakeKubeClient(const FakeKubeClient&) = delete;
  FakeKubeClient& operator=(const FakeKubeClient&) = delete;

  absl::StatusOr<nlohmann::json> Get(const kube::ResourceRef& ref, absl::string_view name) override;
  absl::StatusOr<kube::ListResult> List(const kube::ResourceRef& ref,
                                        const kube::ListOptions& options) override;
  absl::StatusOr<nlohmann::json> Create(const kube::ResourceRef& ref,
                                        const nlohmann::json& object) override;
  absl::StatusOr<nlohmann::json> Update(const kube::ResourceRef& ref,
                                        const nlohmann::json& object) override;
  absl::StatusOr<nlohmann::json> UpdateStatus(const kube::ResourceRef& ref,
                                              const nlohmann::json& object) override;
  absl::StatusOr<nlohmann::json> Patch(const kube::ResourceRef& ref, absl::string_view name,
                                       kube::PatchType type, const nlohmann::json& patch,
                                       const kube::PatchOptions& options) override;
  absl::Status Delete(const kube::ResourceRef& ref, absl::string_view name,
                      const kube::DeleteOptions& options) override;
  absl::Status Watch(const kube::ResourceRef& ref, const kube::WatchOptions& options,
                     const kube::WatchHandler& handler, const CancelToken& cancel) override;

  // --- Faults -------------------------------------------------------------------------
  // The next `times` calls of `verb` fail with `status` (before any effect). Queued per
  // verb: FailNext(kList, a); FailNext(kList, b) fails the next list with a, then b.
  void FailNext(Verb verb, absl::Status status, int times = 1);
  // The next `times` watches fail at once with IsGone() (410 Expired), as the server does
  // for a too-old resourceVersion.
  void ForceGoneOnNextWatch(int times = 1);
  // Every open watch returns OK now, as when the server ends the stream.
  void CloseWatches();
  // Every open watch that allows bookmarks sends a BOOKMARK at the current resourceVersion.
  void SendBookmarks();
  // Keeps the last `n` (>= 1) events; older resourceVersions become too old.
  void SetHistoryLimit(size_t n);
  // Forgets the whole history: any resourceVersion before now is too old.
  void CompactHistory();

  // --- Set-up and inspection ----------------------------------------------------------
  // Stores `object` as another client would, without faults and without entering the
  // request log: a create, or for an existing object an unconditional update followed by a
  // status update (two versions, two MODIFIED events when both change). Returns the stored
  // object (null when the object is unusable, e.g. has no name).
  nlohmann::json Seed(const kube::ResourceRef& ref, nlohmann::json object);
  // The stored object, bypassing faults and the log.
  std::optional<nlohmann::json> Object(const kube::ResourceRef& ref, absl::string_view name) const;
  // The current global resourceVersion.
  int64_t ResourceVersion() const;
  // Calls of `verb` so far (failed ones included).
  int64_t Calls(Verb verb) const;
  std::vector<FakeRequest> Requests() const;
  int OpenWatches() const;
  // Waits (real time) until at least `n` watches are open.
  bool WaitForWatches(int n, absl::Duration timeout) const;

 private:
  using ObjectKey = std::pair<std::string, std::string>;  // namespace, name
  using Objects = std::map<ObjectKey, nlohmann::json>;
  struct Event {
    int64_t rv = 0;
    kube::WatchEventType type = kube::WatchEventType::kAdded;
    std::string collection;
    ObjectKey key;
    nlohmann::json object;  // as stored (for DELETED: the last state, with the new version)
    nlohmann::json prev;    // before the write; null for ADDED
  };
  struct OpenWatch {
    bool close = false;
    int bookmarks = 0;
  };
  struct WriteRequest {
    kube::ResourceRef ref;
    std::string name;
    nlohmann::json object;  // the body of Update / UpdateStatus, or a patch's result
    bool status_only = false;
  };

  // Logs the call and takes an injected failure; OK when the call may proceed.
  absl::Status BeginCall(Verb verb, const kube::ResourceRef& ref, absl::string_view name,
                         absl::string_view subresource, absl::string_view resource_version)
      ABSL_LOCKS_EXCLUDED(mu_);

  // fake_objects.cc: the write path.
  absl::StatusOr<nlohmann::json> CreateLocked(const kube::ResourceRef& ref, nlohmann::json object)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<nlohmann::json> WriteLocked(const WriteRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<nlohmann::json> PatchLocked(const kube::ResourceRef& ref, const std::string& name,
                                             kube::PatchType type, const nlohmann::json& patch,
                                             const kube::PatchOptions& options)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status DeleteLocked(const kube::ResourceRef& ref, const std::string& name,
                            const kube::DeleteOptions& options) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores (or for kDeleted removes) `object` under a new resourceVersion and records the
  // event. Returns the stored object.
  nlohmann::json CommitLocked(kube::WatchEventType type, const std::string& collection,
                              const ObjectKey& key, nlohmann::json object)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  nlohmann::json* FindLocked(const std::string& collection, const ObjectKey& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NowText() const;
  std::string NewUid() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // fake_watch.cc. The events a new watch starts with (synthetic ADDED, first bookmark) and
  // the version it continues after; an error status refuses the watch.
  absl::Status StartWatchLocked(const kube::ResourceRef& ref, const kube::WatchOptions& options,
                                const ObjectSelector& selector,
                                std::vector<kube::WatchEvent>* batch, int64_t* last)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits until watch `id` has something to send (nullopt), or returns how it ends.
  std::optional<absl::Status> WaitForWatchLocked(int64_t id, int64_t last, absl::Time deadline,
                                                 const CancelToken& cancel)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends what the watcher sees of the events after *last, and moves *last to now.
  void CollectLocked(const kube::ResourceRef& ref, const ObjectSelector& selector, int64_t* last,
                     std::vector<kube::WatchEvent>* batch) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // fake_kube_client.cc: history.
  bool TooOldLocked(int64_t rv) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The events after `rv` still in the history (the caller checked TooOldLocked).
  std::vector<const Event*> EventsAfterLocked(int64_t rv) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The collection as it was at `rv`.
  Objects SnapshotLocked(const std::string& collection, int64_t rv) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TrimHistoryLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  Clock& clock_;

  mutable absl::Mutex mu_;
  // Notified on every write, knob and cancellation, for waiting watches (whose server-side
  // timeout runs on clock_).
  mutable Waiter changed_{clock_};
  std::map<std::string, Objects> objects_ ABSL_GUARDED_BY(mu_);  // by collection
  std::deque<Event> history_ ABSL_GUARDED_BY(mu_);
  size_t history_limit_ ABSL_GUARDED_BY(mu_);
  int64_t rv_ ABSL_GUARDED_BY(mu_) = 0;
  // The oldest resourceVersion a watch or a continue token may start from.
  int64_t oldest_replayable_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_uid_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<Verb, std::deque<absl::Status>> failures_ ABSL_GUARDED_BY(mu_);
  int force_gone_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int64_t, OpenWatch> watches_ ABSL_GUARDED_BY(mu_);
  int64_t next_watch_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<Verb, int64_t> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<FakeRequest> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb::kubefake
