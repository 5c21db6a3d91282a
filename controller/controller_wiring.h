// The controller command's wiring, apart from its flags: the operator's options, leader
// election on its own thread, and the metrics and probe servers (internal to controller/).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/cancel.h"
#include "controller_command.h"
#include "engine_host.h"
#include "kube/client.h"
#include "leader/leader_elector.h"
#include "metrics/servers.h"
#include "operator/operator.h"

namespace hb::cli {

// The operator's options from the flags; `instance` names this replica.
op::OperatorOptions OperatorOptionsFrom(const ControllerFlags& flags, const std::string& instance,
                                        absl::Duration etcd_timeout);

// Leader election for --leader-elect, on a thread of its own. Becoming the leader re-reads
// the health keys (to adopt what the former leader renewed) and lets the operator's workers
// run; losing it sets Lost(). Without --leader-elect it does nothing.
class LeaderElection {
 public:
  LeaderElection(const ControllerFlags& flags, const std::string& instance, kube::KubeClient& kube,
                 heartbeat::HeartbeatEngine& engine, op::Operator& controller);
  ~LeaderElection();  // Stop()

  bool enabled() const { return elector_ != nullptr; }
  bool Lost() const { return lost_.load(); }
  leader::LeaderElector* elector() { return elector_.get(); }
  // Ends the campaign; with `release`, gives the Lease up so a standby takes over at once.
  void Stop(bool release);

 private:
  std::unique_ptr<leader::LeaderElector> elector_;
  std::atomic<bool> lost_{false};
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
                               op::Operator& controller, LeaderElection& election);

}  // namespace hb::cli
