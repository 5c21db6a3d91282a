// The controller command's wiring, apart from its flags: the operator's options, leader
// election on its own thread, and the metrics and probe servers (internal to controller/).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/cancel.h"
#include "controller_command.h"
#include "engine_host.h"
#include "kube/client.h"
#include "kube/rest_client.h"
#include "leader/leader_elector.h"
#include "metrics/servers.h"
#include "operator/operator.h"
#include "shard_wiring.h"

namespace hb::cli {

// The operator's options from the flags; `instance` names this replica.
op::OperatorOptions OperatorOptionsFrom(const ControllerFlags& flags, const std::string& instance,
                                        absl::Duration etcd_timeout);

// The timeout of each leader-election API call: half of what the renew deadline leaves
// after one retry period (at least 1 s), so that one attempt (a read and a write) ends
// before the deadline.
absl::Duration ElectionCallTimeout(const ControllerFlags& flags);

// Leader election for --leader-elect, on a thread of its own, and the etcd fence of the
// engine's writes (etcd/fenced_client.h). Each renewal extends the write permit to its
// renew deadline. Becoming the leader takes the fence key in etcd (retried at each renewal
// until etcd answers), then re-reads the health keys (to adopt what the former leader
// renewed) and lets the operator's workers run. Losing the Lease, or finding the fence taken
// by another replica, sets Lost(). Without --leader-elect it does nothing.
class LeaderElection {
 public:
  // `kube` (null without --leader-elect) and `host` must outlive this object.
  // With `shards` (--shards auto) it elects this replica on a Lease of its own (see
  // shard_wiring.h), once the operator's caches have listed (Synced()), so that the others
  // keep this replica's share until it can adopt it: taking the fence lets the workers run
  // and starts the join wait; the
  // write permit is also capped by CapPermit(), the validity of the last membership view.
  LeaderElection(const ControllerFlags& flags, const std::string& instance, kube::KubeClient* kube,
                 EngineHost& host, op::Operator& controller, ShardCoordinator* shards = nullptr);
  // Writes stop at `until` at the latest, whatever the Lease's renewals say (monotonic).
  void CapPermit(absl::Time until);
  ~LeaderElection();  // Stop()

  bool enabled() const { return elector_ != nullptr; }
  const std::string& lease_namespace() const { return lease_namespace_; }
  bool Lost() const { return shared_->lost.load(); }
  leader::LeaderElector* elector() { return elector_.get(); }
  // Ends the campaign; with `release`, gives the Lease up so a standby takes over at once.
  void Stop(bool release);

 private:
  // What etcd callbacks may touch; they can outlive this object (`alive` says whether).
  struct Shared {
    absl::Mutex mu;
    bool alive ABSL_GUARDED_BY(mu) = true;
    bool taking ABSL_GUARDED_BY(mu) = false;
    bool leading ABSL_GUARDED_BY(mu) = false;  // fence taken, operator told to lead
    absl::Time renewed_until ABSL_GUARDED_BY(mu) = absl::InfinitePast();
    absl::Time cap ABSL_GUARDED_BY(mu) = absl::InfiniteFuture();
    std::atomic<bool> lost{false};
  };
  void TakeFence();
  void UpdatePermit();

  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  EngineHost& host_;
  op::Operator& controller_;
  ShardCoordinator* shards_ = nullptr;
  std::string lease_namespace_;
  std::string fence_key_;
  std::string fence_holder_;
  std::unique_ptr<leader::LeaderElector> elector_;
  CancelToken cancel_;
  std::thread thread_;
};

// /metrics and /healthz + /readyz, when their bind addresses are not "0". A server that
// cannot listen is logged and left out; the controller runs on.
struct ControllerServers {
  std::unique_ptr<metrics::MetricsServer> metrics;
  std::unique_ptr<metrics::HealthServer> health;
};
ControllerServers StartServers(const ControllerFlags& flags, EngineHost& host,
                               const kube::RestKubeClient& kube, op::Operator& controller,
                               LeaderElection& election);

}  // namespace hb::cli
