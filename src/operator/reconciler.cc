#include "operator/reconciler.h"

#include <algorithm>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "capability/configmap_source.h"
#include "common/completion.h"
#include "common/log.h"
#include "heartbeat/health_key.h"
#include "heartbeat/health_value.h"

namespace hb::op {
namespace {

using capability::CapabilityStatus;
using capability::Declaration;
using capability::Phase;

const kube::ResourceRef kCapabilities{"chora.dev", "v1alpha1", "capabilities", ""};
constexpr char kCapabilityApiVersion[] = "chora.dev/v1alpha1";

absl::Duration MinPositive(absl::Duration a, absl::Duration b) {
  if (a <= absl::ZeroDuration()) return b;
  if (b <= absl::ZeroDuration()) return a;
  return std::min(a, b);
}

kube::ObjectReference CapabilityRef(const std::string& ns, const std::string& name,
                                    const std::string& uid) {
  return kube::ObjectReference{kCapabilityApiVersion, "Capability", ns, name, uid};
}

Phase PhaseOfHealth(heartbeat::Health health) {
  switch (health) {
    case heartbeat::Health::kPending:
      return Phase::kPending;
    case heartbeat::Health::kHealthy:
      return Phase::kHealthy;
    case heartbeat::Health::kFailing:
      return Phase::kFailing;
    case heartbeat::Health::kLeaseLost:
      return Phase::kLeaseLost;
    case heartbeat::Health::kDeregistered:
      return Phase::kDown;
  }
  return Phase::kPending;
}

}  // namespace

capability::HeartbeatObservation Observe(const heartbeat::HeartbeatStatus& status) {
  capability::HeartbeatObservation o;
  o.phase = PhaseOfHealth(status.health);
  o.message = status.message;
  if (status.lease_id != 0) o.lease_id = heartbeat::LeaseIdHex(status.lease_id);
  o.heartbeat_count = status.heartbeat_count;
  o.last_heartbeat = status.last_heartbeat;
  o.check = status.check;
  return o;
}

CapabilityReconciler::CapabilityReconciler(kube::KubeClient& kube,
                                           heartbeat::HeartbeatEngine& engine,
                                           const DeclarationIndex& index, EventRecorder& events,
                                           Clock& clock, ReconcilerOptions options)
    : kube_(kube),
      engine_(engine),
      index_(index),
      events_(events),
      clock_(clock),
      options_(std::move(options)) {}

namespace {

// The declaration that decides the identifier's heartbeat (null: none).
const Declaration* WinnerOf(const IndexEntry& entry) {
  int index = capability::Winner(entry.declarations);
  return index >= 0 ? &entry.declarations[index] : nullptr;
}

bool Runs(const Declaration* winner) {
  return winner != nullptr && !winner->deleting && winner->invalid.empty() && winner->service &&
         !winner->paused;
}

}  // namespace

heartbeat::CapabilitySpec CapabilityReconciler::SpecOf(const std::string& identifier,
                                                       const Declaration& winner) const {
  heartbeat::CapabilitySpec spec{
      identifier, absl::Seconds(winner.interval_seconds), winner.ttl_seconds, winner.source, {}};
  spec.check = std::make_shared<const check::CheckSpec>(
      options_.health_checks ? winner.check : check::NoCheck("health checks are turned off"));
  return spec;
}

void CapabilityReconciler::StartHeartbeat(const std::string& identifier) {
  IndexEntry entry = index_.Get(identifier);
  const Declaration* winner = WinnerOf(entry);
  if (!Runs(winner)) return;  // stopping is the full reconcile's business
  heartbeat::CapabilitySpec spec = SpecOf(identifier, *winner);
  IfOwned(identifier, [&] { engine_.Upsert(spec).IgnoreError(); });  // Reconcile() reports
}

ReconcileResult CapabilityReconciler::Reconcile(const std::string& identifier) {
  ReconcileResult result;
  if (!IfOwned(identifier, [] {})) return HandOver(identifier);
  IndexEntry entry = index_.Get(identifier);
  const Declaration* winner = WinnerOf(entry);
  bool run = Runs(winner);

  // 1. The heartbeat.
  if (run) {
    heartbeat::CapabilitySpec spec = SpecOf(identifier, *winner);
    absl::Status upserted;
    if (!IfOwned(identifier, [&] { upserted = engine_.Upsert(spec); })) return HandOver(identifier);
    if (!upserted.ok()) result.status = upserted;
  } else {
    absl::Status stopped = StopHeartbeat(identifier, winner != nullptr && winner->deleting);
    if (absl::IsAborted(stopped)) return HandOver(identifier);  // the members changed
    if (!stopped.ok()) result.status = stopped;
  }

  // 2. Deletions whose cleanup is done (the key is gone, or another declaration runs it).
  for (const Declaration& d : entry.declarations) {
    if (d.kind != Declaration::Kind::kResource || !d.deleting || !d.HasFinalizer()) continue;
    if (winner == &d && !result.status.ok()) continue;  // its key is not confirmed gone
    absl::Status finished = FinishDeletion(d);
    if (!finished.ok()) result.status = finished;
  }

  // 3. Mirrors of ConfigMap entries.
  absl::Status mirrored = SyncMirrors(entry);
  if (!mirrored.ok() && result.status.ok()) result.status = mirrored;

  // 4. Status of every resource and mirror; 5. finalizers.
  std::set<std::string> targets;  // object keys whose status this identifier keeps
  for (const Declaration& d : entry.declarations) {
    StatusTarget target;
    if (d.kind == Declaration::Kind::kResource) {
      if (d.deleting) continue;
      if (!d.HasFinalizer()) {
        absl::StatusOr<bool> finalized = SetFinalizer(d, /*present=*/true);
        if (!finalized.ok() && result.status.ok()) result.status = finalized.status();
      }
      target = StatusTarget{CapabilityRef(d.ns, d.name, d.uid), d.generation, d.resource_version,
                            &d.status, "resource"};
    } else {
      auto mirror = entry.mirrors.find(capability::MirrorKey(d));
      if (mirror == entry.mirrors.end()) continue;  // created just now: its watch event follows
      const capability::Mirror& m = mirror->second;
      if (m.source != capability::MirrorSource(d)) continue;  // not this entry's mirror
      target = StatusTarget{CapabilityRef(m.ns, m.name, m.uid), m.generation, m.resource_version,
                            &m.status, "configmap"};
    }
    targets.insert(target.ref.namespace_ + "/" + target.ref.name);
    absl::Status error;
    absl::Duration again = SyncStatus(target, d, winner, identifier, error);
    result.requeue_after = MinPositive(result.requeue_after, again);
    if (!error.ok() && result.status.ok()) result.status = error;
  }
  if (run) {
    absl::Duration period;
    {
      absl::MutexLock lock(&mu_);
      period = CounterPeriodLocked();
    }
    result.requeue_after = MinPositive(result.requeue_after, period);
  }
  ForgetObjectsOtherThan(identifier, targets);
  return result;
}

bool CapabilityReconciler::IfOwned(const std::string& identifier, absl::FunctionRef<void()> act) {
  if (options_.shards == nullptr) {
    act();
    return true;
  }
  return options_.shards->RunIfOwned(identifier, act);
}

ReconcileResult CapabilityReconciler::HandOver(const std::string& identifier) {
  // Usually done already by the membership change itself; a no-op for an identifier this
  // replica never ran.
  engine_.Remove(identifier, heartbeat::HeartbeatEngine::Removal::kHandOver);
  ForgetObjectsOtherThan(identifier, {});
  absl::MutexLock lock(&mu_);
  unconfirmed_removals_.erase(identifier);
  return {};
}

void CapabilityReconciler::ForgetObjectsOtherThan(const std::string& identifier,
                                                  const std::set<std::string>& targets) {
  absl::MutexLock lock(&mu_);
  for (const std::string& key : targets) owner_[key] = identifier;
  std::set<std::string>& known = objects_[identifier];
  for (const std::string& key : known) {
    auto owner = owner_.find(key);
    if (targets.count(key) > 0 || owner == owner_.end() || owner->second != identifier) continue;
    // Deleted, deleting, or no longer declaring anything: out of the phase metrics.
    owner_.erase(owner);
    ForgetObjectLocked(key);
  }
  known = targets;
  if (known.empty()) objects_.erase(identifier);
}

absl::Status CapabilityReconciler::StopHeartbeat(const std::string& identifier, bool delete_key) {
  bool running = engine_.GetStatus(identifier).has_value();
  bool unconfirmed;
  {
    absl::MutexLock lock(&mu_);
    unconfirmed = unconfirmed_removals_.count(identifier) > 0;
  }
  if (!running && !delete_key && !unconfirmed) return absl::OkStatus();
  // The engine revokes the lease and deletes the key (also one this process never held);
  // waiting for the answer makes the removal confirmed.
  std::string key = heartbeat::HealthKey(options_.key_prefix, identifier);
  auto done = std::make_shared<Completion>(clock_);
  bool owned = IfOwned(identifier, [&] {
    engine_.Remove(identifier, heartbeat::HeartbeatEngine::Removal::kDeleteKey,
                   [done](absl::Status status) { done->Set(std::move(status)); });
  });
  if (!owned) return absl::AbortedError(absl::StrCat(identifier, " moved to another replica"));
  std::optional<absl::Status> removed = done->WaitUntil(clock_.Now() + options_.etcd_timeout);
  absl::Status status = removed ? *removed
                                : absl::DeadlineExceededError(absl::StrCat(
                                      "etcd did not confirm the removal of ", key, " within ",
                                      absl::FormatDuration(options_.etcd_timeout)));
  {
    absl::MutexLock lock(&mu_);
    if (status.ok()) {
      unconfirmed_removals_.erase(identifier);
    } else {
      unconfirmed_removals_.insert(identifier);
    }
  }
  if (!status.ok()) return status;
  if (running || unconfirmed) {
    LogInfo("Heartbeat stopped; health key removed", {{"id", identifier}, {"key", key}});
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> CapabilityReconciler::SetFinalizer(const Declaration& d, bool present) {
  if (d.HasFinalizer() == present) return true;
  nlohmann::json finalizers = nlohmann::json::array();
  for (const std::string& f : d.finalizers) {
    if (f != capability::kFinalizer) finalizers.push_back(f);
  }
  if (present) finalizers.push_back(std::string(capability::kFinalizer));
  // The resourceVersion makes the patch conditional: never drop someone else's finalizer.
  nlohmann::json patch = {
      {"metadata", {{"finalizers", finalizers}, {"resourceVersion", d.resource_version}}}};
  auto patched = kube_.Patch(kCapabilities.InNamespace(d.ns), d.name, kube::PatchType::kMerge,
                             patch, kube::PatchOptions{});
  if (!patched.ok() && kube::IsConflict(patched.status())) {
    // The object changed since the index saw it (often: our own status write). Its watch
    // event is on the way and brings this identifier back with the new version.
    LogDebug("finalizer patch raced a newer version; waiting for its event",
             {{"object", d.ObjectKey()}, {"resourceVersion", d.resource_version}});
    return false;
  }
  if (!patched.ok() && !kube::IsNotFound(patched.status())) return patched.status();
  return true;
}

absl::Status CapabilityReconciler::FinishDeletion(const Declaration& d) {
  absl::StatusOr<bool> removed = SetFinalizer(d, /*present=*/false);
  if (!removed.ok()) return removed.status();
  if (!*removed) return absl::OkStatus();  // raced: done with the next version
  LogInfo("Capability deleted; finalizer removed", {{"object", d.ObjectKey()}});
  absl::MutexLock lock(&mu_);
  ForgetObjectLocked(d.ObjectKey());
  return absl::OkStatus();
}

void CapabilityReconciler::ForgetObjectLocked(const std::string& key) {
  phases_.erase(key);
  last_write_.erase(key);
  written_.erase(key);
  pending_since_.erase(key);
}

absl::Duration CapabilityReconciler::CounterPeriodLocked() const {
  if (options_.counter_writes_per_second <= 0) return options_.status_sync_period;
  absl::Duration spread =
      absl::Seconds(static_cast<double>(phases_.size()) / options_.counter_writes_per_second);
  return std::max(options_.status_sync_period, spread);
}

std::map<std::pair<std::string, std::string>, int64_t> CapabilityReconciler::PhaseCounts() const {
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, source_phase] : phases_) ++counts[source_phase];
  return counts;
}

absl::Duration CapabilityReconciler::SyncStatus(const StatusTarget& target, const Declaration& own,
                                                const Declaration* winner,
                                                const std::string& identifier,
                                                absl::Status& error) {
  capability::StatusInputs inputs;
  inputs.declaration = &own;
  inputs.winner = winner;
  if (winner == &own) {
    if (auto running = engine_.GetStatus(identifier)) inputs.heartbeat = Observe(*running);
  }
  inputs.etcd_key = heartbeat::HealthKey(options_.key_prefix, identifier);
  if (options_.shards != nullptr) inputs.shard = options_.shards->member();
  inputs.generation = target.generation;
  inputs.now = clock_.WallNow();
  absl::Time now = clock_.Now();
  std::string key = target.ref.namespace_ + "/" + target.ref.name;
  CapabilityStatus current = *target.current;
  {
    absl::MutexLock lock(&mu_);
    auto written = written_.find(key);
    if (written != written_.end()) {
      if (written->second.older.count(target.resource_version) > 0) {
        current = written->second.status;  // the index has not seen our last write yet
      } else {
        written_.erase(written);  // it has (or something newer): the index is the truth
      }
    }
  }
  CapabilityStatus desired = capability::DesiredStatus(inputs, current);
  Phase phase = desired.phase.value_or(Phase::kPending);
  // A heartbeat just started (or adopted after a restart) is Pending until its first beat,
  // moments later: writing Pending, then Healthy, would double the writes and Events of
  // every start-up. The engine's change hook brings the identifier back at the beat.
  absl::Duration pending_held = absl::ZeroDuration();  // > 0: Pending is not written yet
  {
    absl::MutexLock lock(&mu_);
    phases_[key] = {target.source_kind, capability::PhaseName(phase)};
    if (phase == Phase::kPending && inputs.heartbeat.has_value()) {
      absl::Duration pending_for = now - pending_since_.try_emplace(key, now).first->second;
      pending_held = options_.pending_grace - pending_for;
    } else {
      pending_since_.erase(key);
    }
  }
  if (desired == current) return absl::ZeroDuration();
  if (pending_held > absl::ZeroDuration()) return pending_held;
  if (!capability::IsTransition(current, desired)) {
    absl::MutexLock lock(&mu_);
    auto last = last_write_.find(key);
    absl::Duration period = CounterPeriodLocked();
    if (last != last_write_.end() && now - last->second < period) {
      return period - (now - last->second);
    }
  }
  auto patched = kube_.Patch(kCapabilities.InNamespace(target.ref.namespace_), target.ref.name,
                             kube::PatchType::kMerge, {{"status", RenderStatusPatch(desired)}},
                             kube::PatchOptions{"status", "", false});
  if (!patched.ok()) {
    if (!kube::IsNotFound(patched.status())) error = patched.status();
    return absl::ZeroDuration();
  }
  {
    absl::MutexLock lock(&mu_);
    last_write_[key] = now;
    Written& w = written_[key];
    w.older.insert(target.resource_version);
    if (!w.produced.empty()) w.older.insert(w.produced);
    w.produced = kube::ObjectResourceVersion(*patched);
    w.status = desired;
  }
  if (desired.flapping != current.flapping) {
    // One Event when flapping starts (and one when it ends) instead of one per change.
    events_.Record(target.ref, desired.flapping, desired.flapping ? "Flapping" : "Stable",
                   desired.flapping ? absl::StrCat("health check keeps changing state (now ",
                                                   capability::PhaseName(phase), ")")
                                    : absl::StrCat("health check stable again (",
                                                   capability::PhaseName(phase), ")"));
  }
  if (current.phase != desired.phase) {
    // An outage changes every capability at once: a few example lines and a count, not
    // 10,000 lines (the phase metrics and the status carry each one).
    int64_t suppressed = 0;
    bool log;
    {
      absl::MutexLock lock(&mu_);
      log = phase_log_.Allow(now, &suppressed);
    }
    if (log) {
      LogInfo(absl::StrCat("Capability ", capability::PhaseName(phase)),
              {{"object", key},
               {"id", identifier},
               {"message", desired.message},
               {"similar_lines_suppressed", suppressed}});
    }
    bool flapping = desired.flapping && current.flapping;
    if (!flapping) {
      events_.Record(target.ref, capability::IsWarning(phase), capability::PhaseName(phase),
                     desired.message);
    }
  }
  return absl::ZeroDuration();
}

}  // namespace hb::op
