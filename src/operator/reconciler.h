// CapabilityReconciler: makes the world match the declarations of one identifier.
//
// Reconcile(identifier) reads the DeclarationIndex (declarations and mirrors as parsed from
// the informers' objects), then:
//  1. runs the winning declaration's heartbeat in the engine (Upsert), or stops it (paused,
//     invalid, Pattern-type, deleted) through the engine's removal, which revokes the lease
//     and deletes the key; the reconciler waits for etcd's confirmation up to
//     `etcd_timeout` on the Clock;
//  2. completes deletions: a Capability being deleted keeps its finalizer until its key
//     is confirmed gone from etcd;
//  3. keeps one mirror Capability per ConfigMap entry (created, updated, deleted);
//  4. writes status through the status subresource (merge patch: no conflicts), at once on
//     a transition, counters at most once per status_sync_period (longer when
//     counter_writes_per_second would be exceeded: counters never take more than that share
//     of the API budget, so transitions find it free), and records an Event for each phase
//     change; a heartbeat that is Pending for less than pending_grace is not written (its
//     first beat follows within moments: one write instead of two);
//  5. adds the finalizer to Capability resources that lack it.
// The result asks to be called again after a delay (counter refresh, pending status) or
// carries an error (the caller retries with backoff). One identifier is never reconciled
// on two threads at once (the work queue guarantees it); different identifiers may be.
// Thread-safe otherwise. With a ShardFilter (options.shards) only the identifiers this
// replica owns are reconciled; status.shard names the replica.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "capability/capability_status.h"
#include "common/clock.h"
#include "common/log_limiter.h"
#include "heartbeat/engine.h"
#include "kube/client.h"
#include "operator/declaration_index.h"
#include "operator/event_recorder.h"
#include "operator/shard_filter.h"

namespace hb::op {

struct ReconcilerOptions {
  std::string key_prefix = "/chora/capabilities/";
  absl::Duration status_sync_period = absl::Seconds(300);
  // The counter writes of all objects together stay at or below this rate: with N objects
  // the period is max(status_sync_period, N / rate). 0: no limit. The controller sets half
  // of --kube-api-qps.
  double counter_writes_per_second = 0;
  // A heartbeat that was Pending for less than this is not written as Pending.
  absl::Duration pending_grace = absl::Seconds(5);
  // How long a reconcile waits for etcd to confirm a key's removal before it fails (and is
  // retried with backoff).
  absl::Duration etcd_timeout = absl::Seconds(5);
  // False: every capability is run with check kind none ("health checks are turned off").
  bool health_checks = true;
  // --shards auto: only the identifiers it owns are reconciled (shard_filter.h); the others
  // are handed over. Null: every identifier is this replica's. Must outlive the reconciler.
  ShardFilter* shards = nullptr;
};

struct ReconcileResult {
  absl::Status status;                                  // non-OK: retry with backoff
  absl::Duration requeue_after = absl::ZeroDuration();  // zero: only on change
};

// The engine's view of a heartbeat, as the status module reads it.
capability::HeartbeatObservation Observe(const heartbeat::HeartbeatStatus& status);

class CapabilityReconciler {
 public:
  CapabilityReconciler(kube::KubeClient& kube, heartbeat::HeartbeatEngine& engine,
                       const DeclarationIndex& index, EventRecorder& events, Clock& clock,
                       ReconcilerOptions options);

  ReconcileResult Reconcile(const std::string& identifier);
  // Step 1 of Reconcile() alone, for an owned identifier whose winning declaration runs: starts
  // (or updates) its heartbeat without any API request. A replica that gains thousands of
  // identifiers at once thereby adopts their leases at once, before its reconciles (and their
  // status writes) catch up. Does nothing for an identifier not owned or not running.
  void StartHeartbeat(const std::string& identifier);

  // How many Capability objects (resources and mirrors) are in each phase, by source kind
  // ("resource" or "configmap"): {{source, phase} -> count}, for metrics.
  std::map<std::pair<std::string, std::string>, int64_t> PhaseCounts() const;

 private:
  // The object whose status is written: a Capability resource or a mirror.
  struct StatusTarget {
    kube::ObjectReference ref;
    int64_t generation = 0;
    std::string resource_version;  // of the indexed object
    const capability::CapabilityStatus* current = nullptr;
    const char* source_kind = "resource";  // or "configmap"
  };
  // The last status this reconciler wrote on an object, the version that write produced,
  // and the versions known to be older (written over, or produced by earlier writes): while
  // the index shows one of those, the write is the truth (its watch event has not arrived
  // yet), so it is neither written nor reported twice.
  struct Written {
    capability::CapabilityStatus status;
    std::string produced;
    std::set<std::string> older;
  };

  absl::Status StopHeartbeat(const std::string& identifier, bool delete_key);
  // `act` (an engine call) if this replica owns `identifier` (always without shards).
  bool IfOwned(const std::string& identifier, absl::FunctionRef<void()> act);
  // Another replica owns `identifier`: hand its heartbeat over and forget its objects.
  ReconcileResult HandOver(const std::string& identifier);
  // The heartbeat of `identifier` as its winning declaration (running) asks for it.
  heartbeat::CapabilitySpec SpecOf(const std::string& identifier,
                                   const capability::Declaration& winner) const;
  // Drops what is kept per object (phase, last writes) for the objects `identifier` no
  // longer has: deleted ones leave the phase metrics.
  void ForgetObjectsOtherThan(const std::string& identifier, const std::set<std::string>& targets);
  // Adds or removes the finalizer with a patch conditional on the indexed resourceVersion:
  // true when the object has it as asked, false when the object changed meanwhile (its
  // event brings the identifier back).
  absl::StatusOr<bool> SetFinalizer(const capability::Declaration& d, bool present);
  absl::Status FinishDeletion(const capability::Declaration& d);
  absl::Status SyncMirrors(const IndexEntry& entry);
  // Creates or updates the mirror `key` of entry `d`; never touches an object that is not
  // this entry's mirror (reported instead, as is a mirror the API server refuses).
  absl::Status SyncMirror(const IndexEntry& entry, const std::string& key,
                          const capability::Declaration& d);
  // The mirror's create found an object of that name: ours (the index lags) or reported.
  absl::Status MirrorNameInUse(const std::string& key, const capability::Declaration& d);
  // A Warning Event on the entry's ConfigMap and a log line, once per message and mirror.
  void ReportMirrorProblem(const capability::Declaration& d, const std::string& key,
                           const std::string& reason, const std::string& message);
  // Writes the status of one object if due; returns when to look again (zero: no need).
  absl::Duration SyncStatus(const StatusTarget& target, const capability::Declaration& own,
                            const capability::Declaration* winner, const std::string& identifier,
                            absl::Status& error);

  kube::KubeClient& kube_;
  heartbeat::HeartbeatEngine& engine_;
  const DeclarationIndex& index_;
  EventRecorder& events_;
  Clock& clock_;
  const ReconcilerOptions options_;

  mutable absl::Mutex mu_;
  // The period between counter writes of one object for the objects known now.
  absl::Duration CounterPeriodLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops what is kept for object `key`.
  void ForgetObjectLocked(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // object key -> when its counters were last written (Clock::Now())
  std::map<std::string, absl::Time> last_write_ ABSL_GUARDED_BY(mu_);
  // object key -> since when its heartbeat is Pending and not written as such
  std::map<std::string, absl::Time> pending_since_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Written> written_ ABSL_GUARDED_BY(mu_);
  // object key -> {source kind, phase} last computed
  std::map<std::string, std::pair<std::string, std::string>> phases_ ABSL_GUARDED_BY(mu_);
  // Identifiers whose key removal etcd has not confirmed yet: removed again when retried.
  std::set<std::string> unconfirmed_removals_ ABSL_GUARDED_BY(mu_);
  // identifier -> the object keys whose status it kept at its last reconcile
  std::map<std::string, std::set<std::string>> objects_ ABSL_GUARDED_BY(mu_);
  // object key -> the identifier that kept it last (an object can change identifier)
  std::map<std::string, std::string> owner_ ABSL_GUARDED_BY(mu_);
  // phase-change log lines: at most 20 per 10 s
  LogLimiter phase_log_ ABSL_GUARDED_BY(mu_){20, absl::Seconds(10)};
  // mirror key -> the problem last reported for it (MirrorNameTaken, MirrorRefused)
  std::map<std::string, std::string> mirror_problems_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb::op
