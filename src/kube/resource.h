// ResourceRef: which collection of the Kubernetes API a call addresses, and the REST paths
// built from it.
//
//   core group ("")   /api/v1/namespaces/{ns}/{resource}/{name}/{subresource}
//   other groups      /apis/{group}/{version}/namespaces/{ns}/{resource}/{name}/{subresource}
//   cluster-scoped    the same without "namespaces/{ns}" (namespace_ empty)
//
// For a namespaced resource an empty namespace_ means "all namespaces" in List and Watch.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace hb::kube {

struct ResourceRef {
  std::string group;       // "" for the core API, e.g. "apps", "example.dev"
  std::string version;     // "v1"
  std::string resource;    // lower-case plural, e.g. "configmaps", "widgets"
  std::string namespace_;  // empty: cluster-scoped, or all namespaces

  // "v1" for the core group, else "group/version" (an object's apiVersion).
  std::string ApiVersion() const;
  // A copy addressing namespace `ns`.
  ResourceRef InNamespace(absl::string_view ns) const;
};

bool operator==(const ResourceRef& a, const ResourceRef& b);

// The path of the collection (empty `name`), of one object, or of its subresource.
// InvalidArgument when a part is empty where required or is not a valid path segment
// (contains '/', is "." or "..").
absl::StatusOr<std::string> ResourcePath(const ResourceRef& ref, absl::string_view name = {},
                                         absl::string_view subresource = {});

// metadata.name / metadata.namespace / metadata.resourceVersion of an object, or "".
std::string ObjectName(const nlohmann::json& object);
std::string ObjectNamespace(const nlohmann::json& object);
std::string ObjectResourceVersion(const nlohmann::json& object);

// Which object something is about (an Event's involvedObject).
struct ObjectReference {
  std::string api_version;  // "v1", "chora.dev/v1alpha1"
  std::string kind;
  std::string namespace_;
  std::string name;
  std::string uid;  // may be empty
};
ObjectReference ReferenceOf(const nlohmann::json& object);

// The JSON merge patch (RFC 7386) that turns `from` into `to`: changed and new members
// as in `to`, members missing from `to` as null (so the server removes them), objects
// diffed member by member; empty object when they are equal. Arrays and scalars are
// replaced whole. A `to` that is not an object is returned as is.
nlohmann::json MergePatchFor(const nlohmann::json& from, const nlohmann::json& to);

}  // namespace hb::kube
