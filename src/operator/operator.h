// Operator: the controller's wiring. Informers feed the DeclarationIndex and a work queue
// of identifiers; worker threads run the CapabilityReconciler; the heartbeat engine's
// changes (first heartbeat, lease lost, ...) enqueue their identifier too, so a
// transition reaches the Capability's status within a second.
//
// Sources: Capability resources in every watched namespace (all when none is given),
// ConfigMaps matching a label selector, and ConfigMaps named one by one. Workers start
// only once every informer has listed, so that a restarted controller never stops a
// heartbeat it has not yet seen declared.
//
// Start() and Stop() are called from one thread; the rest is thread-safe. With leader
// election only the leader's workers run: reconciles, status writes and heartbeats.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/histogram.h"
#include "heartbeat/engine.h"
#include "informer/informer.h"
#include "informer/work_queue.h"
#include "kube/client.h"
#include "manifest/manifest.h"
#include "operator/declaration_index.h"
#include "operator/event_recorder.h"
#include "operator/reconciler.h"

namespace hb::op {

// Reconcile counters, named after controller-runtime's metrics.
struct ReconcileStats {
  std::atomic<uint64_t> success{0};
  std::atomic<uint64_t> error{0};
  std::atomic<uint64_t> requeue_after{0};
  std::atomic<int64_t> active_workers{0};
  LatencyHistogram duration;
};

struct OperatorOptions {
  std::vector<std::string> watch_namespaces;                       // empty: all namespaces
  std::vector<std::string> configmaps;                             // "namespace/name"
  std::string configmap_selector = "chora.dev/capabilities=true";  // empty: none
  int workers = 4;
  manifest::HeartbeatTiming defaults;
  ReconcilerOptions reconciler;
  std::string instance = "heartbeat-operator";  // reported in Events
};

class Operator {
 public:
  Operator(kube::KubeClient& kube, heartbeat::HeartbeatEngine& engine, Clock& clock,
           OperatorOptions options);
  ~Operator();

  // Starts the informers; the workers follow once the informers have synced and, when
  // `lead` is false, once Lead() is called (leader election: standbys keep their caches
  // warm but reconcile nothing).
  void Start(bool lead);
  // Lets the workers run (this replica became the leader).
  void Lead();
  // Reconciles every declared identifier again (the shard members changed): the heartbeats
  // of those owned start at once, the rest of each reconcile follows on the workers.
  void ResyncAll();
  // True once every informer has listed (a standby is ready too).
  bool Synced() const { return synced_.load(); }
  bool Leading() const { return leading_.load(); }
  // Stops informers and workers (in-flight reconciles finish first).
  void Stop();

  informer::WorkQueue& queue() { return *queue_; }
  const ReconcileStats& reconcile_stats() const { return stats_; }
  informer::WorkQueueMetrics QueueMetrics() const { return queue_->Metrics(); }
  int workers() const { return options_.workers; }
  std::map<std::pair<std::string, std::string>, int64_t> PhaseCounts() const {
    return reconciler_->PhaseCounts();
  }
  EventRecorder::Stats EventStats() const { return events_->stats(); }

 private:
  void OnCapability(const informer::InformerEvent& event);
  // `watch` tells the ConfigMap informers apart: one ConfigMap both named and labelled is
  // seen by two of them, and stays declared while either still has it.
  void OnConfigMap(size_t watch, const informer::InformerEvent& event);
  void Enqueue(const std::vector<std::string>& identifiers);
  void Work();
  // One reconcile; an exception (a bug, or a library throwing where it should not) becomes
  // an error, retried with backoff like any other, instead of ending the worker.
  ReconcileResult ReconcileSafely(const std::string& identifier);
  // Blocks until Lead() or Stop(); true when leading.
  bool WaitForLeadership();

  kube::KubeClient& kube_;
  heartbeat::HeartbeatEngine& engine_;
  Clock& clock_;
  const OperatorOptions options_;

  DeclarationIndex index_;
  std::unique_ptr<informer::WorkQueue> queue_;
  std::unique_ptr<EventRecorder> events_;
  std::unique_ptr<CapabilityReconciler> reconciler_;
  std::vector<std::unique_ptr<informer::Informer>> capability_informers_;
  std::vector<std::unique_ptr<informer::Informer>> configmap_informers_;
  CancelToken cancel_;
  std::vector<std::thread> threads_;
  std::atomic<bool> synced_{false};
  std::atomic<bool> leading_{false};
  ReconcileStats stats_;

  absl::Mutex mu_;
  // ConfigMap key -> the manifest errors last reported (to report each change once)
  std::map<std::string, std::vector<std::string>> reported_errors_ ABSL_GUARDED_BY(mu_);
  // ConfigMap key -> its latest object as each informer that has it saw it
  std::map<std::string, std::map<size_t, nlohmann::json>> configmap_views_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb::op
