// Declarations: what one source says about one capability.
//
// A capability identifier can be declared by Capability resources and by entries of
// capability ConfigMaps. Each declaration is turned into this one shape, which also carries
// what the controller needs of the declaring object (generation, finalizers,
// resourceVersion, uid, current status), read once when the informer delivers it; the
// reconciler picks one winner per identifier (Winner()) and reports the others as
// conflicting. Mirrors (the Capability objects the operator keeps for ConfigMap entries)
// are read into Mirror. Pure functions; no I/O; nothing throws on malformed objects.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "capability/capability_status.h"
#include "check/check_spec.h"
#include "nlohmann/json.hpp"

namespace hb::capability {

// The finalizer that makes deletion wait until the lease is revoked and the key removed.
extern const char kFinalizer[];
// Labels and annotations of the Capability objects mirroring ConfigMap entries.
extern const char kManagedByLabel[];  // chora.dev/managed-by=heartbeat-operator
extern const char kManagedByValue[];
extern const char kSourceAnnotation[];  // chora.dev/source: configmap/<ns>/<name>/<key>

struct Declaration {
  enum class Kind { kResource, kConfigMap };
  Kind kind = Kind::kResource;
  std::string identifier;
  std::string source;  // "Capability ns/name" or "ConfigMap ns/name[key]": shown in status
  std::string ns;      // the Capability's or ConfigMap's namespace
  std::string name;    // the Capability's or ConfigMap's name
  std::string key;     // ConfigMap data key
  absl::Time created;  // creationTimestamp of the object, for precedence
  // The declaring object (a Capability, or the ConfigMap of an entry) as last seen.
  int64_t generation = 0;
  std::string uid;
  std::string resource_version;
  std::vector<std::string> finalizers;
  CapabilityStatus status;  // a Capability resource's current status
  bool deleting = false;    // metadata.deletionTimestamp is set

  bool service = true;  // Service-type (gets a heartbeat)
  bool paused = false;
  int64_t interval_seconds = 10;
  int64_t ttl_seconds = 30;
  std::string title;
  std::string version;
  std::string endpoint;
  int64_t timeout_seconds = 0;
  check::CheckSpec check;  // how the service is checked (spec.health, or the manifest's)
  // Non-empty when the declaration cannot run, naming the field: the reason for status
  // phase Invalid.
  std::string invalid;

  std::string ObjectKey() const { return ns.empty() ? name : ns + "/" + name; }
  bool HasFinalizer() const;
};

// A Capability object mirroring a ConfigMap entry, as last seen.
struct Mirror {
  std::string ns;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::string identifier;  // spec.identifier
  std::string source;      // the kSourceAnnotation: which entry it mirrors
  int64_t generation = 0;
  nlohmann::json spec;  // compared with the spec the entry asks for
  CapabilityStatus status;

  std::string ObjectKey() const { return ns + "/" + name; }
};

// Reads a mirror object (see IsMirror()).
Mirror FromMirror(const nlohmann::json& capability);

// True for a Capability object that mirrors a ConfigMap entry (managed by the operator).
bool IsMirror(const nlohmann::json& capability);

// Reads a Capability object. Never fails: a spec the controller cannot run gives a
// declaration with `invalid` set (e.g. "spec.heartbeat.intervalSeconds: 30 must be below
// spec.heartbeat.ttlSeconds (30)").
Declaration FromCapability(const nlohmann::json& capability);

// The order of precedence among declarations of one identifier: Capability resources
// before ConfigMap entries; among resources the oldest, then by namespace/name; among
// ConfigMap entries the oldest ConfigMap, then by namespace/name/key. Deleting resources
// come after the others. Returns an index into `declarations`, or -1 when empty.
int Winner(const std::vector<Declaration>& declarations);

// An RFC 3339 creationTimestamp; InfinitePast when absent or unreadable.
absl::Time CreationTime(const nlohmann::json& object);

}  // namespace hb::capability
