// DeclarationIndex: who declares which capability identifier, kept up to date by the
// informers' event handlers and read by the reconciler.
//
// Three kinds of entries: Capability resources (user-created), ConfigMap entries, and
// mirrors (Capability objects the operator creates for ConfigMap entries; they are not
// declarations themselves). Each is stored as parsed once from its object, so the
// reconciler never reads the informer caches. Every setter returns the identifiers whose
// picture changed, for the caller to enqueue. Thread-safe.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "capability/declaration.h"

namespace hb::op {

struct IndexEntry {
  std::vector<capability::Declaration> declarations;  // resources and ConfigMap entries
  std::map<std::string, capability::Mirror> mirrors;  // by object key "ns/name"
};

class DeclarationIndex {
 public:
  // What the Capability resource `object_key` ("ns/name") declares; nullopt: it is gone.
  std::vector<std::string> SetResource(const std::string& object_key,
                                       std::optional<capability::Declaration> declaration);
  // Everything ConfigMap `configmap_key` declares (empty: nothing, or it is gone).
  std::vector<std::string> SetConfigMap(const std::string& configmap_key,
                                        std::vector<capability::Declaration> declarations);
  // The mirror object `object_key` as it is now; nullopt: it is gone.
  std::vector<std::string> SetMirror(const std::string& object_key,
                                     std::optional<capability::Mirror> mirror);

  IndexEntry Get(const std::string& identifier) const;
  // Whether object `object_key` ("ns/name") is indexed as a Capability resource (not a
  // mirror), and the mirror indexed under that key, if any.
  bool HasResource(const std::string& object_key) const;
  std::optional<capability::Mirror> MirrorAt(const std::string& object_key) const;
  std::vector<std::string> Identifiers() const;

 private:
  void Drop(const std::string& identifier) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, IndexEntry> by_identifier_ ABSL_GUARDED_BY(mu_);
  // object or ConfigMap key -> identifiers it declares (for replacement on change)
  std::map<std::string, std::set<std::string>> resources_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<std::string>> configmaps_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> mirrors_ ABSL_GUARDED_BY(mu_);  // mirror key -> identifier
};

}  // namespace hb::op
