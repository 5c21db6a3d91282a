// CapabilityReconciler, part 3 of Reconcile(): the mirror Capabilities of ConfigMap
// entries (see reconciler.h).
#include "absl/strings/str_cat.h"
#include "capability/configmap_source.h"
#include "common/log.h"
#include "operator/reconciler.h"

namespace hb::op {
namespace {

using capability::Declaration;

const kube::ResourceRef kCapabilities{"chora.dev", "v1alpha1", "capabilities", ""};

}  // namespace

absl::Status CapabilityReconciler::SyncMirrors(const IndexEntry& entry) {
  absl::Status result;
  std::map<std::string, const Declaration*> wanted;  // mirror key -> entry
  for (const Declaration& d : entry.declarations) {
    if (d.kind == Declaration::Kind::kConfigMap) wanted[capability::MirrorKey(d)] = &d;
  }
  for (const auto& [key, d] : wanted) {
    absl::Status synced = SyncMirror(entry, key, *d);
    if (!synced.ok() && result.ok()) result = synced;
  }
  for (const auto& [key, mirror] : entry.mirrors) {
    if (wanted.count(key) > 0) continue;
    absl::Status deleted =
        kube_.Delete(kCapabilities.InNamespace(mirror.ns), mirror.name, kube::DeleteOptions{});
    if (!deleted.ok() && !kube::IsNotFound(deleted) && result.ok()) result = deleted;
    if (deleted.ok()) {
      LogInfo("Mirror removed: its ConfigMap entry is gone",
              {{"object", key}, {"source", mirror.source}});
    }
  }
  return result;
}

absl::Status CapabilityReconciler::SyncMirror(const IndexEntry& entry, const std::string& key,
                                              const Declaration& d) {
  nlohmann::json desired = capability::MirrorObject(d);
  std::string source = capability::MirrorSource(d);
  auto existing = entry.mirrors.find(key);
  absl::StatusOr<nlohmann::json> written;
  if (existing != entry.mirrors.end()) {
    if (existing->second.source != source) {
      // A mirror of another entry under this name (made by hand, or a leftover): never
      // ours to change.
      ReportMirrorProblem(d, key, "MirrorNameTaken",
                          absl::StrCat("Capability ", key, " mirrors ", existing->second.source,
                                       ", not ", source, "; this entry is not mirrored"));
      return absl::OkStatus();
    }
    if (existing->second.spec == desired["spec"]) return absl::OkStatus();
    // Fields the entry no longer gives are removed (null), not left behind.
    nlohmann::json patch = {{"spec", kube::MergePatchFor(existing->second.spec, desired["spec"])}};
    written = kube_.Patch(kCapabilities.InNamespace(d.ns), existing->second.name,
                          kube::PatchType::kMerge, patch, kube::PatchOptions{});
  } else {
    written = kube_.Create(kCapabilities.InNamespace(d.ns), desired);
    if (!written.ok() && kube::IsAlreadyExists(written.status())) return MirrorNameInUse(key, d);
  }
  if (!written.ok() && kube::IsInvalid(written.status())) {
    // Refused by the API server's schema: retrying cannot help until the entry changes.
    ReportMirrorProblem(
        d, key, "MirrorRefused",
        absl::StrCat("the API server refused mirror ", key, ": ", written.status().message()));
    return absl::OkStatus();
  }
  if (!written.ok()) return written.status();
  absl::MutexLock lock(&mu_);
  mirror_problems_.erase(key);
  return absl::OkStatus();
}

absl::Status CapabilityReconciler::MirrorNameInUse(const std::string& key, const Declaration& d) {
  // The informers' index knows the object, unless it is the one just created and its
  // event has not arrived yet (then it is ours: nothing to do).
  std::string owner;
  if (index_.HasResource(key)) {
    owner = "is a Capability resource, not a mirror";
  } else if (auto mirror = index_.MirrorAt(key);
             mirror && mirror->source != capability::MirrorSource(d)) {
    owner = absl::StrCat("mirrors ", mirror->source);
  }
  if (owner.empty()) return absl::OkStatus();
  ReportMirrorProblem(d, key, "MirrorNameTaken",
                      absl::StrCat("Capability ", key, " already exists and ", owner, ", not ",
                                   capability::MirrorSource(d),
                                   "; it is left alone and this entry is not mirrored"));
  return absl::OkStatus();
}

void CapabilityReconciler::ReportMirrorProblem(const Declaration& d, const std::string& key,
                                               const std::string& reason,
                                               const std::string& message) {
  {
    absl::MutexLock lock(&mu_);
    std::string& last = mirror_problems_[key];
    if (last == message) return;  // reported already
    last = message;
  }
  LogWarning(absl::StrCat("Cannot mirror a ConfigMap entry: ", message),
             {{"reason", reason}, {"configmap", d.ObjectKey()}, {"key", d.key}});
  events_.Record(kube::ObjectReference{"v1", "ConfigMap", d.ns, d.name, d.uid}, /*warning=*/true,
                 reason, message);
}

}  // namespace hb::op
