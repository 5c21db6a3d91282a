// KubeClient: the seam between heartbeat-operator and the Kubernetes API.
//
// The controller talks only to this interface; RestKubeClient (rest_client.h) is the real
// implementation over HTTP(S). Objects are nlohmann::json exactly as the API server sends
// them (apiVersion, kind, metadata, spec, status).
//
// Contract for every implementation:
//  - All methods are thread-safe and block until the server answered (or the request
//    timed out); call them from worker threads. They never throw.
//  - Errors are absl::Status values as described in kube/errors.h; branch with
//    IsNotFound / IsConflict / IsAlreadyExists / IsGone / IsRetryable.
//  - The namespace comes from ResourceRef::namespace_; for Create, Update and UpdateStatus
//    an empty namespace_ falls back to the object's metadata.namespace. The object name of
//    Create, Update and UpdateStatus is the object's metadata.name (Create also accepts
//    metadata.generateName).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/cancel.h"
#include "kube/errors.h"
#include "kube/resource.h"
#include "nlohmann/json.hpp"

namespace hb::kube {

struct ListOptions {
  std::string label_selector;    // e.g. "app=heartbeat,tier!=db"
  std::string field_selector;    // e.g. "metadata.name=x"
  int64_t limit = 0;             // page size; 0: everything at once
  std::string continue_token;    // from the previous page's ListResult
  std::string resource_version;  // "" (most recent), "0" (any cached) or a version
};

struct ListResult {
  // The objects, each with apiVersion and kind filled in (the server omits them in lists).
  std::vector<nlohmann::json> items;
  std::string resource_version;  // of the list: where a following Watch starts
  std::string continue_token;    // non-empty: more pages follow
};

struct WatchOptions {
  // Start after this version (normally a List's resource_version). "" or "0": the server
  // first sends ADDED events for the objects that exist.
  std::string resource_version;
  std::string label_selector;
  std::string field_selector;    // one object: "metadata.name=<name>"
  bool allow_bookmarks = false;  // let the server send BOOKMARK events
  int64_t timeout_seconds = 0;   // ask the server to end the watch after this; 0: its default
  // End the watch with kDeadlineExceeded when nothing arrives for this long (a half-open
  // connection). Zero: timeout_seconds + 30 s when timeout_seconds is set, else 10 minutes.
  absl::Duration idle_timeout = absl::ZeroDuration();
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark };

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  // The object (for kBookmark only apiVersion, kind and metadata.resourceVersion).
  nlohmann::json object;
};

// "ADDED", "MODIFIED", "DELETED", "BOOKMARK".
const char* WatchEventTypeName(WatchEventType type);

// Receives watch events in order, on the thread that called Watch(). Returning a non-OK
// status ends the watch; Watch() then returns that status.
using WatchHandler = std::function<absl::Status(WatchEvent event)>;

enum class PatchType {
  kMerge,      // application/merge-patch+json (RFC 7386)
  kJson,       // application/json-patch+json (RFC 6902; the body is an array)
  kStrategic,  // application/strategic-merge-patch+json (built-in kinds only)
  kApply,      // server-side apply; needs a field manager
};

struct PatchOptions {
  std::string subresource;    // e.g. "status"; empty: the object itself
  std::string field_manager;  // empty: the client's default field manager
  bool force = false;         // server-side apply: take over conflicting fields
};

struct DeleteOptions {
  std::string propagation_policy;  // "", "Background", "Foreground" or "Orphan"
  std::string resource_version;    // precondition: delete only this version
  std::string uid;                 // precondition: delete only this uid
};

class KubeClient {
 public:
  virtual ~KubeClient() = default;

  virtual absl::StatusOr<nlohmann::json> Get(const ResourceRef& ref, absl::string_view name) = 0;
  virtual absl::StatusOr<ListResult> List(const ResourceRef& ref, const ListOptions& options) = 0;
  // POST; the stored object (with uid, resourceVersion, ...).
  virtual absl::StatusOr<nlohmann::json> Create(const ResourceRef& ref,
                                                const nlohmann::json& object) = 0;
  // PUT of the whole object. A metadata.resourceVersion makes it conditional: a stale one
  // gives IsConflict(). The status is not changed (use UpdateStatus).
  virtual absl::StatusOr<nlohmann::json> Update(const ResourceRef& ref,
                                                const nlohmann::json& object) = 0;
  // PUT .../status: only the status changes; same resourceVersion rule as Update.
  virtual absl::StatusOr<nlohmann::json> UpdateStatus(const ResourceRef& ref,
                                                      const nlohmann::json& object) = 0;
  virtual absl::StatusOr<nlohmann::json> Patch(const ResourceRef& ref, absl::string_view name,
                                               PatchType type, const nlohmann::json& patch,
                                               const PatchOptions& options) = 0;
  // OK when the server accepted the deletion (with finalizers the object lives on until
  // they are removed).
  virtual absl::Status Delete(const ResourceRef& ref, absl::string_view name,
                              const DeleteOptions& options) = 0;

  // Streams changes to `handler` as they arrive. Returns:
  //  - OK when the server ended the stream (its timeout; the caller re-watches from the
  //    last resourceVersion it saw),
  //  - kCancelled soon (well under a second) after `cancel` is cancelled,
  //  - IsGone() when the resourceVersion is too old (re-list, then watch again),
  //  - the handler's status when it returned one, or any other error.
  virtual absl::Status Watch(const ResourceRef& ref, const WatchOptions& options,
                             const WatchHandler& handler, const CancelToken& cancel) = 0;
};

// All pages of a List (following continue tokens); `options.limit` is the page size. The
// result's resource_version is the first page's. When a continue token has expired (410),
// the list is read again in one unpaginated response (its own resource_version).
absl::StatusOr<ListResult> ListAll(KubeClient& client, const ResourceRef& ref, ListOptions options);

}  // namespace hb::kube
