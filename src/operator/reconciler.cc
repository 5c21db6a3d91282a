#include "operator/reconciler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "capability/capability_status.h"
#include "capability/configmap_source.h"
#include "common/log.h"

namespace hb::op {
namespace {

using capability::Declaration;

const kube::ResourceRef kCapabilities{"chora.dev", "v1alpha1", "capabilities", ""};

absl::Duration MinPositive(absl::Duration a, absl::Duration b) {
  if (a <= absl::ZeroDuration()) return b;
  if (b <= absl::ZeroDuration()) return a;
  return std::min(a, b);
}

bool Warning(const std::string& phase) {
  return phase == "Failing" || phase == "LeaseLost" || phase == "Invalid" || phase == "Conflict";
}

}  // namespace

CapabilityReconciler::CapabilityReconciler(kube::KubeClient& kube,
                                           heartbeat::HeartbeatEngine& engine,
                                           etcd::EtcdClient& etcd, const DeclarationIndex& index,
                                           CacheLookup capabilities, CacheLookup configmaps,
                                           EventRecorder& events, Clock& clock,
                                           ReconcilerOptions options)
    : kube_(kube),
      engine_(engine),
      etcd_(etcd),
      index_(index),
      capabilities_(std::move(capabilities)),
      configmaps_(std::move(configmaps)),
      events_(events),
      clock_(clock),
      options_(std::move(options)) {}

ReconcileResult CapabilityReconciler::Reconcile(const std::string& identifier) {
  ReconcileResult result;
  IndexEntry entry = index_.Get(identifier);
  int winner_index = capability::Winner(entry.declarations);
  const Declaration* winner = winner_index >= 0 ? &entry.declarations[winner_index] : nullptr;
  bool run = winner != nullptr && !winner->deleting && winner->invalid.empty() && winner->service &&
             !winner->paused;

  // 1. The heartbeat.
  if (run) {
    heartbeat::CapabilitySpec spec{identifier, absl::Seconds(winner->interval_seconds),
                                   winner->ttl_seconds, winner->source};
    absl::Status upserted = engine_.Upsert(spec);
    if (!upserted.ok()) result.status = upserted;
  } else {
    absl::Status stopped = StopHeartbeat(identifier, winner != nullptr && winner->deleting);
    if (!stopped.ok()) result.status = stopped;
  }

  // 2. Deletions whose cleanup is done (the key is gone, or another declaration runs it).
  for (const Declaration& d : entry.declarations) {
    if (d.kind != Declaration::Kind::kResource || !d.deleting || !d.has_finalizer) continue;
    if (winner == &d && !result.status.ok()) continue;  // its key is not confirmed gone
    absl::Status finished = FinishDeletion(d);
    if (!finished.ok()) result.status = finished;
  }

  // 3. Mirrors of ConfigMap entries.
  absl::Status mirrored = SyncMirrors(entry);
  if (!mirrored.ok() && result.status.ok()) result.status = mirrored;

  // 4. Status of every resource and mirror; 5. finalizers.
  for (const Declaration& d : entry.declarations) {
    std::optional<nlohmann::json> object;
    if (d.kind == Declaration::Kind::kResource) {
      if (d.deleting) continue;
      object = capabilities_(d.ObjectKey());
      absl::Status finalized = EnsureFinalizer(d);
      if (!finalized.ok() && result.status.ok()) result.status = finalized;
    } else {
      object = capabilities_(capability::MirrorKey(d));
    }
    if (!object) continue;  // a mirror created just now: its status follows its watch event
    absl::Status error;
    absl::Duration again = SyncStatus(*object, d, winner, identifier, error);
    result.requeue_after = MinPositive(result.requeue_after, again);
    if (!error.ok() && result.status.ok()) result.status = error;
  }
  if (run) result.requeue_after = MinPositive(result.requeue_after, options_.status_sync_period);
  return result;
}

absl::Status CapabilityReconciler::StopHeartbeat(const std::string& identifier,
                                                 bool force_delete_key) {
  bool running = engine_.GetStatus(identifier).has_value();
  if (running) engine_.Remove(identifier, /*revoke=*/true);
  if (!running && !force_delete_key) return absl::OkStatus();
  // The revocation is asynchronous; deleting the key now makes its removal immediate and
  // confirmed (and covers a key this process never held).
  std::string key = absl::StrCat(options_.key_prefix, identifier, "/health");
  auto deleted = etcd::DeleteRangeSync(etcd_, etcd::RangeRequest{key, "", 0, false});
  if (!deleted.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot delete ", key, " from etcd: ", deleted.status().message()));
  }
  if (running || deleted->deleted > 0) {
    LogInfo("Heartbeat stopped; health key removed", {{"id", identifier}, {"key", key}});
  }
  return absl::OkStatus();
}

absl::Status CapabilityReconciler::SetFinalizer(const Declaration& d, bool present) {
  auto object = capabilities_(d.ObjectKey());
  if (!object) return absl::OkStatus();
  const std::string ours = capability::kFinalizer;
  nlohmann::json finalizers = nlohmann::json::array();
  bool had = false;
  for (const auto& f : (*object)["metadata"].value("finalizers", nlohmann::json::array())) {
    if (f == ours) {
      had = true;
    } else {
      finalizers.push_back(f);
    }
  }
  if (had == present) return absl::OkStatus();  // already so (the index may lag the cache)
  if (present) finalizers.push_back(ours);
  // The resourceVersion makes the patch conditional: never drop someone else's finalizer.
  nlohmann::json patch = {
      {"metadata",
       {{"finalizers", finalizers}, {"resourceVersion", kube::ObjectResourceVersion(*object)}}}};
  auto patched = kube_.Patch(kCapabilities.InNamespace(d.ns), d.name, kube::PatchType::kMerge,
                             patch, kube::PatchOptions{});
  if (!patched.ok() && !kube::IsNotFound(patched.status())) return patched.status();
  return absl::OkStatus();
}

absl::Status CapabilityReconciler::FinishDeletion(const Declaration& d) {
  absl::Status removed = SetFinalizer(d, /*present=*/false);
  if (!removed.ok()) return removed;
  LogInfo("Capability deleted; finalizer removed", {{"object", d.ObjectKey()}});
  absl::MutexLock lock(&mu_);
  last_write_.erase(d.ObjectKey());
  phases_.erase(d.ObjectKey());
  return absl::OkStatus();
}

absl::Status CapabilityReconciler::EnsureFinalizer(const Declaration& d) {
  if (d.has_finalizer) return absl::OkStatus();
  return SetFinalizer(d, /*present=*/true);
}

absl::Status CapabilityReconciler::SyncMirrors(const IndexEntry& entry) {
  absl::Status result;
  std::map<std::string, const Declaration*> wanted;  // mirror key -> entry
  for (const Declaration& d : entry.declarations) {
    if (d.kind == Declaration::Kind::kConfigMap) {
      wanted[capability::MirrorKey(d)] = &d;
    }
  }
  for (const auto& [key, d] : wanted) {
    auto configmap = configmaps_(d->ns + "/" + d->name);
    std::string uid = configmap ? (*configmap)["metadata"].value("uid", "") : "";
    nlohmann::json desired = capability::MirrorObject(*d, uid);
    auto existing = capabilities_(key);
    absl::StatusOr<nlohmann::json> written;
    if (!existing) {
      written = kube_.Create(kCapabilities.InNamespace(d->ns), desired);
      if (!written.ok() && kube::IsAlreadyExists(written.status())) continue;  // cache lags
    } else if ((*existing)["spec"] != desired["spec"]) {
      nlohmann::json patch = {{"spec", desired["spec"]}};
      written = kube_.Patch(kCapabilities.InNamespace(d->ns),
                            (*existing)["metadata"]["name"].get<std::string>(),
                            kube::PatchType::kMerge, patch, kube::PatchOptions{});
    } else {
      continue;
    }
    if (!written.ok() && result.ok()) result = written.status();
  }
  for (const auto& [key, source] : entry.mirrors) {
    if (wanted.count(key) > 0) continue;
    size_t slash = key.find('/');
    absl::Status deleted = kube_.Delete(kCapabilities.InNamespace(key.substr(0, slash)),
                                        key.substr(slash + 1), kube::DeleteOptions{});
    if (!deleted.ok() && !kube::IsNotFound(deleted) && result.ok()) result = deleted;
    if (deleted.ok())
      LogInfo("Mirror removed: its ConfigMap entry is gone", {{"object", key}, {"source", source}});
  }
  return result;
}

std::map<std::pair<std::string, std::string>, int64_t> CapabilityReconciler::PhaseCounts() const {
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, source_phase] : phases_) ++counts[source_phase];
  return counts;
}

absl::Duration CapabilityReconciler::SyncStatus(const nlohmann::json& object,
                                                const Declaration& own, const Declaration* winner,
                                                const std::string& identifier,
                                                absl::Status& error) {
  capability::StatusInputs inputs;
  inputs.declaration = &own;
  inputs.winner = winner;
  if (winner == &own) inputs.engine = engine_.GetStatus(identifier);
  inputs.etcd_key = absl::StrCat(options_.key_prefix, identifier, "/health");
  inputs.now = clock_.Now();
  Declaration with_generation = own;
  with_generation.generation = object["metadata"].value("generation", int64_t{0});
  inputs.declaration = &with_generation;
  if (winner == &own) inputs.winner = &with_generation;
  nlohmann::json current = object.value("status", nlohmann::json::object());
  nlohmann::json desired = capability::DesiredStatus(inputs, current);
  std::string key = kube::ObjectNamespace(object) + "/" + kube::ObjectName(object);
  {
    absl::MutexLock lock(&mu_);
    phases_[key] = {own.kind == Declaration::Kind::kResource ? "resource" : "configmap",
                    desired["phase"].get<std::string>()};
  }
  if (desired == current) return absl::ZeroDuration();
  bool transition = capability::IsTransition(current, desired);
  if (!transition) {
    absl::MutexLock lock(&mu_);
    auto last = last_write_.find(key);
    if (last != last_write_.end() && inputs.now - last->second < options_.status_sync_period) {
      return options_.status_sync_period - (inputs.now - last->second);
    }
  }
  auto patched = kube_.Patch(kCapabilities.InNamespace(kube::ObjectNamespace(object)),
                             kube::ObjectName(object), kube::PatchType::kMerge,
                             {{"status", desired}}, kube::PatchOptions{"status", "", false});
  if (!patched.ok()) {
    if (!kube::IsNotFound(patched.status())) error = patched.status();
    return absl::ZeroDuration();
  }
  {
    absl::MutexLock lock(&mu_);
    last_write_[key] = inputs.now;
  }
  std::string old_phase = current.value("phase", "");
  std::string phase = desired["phase"].get<std::string>();
  if (phase != old_phase) {
    LogInfo(absl::StrCat("Capability ", phase),
            {{"object", key}, {"id", identifier}, {"message", desired["message"]}});
    events_.Record(object, Warning(phase), phase, desired["message"].get<std::string>());
  }
  return absl::ZeroDuration();
}

}  // namespace hb::op
