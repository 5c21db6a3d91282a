// FakeKubeClient: the write path (create, update, status, patch, delete) with the server's
// metadata, status, generation and finalizer rules.
#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "kubefake/fake_kube_client.h"
#include "kubefake/internal.h"

namespace hb::kubefake {
namespace {

using internal::CollectionOf;

// Metadata the server owns: kept from the stored object on every update.
constexpr const char* kServerOwnedMetadata[] = {"uid", "creationTimestamp", "deletionTimestamp",
                                                "deletionGracePeriodSeconds", "generation"};

nlohmann::json& MetadataOf(nlohmann::json& object) {
  nlohmann::json& metadata = object["metadata"];
  if (!metadata.is_object()) metadata = nlohmann::json::object();
  return metadata;
}

// The namespace a write addresses: the call's, else the object's. A mismatch is a 400.
absl::StatusOr<std::string> WriteNamespace(const kube::ResourceRef& ref,
                                           const nlohmann::json& object) {
  std::string own = kube::ObjectNamespace(object);
  if (ref.namespace_.empty()) return own;
  if (!own.empty() && own != ref.namespace_) {
    return internal::BadRequest(
        "the namespace of the provided object does not match the namespace sent on the request");
  }
  return ref.namespace_;
}

// What a change to bumps metadata.generation: everything outside metadata and status.
nlohmann::json SpecPart(const nlohmann::json& object) {
  nlohmann::json part = object;
  for (const char* key : {"metadata", "status", "apiVersion", "kind"}) part.erase(key);
  return part;
}

bool SameObject(nlohmann::json a, nlohmann::json b) {
  for (nlohmann::json* object : {&a, &b}) {
    MetadataOf(*object).erase("resourceVersion");
    MetadataOf(*object).erase("managedFields");
  }
  return a == b;
}

bool HasFinalizers(const nlohmann::json& object) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return false;
  auto finalizers = metadata->find("finalizers");
  return finalizers != metadata->end() && finalizers->is_array() && !finalizers->empty();
}

bool IsDeleting(const nlohmann::json& object) {
  auto metadata = object.find("metadata");
  return metadata != object.end() && metadata->is_object() &&
         metadata->contains("deletionTimestamp");
}

// A finalizer in `now` that `before` does not have.
bool AddsFinalizer(const nlohmann::json& before, const nlohmann::json& now) {
  if (!HasFinalizers(now)) return false;
  nlohmann::json old = nlohmann::json::array();
  if (HasFinalizers(before)) old = before["metadata"]["finalizers"];
  for (const auto& f : now["metadata"]["finalizers"]) {
    if (std::find(old.begin(), old.end(), f) == old.end()) return true;
  }
  return false;
}

void BumpGeneration(nlohmann::json& metadata) {
  auto it = metadata.find("generation");
  int64_t generation = it != metadata.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
  metadata["generation"] = generation + 1;
}

}  // namespace

std::string FakeKubeClient::NowText() const {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", clock_.WallNow(), absl::UTCTimeZone());
}

std::string FakeKubeClient::NewUid() {
  return absl::StrCat("fa4e0000-0000-4000-8000-", absl::Hex(next_uid_++, absl::kZeroPad12));
}

nlohmann::json* FakeKubeClient::FindLocked(const std::string& collection, const ObjectKey& key) {
  auto objects = objects_.find(collection);
  if (objects == objects_.end()) return nullptr;
  auto it = objects->second.find(key);
  return it == objects->second.end() ? nullptr : &it->second;
}

nlohmann::json FakeKubeClient::CommitLocked(kube::WatchEventType type,
                                            const std::string& collection, const ObjectKey& key,
                                            nlohmann::json object) {
  ++rv_;
  MetadataOf(object)["resourceVersion"] = std::to_string(rv_);
  Objects& objects = objects_[collection];
  auto it = objects.find(key);
  Event event{rv_, type, collection, key, object, nlohmann::json()};
  if (it != objects.end()) event.prev = it->second;
  if (type == kube::WatchEventType::kDeleted) {
    objects.erase(key);
  } else {
    objects[key] = object;
  }
  history_.push_back(std::move(event));
  TrimHistoryLocked();
  changed_.NotifyAll();
  return object;
}

absl::StatusOr<nlohmann::json> FakeKubeClient::CreateLocked(const kube::ResourceRef& ref,
                                                            nlohmann::json object) {
  if (!object.is_object()) return internal::BadRequest("Object 'Kind' is missing in request body");
  auto ns = WriteNamespace(ref, object);
  if (!ns.ok()) return ns.status();
  nlohmann::json& metadata = MetadataOf(object);
  if (!kube::ObjectResourceVersion(object).empty()) {
    return internal::ApiStatus(500, "InternalError",
                               "resourceVersion should not be set on objects to be created");
  }
  std::string name = kube::ObjectName(object);
  if (name.empty() && metadata.contains("generateName") && metadata["generateName"].is_string()) {
    name = absl::StrCat(metadata["generateName"].get<std::string>(),
                        absl::Hex(next_uid_ * 7919 % 0xfffff, absl::kZeroPad5));
  }
  if (name.empty()) {
    return internal::Invalid(ref, "",
                             "metadata.name: Required value: name or generateName is "
                             "required");
  }
  const std::string collection = CollectionOf(ref);
  if (FindLocked(collection, {*ns, name}) != nullptr) return internal::AlreadyExists(ref, name);

  object["apiVersion"] = ref.ApiVersion();
  metadata["name"] = name;
  if (ns->empty()) {
    metadata.erase("namespace");
  } else {
    metadata["namespace"] = *ns;
  }
  for (const char* key :
       {"deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"}) {
    metadata.erase(key);
  }
  metadata["uid"] = NewUid();
  metadata["creationTimestamp"] = NowText();
  metadata["generation"] = 1;
  return CommitLocked(kube::WatchEventType::kAdded, collection, {*ns, name}, std::move(object));
}

absl::StatusOr<nlohmann::json> FakeKubeClient::WriteLocked(const WriteRequest& request) {
  const kube::ResourceRef& ref = request.ref;
  if (!request.object.is_object()) {
    return internal::BadRequest("Object 'Kind' is missing in request body");
  }
  auto ns = WriteNamespace(ref, request.object);
  if (!ns.ok()) return ns.status();
  const std::string collection = CollectionOf(ref);
  const ObjectKey key{*ns, request.name};
  const nlohmann::json* old = FindLocked(collection, key);
  if (old == nullptr) return internal::NotFound(ref, request.name);
  std::string rv = kube::ObjectResourceVersion(request.object);
  if (!rv.empty() && rv != kube::ObjectResourceVersion(*old)) {
    return internal::Conflict(ref, request.name);
  }

  nlohmann::json updated;
  if (request.status_only) {
    updated = *old;
    if (request.object.contains("status")) {
      updated["status"] = request.object["status"];
    } else {
      updated.erase("status");
    }
  } else {
    updated = request.object;
    updated["apiVersion"] = ref.ApiVersion();
    if (!updated.contains("kind") && old->contains("kind")) updated["kind"] = (*old)["kind"];
    nlohmann::json& metadata = MetadataOf(updated);
    const nlohmann::json& old_metadata = (*old)["metadata"];
    metadata["name"] = request.name;
    if (!ns->empty()) metadata["namespace"] = *ns;
    for (const char* field : kServerOwnedMetadata) {
      if (old_metadata.contains(field)) {
        metadata[field] = old_metadata[field];
      } else {
        metadata.erase(field);
      }
    }
    metadata.erase("managedFields");
    if (old->contains("status")) {
      updated["status"] = (*old)["status"];
    } else {
      updated.erase("status");
    }
    if (IsDeleting(*old) && AddsFinalizer(*old, updated)) {
      return internal::Invalid(ref, request.name,
                               "metadata.finalizers: Forbidden: no new finalizers can be added if "
                               "the object is being deleted");
    }
    if (SpecPart(updated) != SpecPart(*old)) BumpGeneration(metadata);
  }

  if (SameObject(updated, *old)) return *old;
  if (IsDeleting(updated) && !HasFinalizers(updated)) {
    return CommitLocked(kube::WatchEventType::kDeleted, collection, key, std::move(updated));
  }
  return CommitLocked(kube::WatchEventType::kModified, collection, key, std::move(updated));
}

absl::StatusOr<nlohmann::json> FakeKubeClient::PatchLocked(const kube::ResourceRef& ref,
                                                           const std::string& name,
                                                           kube::PatchType type,
                                                           const nlohmann::json& patch,
                                                           const kube::PatchOptions& options) {
  const std::string& sub = options.subresource;
  if (!sub.empty() && sub != "status") {
    return internal::ApiStatus(404, "NotFound", "the server could not find the requested resource");
  }
  const nlohmann::json* old = FindLocked(CollectionOf(ref), {ref.namespace_, name});
  if (type == kube::PatchType::kApply) {
    if (options.field_manager.empty()) {
      return internal::BadRequest(
          "PATCH, application/apply-patch+yaml requires fieldManager to be set");
    }
    if (old == nullptr && sub.empty() && patch.is_object()) {
      nlohmann::json object = patch;
      MetadataOf(object)["name"] = name;
      return CreateLocked(ref, std::move(object));
    }
  }
  if (old == nullptr) return internal::NotFound(ref, name);

  nlohmann::json patched = *old;
  if (type == kube::PatchType::kJson) {
    if (!patch.is_array()) return internal::BadRequest("a JSON patch must be an array");
    try {
      patched = old->patch(patch);
    } catch (const nlohmann::json::exception& e) {
      return internal::Invalid(ref, name, absl::StrCat("the JSON patch failed: ", e.what()));
    }
  } else {
    if (!patch.is_object()) {
      return internal::BadRequest(
          "json: cannot unmarshal array into Go value of type map[string]interface {}");
    }
    patched.merge_patch(patch);
  }
  if (!patched.is_object()) return internal::BadRequest("patched object is not a JSON object");
  std::string patched_name = kube::ObjectName(patched);
  if (patched_name != name) {
    return internal::BadRequest(absl::StrCat("the name of the object (", patched_name,
                                             ") does not match the name on the URL (", name, ")"));
  }
  return WriteLocked({ref, name, std::move(patched), /*status_only=*/sub == "status"});
}

absl::Status FakeKubeClient::DeleteLocked(const kube::ResourceRef& ref, const std::string& name,
                                          const kube::DeleteOptions& options) {
  const std::string collection = CollectionOf(ref);
  const ObjectKey key{ref.namespace_, name};
  const nlohmann::json* old = FindLocked(collection, key);
  if (old == nullptr) return internal::NotFound(ref, name);
  auto uid_field = (*old)["metadata"].find("uid");
  std::string uid = uid_field != (*old)["metadata"].end() && uid_field->is_string()
                        ? uid_field->get<std::string>()
                        : "";
  if (!options.uid.empty() && options.uid != uid) {
    return internal::Conflict(ref, name,
                              absl::StrCat("Precondition failed: UID in precondition: ",
                                           options.uid, ", UID in object meta: ", uid));
  }
  std::string rv = kube::ObjectResourceVersion(*old);
  if (!options.resource_version.empty() && options.resource_version != rv) {
    return internal::Conflict(
        ref, name,
        absl::StrCat("Precondition failed: ResourceVersion in precondition: ",
                     options.resource_version, ", ResourceVersion in object meta: ", rv));
  }
  if (!HasFinalizers(*old)) {
    CommitLocked(kube::WatchEventType::kDeleted, collection, key, *old);
    return absl::OkStatus();
  }
  if (IsDeleting(*old)) return absl::OkStatus();
  nlohmann::json deleting = *old;
  nlohmann::json& meta = MetadataOf(deleting);
  meta["deletionTimestamp"] = NowText();
  meta["deletionGracePeriodSeconds"] = 0;
  BumpGeneration(meta);
  CommitLocked(kube::WatchEventType::kModified, collection, key, std::move(deleting));
  return absl::OkStatus();
}

}  // namespace hb::kubefake
