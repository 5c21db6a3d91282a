// OperatorCollector: the operator's Prometheus metrics, read at scrape time from the
// engine's, work queue's and reconciler's own counters (so prometheus-cpp stays in this
// module and nothing is counted twice).
//
// Families: heartbeat_operator_* (heartbeats, keep-alives, put/keep-alive/grant latency,
// leases active/lost/granted/adopted/revoked, capabilities by source and phase, etcd
// endpoint up, lag and congestion; notifications sent, failed, rejected and dropped by sink,
// the storm guard; health checks by kind and result, their latency,
// capabilities by check state), controller-runtime's controller_runtime_reconcile_*
// and workqueue_* names, and leader_election_master_status; in controller mode also the
// Kubernetes client's rate limiting and the Events written, correlated and dropped. Per-capability
// series (last success time, TTL remaining) only when asked for, since 100,000 capabilities must
// not explode cardinality. Thread-safe (Collect may run on any thread).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "alert/notifier.h"
#include "check/checker.h"
#include "common/clock.h"
#include "common/token_bucket.h"
#include "heartbeat/engine.h"
#include "informer/work_queue.h"
#include "operator/operator.h"

namespace hb::metrics {

struct EndpointState {
  std::string endpoint;
  bool up = false;
};

struct MetricsSources {
  const heartbeat::HeartbeatEngine* engine = nullptr;
  const check::Checker* checker = nullptr;   // optional: health check metrics
  const op::Operator* controller = nullptr;  // optional: standalone mode has none
  std::function<bool()> is_leader;           // optional: no leader election
  std::string leader_election_id = "heartbeat-operator";
  std::function<std::vector<EndpointState>()> etcd_endpoints;  // optional
  bool per_capability = false;
  Clock* clock = nullptr;
  // optional: the Kubernetes client's rate limiter (controller mode)
  std::function<TokenBucket::Stats()> kube_rate_limit;
  const alert::Notifier* notifier = nullptr;  // optional: notifications are off
};

class OperatorCollector final : public prometheus::Collectable {
 public:
  explicit OperatorCollector(MetricsSources sources);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  void CollectEngine(std::vector<prometheus::MetricFamily>& out) const;
  void CollectController(std::vector<prometheus::MetricFamily>& out) const;
  void CollectCapabilities(std::vector<prometheus::MetricFamily>& out) const;
  void CollectChecks(std::vector<prometheus::MetricFamily>& out) const;
  void CollectNotifications(std::vector<prometheus::MetricFamily>& out) const;

  const MetricsSources sources_;
};

}  // namespace hb::metrics
