// ObjectCache: the informer's store of the latest known objects by key, and the diffs that
// turn a list or a watch event into the InformerEvents handlers see.
//
// Keys are "namespace/name", or "name" for cluster-scoped objects (ObjectKey()). Two
// versions of an object are "the same" when their metadata.resourceVersion is equal; a
// re-list or a replayed watch event that brings nothing newer produces no event.
// A `keep` function, when given, makes the form of each object that is stored (e.g. its
// metadata only): events carry the object as received, the old_object of kUpdated and
// kDeleted events and Get()/List() the kept form. It must keep metadata.name,
// metadata.namespace and metadata.resourceVersion.
// Thread-safe; the write methods are meant for one writer (the informer's Run thread).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "kube/client.h"
#include "nlohmann/json.hpp"

namespace hb::informer {

struct InformerEvent {
  enum Type { kAdded, kUpdated, kDeleted };
  Type type = kAdded;
  std::string key;  // "namespace/name" or "name"
  // kAdded, kUpdated: the new object. kDeleted: the object as the server last sent it (the
  // DELETED event's object, or the last known state when the deletion was found by a
  // re-list).
  nlohmann::json object;
  // kUpdated: the previous object. kDeleted: the last known object. Null for kAdded.
  nlohmann::json old_object;
};

// "Added", "Updated", "Deleted".
const char* InformerEventTypeName(InformerEvent::Type type);

// "namespace/name", or "name" when the object has no namespace.
std::string ObjectKey(const nlohmann::json& object);

class ObjectCache {
 public:
  using KeepFunction = std::function<nlohmann::json(const nlohmann::json&)>;
  // Null `keep`: objects are stored whole.
  explicit ObjectCache(KeepFunction keep = nullptr) : keep_(std::move(keep)) {}

  // Makes `items` the whole content. Returns the events that lead from the old content to
  // the new one: kAdded / kUpdated (resourceVersion changed) in key order, then kDeleted
  // for keys no longer present, in key order.
  std::vector<InformerEvent> Replace(std::vector<nlohmann::json> items);
  // Applies one watch event (kBookmark is ignored). Returns the resulting event, or nullopt
  // when it changes nothing: the same resourceVersion again, or the deletion of an unknown
  // object. An ADDED event for a known object gives kUpdated, a MODIFIED one for an unknown
  // object kAdded.
  std::optional<InformerEvent> Apply(kube::WatchEventType type, nlohmann::json object);

  std::optional<nlohmann::json> Get(const std::string& key) const;
  // All objects in key order.
  std::vector<nlohmann::json> List() const;
  size_t size() const;

 private:
  // The form of `object` that is stored.
  nlohmann::json Kept(const nlohmann::json& object) const;

  const KeepFunction keep_;
  mutable absl::Mutex mu_;
  std::map<std::string, nlohmann::json> objects_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb::informer
