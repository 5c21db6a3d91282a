// Two controller replicas with leader election: fail-over and rolling restarts make no
// health key disappear; metrics and probes tell who leads.
#include <signal.h>

#include "controller_fixture.h"
#include "support/watch_audit.h"

namespace hb::testing {
namespace {

const char kCapabilities[] = R"(apiVersion: chora.dev/v1alpha1
kind: Capability
metadata: {name: ha-one, namespace: default}
spec:
  identifier: chora.ha.one
  heartbeat: {intervalSeconds: 1, ttlSeconds: 10}
---
apiVersion: chora.dev/v1alpha1
kind: Capability
metadata: {name: ha-two, namespace: default}
spec:
  identifier: chora.ha.two
  heartbeat: {intervalSeconds: 1, ttlSeconds: 10}
)";

TEST_F(ControllerE2E, KillingTheLeaderAndRollingRestartsMakeNoKeyDisappear) {
  etcd_->StartWatch("/chora/");  // the health keys and the leader fence key
  std::map<std::string, Replica> replicas;
  replicas["ha-a"] = StartReplica("ha-a");
  replicas["ha-b"] = StartReplica("ha-b");
  Apply(kCapabilities);
  ASSERT_EQ(Kubectl({"wait", "--for=condition=Ready", "--timeout=30s", "capability/ha-one",
                     "capability/ha-two"})
                .exit_code,
            0)
      << replicas["ha-a"].process->Output() << replicas["ha-b"].process->Output();
  std::string holder = LeaseHolder();
  ASSERT_FALSE(holder.empty());
  std::string leader = holder.substr(0, holder.find('_'));
  std::string standby = leader == "ha-a" ? "ha-b" : "ha-a";

  // Who leads shows in the metrics; both replicas are ready and alive.
  EXPECT_TRUE(WaitFor(
      [&] {
        return HttpGet(replicas[leader].metrics_port, "/metrics")
                   .second.find("leader_election_master_status{name=\"heartbeat-operator\"} 1") !=
               std::string::npos;
      },
      absl::Seconds(5)));
  std::string standby_metrics = HttpGet(replicas[standby].metrics_port, "/metrics").second;
  EXPECT_NE(standby_metrics.find("leader_election_master_status{name=\"heartbeat-operator\"} 0"),
            std::string::npos)
      << standby_metrics;
  std::string leader_metrics = HttpGet(replicas[leader].metrics_port, "/metrics").second;
  for (const char* family :
       {"heartbeat_operator_heartbeats_total{result=\"ok\"}", "heartbeat_operator_leases_active 2",
        "controller_runtime_reconcile_total", "workqueue_depth{name=\"capability\"}",
        "heartbeat_operator_put_duration_seconds_bucket",
        "heartbeat_operator_capabilities{source=\"resource\",phase=\"Healthy\"} 2",
        "heartbeat_operator_etcd_endpoint_up"}) {
    EXPECT_NE(leader_metrics.find(family), std::string::npos) << family << "\n" << leader_metrics;
  }
  for (const auto& name : {leader, standby}) {
    EXPECT_EQ(HttpGet(replicas[name].health_port, "/healthz").first, 200);
    EXPECT_EQ(HttpGet(replicas[name].health_port, "/readyz").first, 200) << name;
  }

  // SIGKILL the leader: the standby takes over within the lease duration and adopts.
  int64_t lease = etcd_->Meta(Key("chora.ha.one")).lease;
  replicas[leader].process->Signal(SIGKILL);
  replicas[leader].process->Wait(absl::Seconds(5));
  absl::Time killed = absl::Now();
  ASSERT_TRUE(
      WaitFor([&] { return LeaseHolder().rfind(standby + "_", 0) == 0; }, absl::Seconds(10)))
      << replicas[standby].process->Output();
  EXPECT_LE(absl::Now() - killed, absl::Seconds(6)) << "lease duration 4 s + retry 1 s";
  int64_t count = Count("chora.ha.one");
  ASSERT_TRUE(WaitFor([&] { return Count("chora.ha.one") > count + 2; }, absl::Seconds(10)))
      << replicas[standby].process->Output();
  EXPECT_EQ(etcd_->Meta(Key("chora.ha.one")).lease, lease) << "the new leader adopted the lease";

  // Rolling restart of both: restart the dead one, then stop the leader (it hands over).
  replicas[leader] = StartReplica(leader);
  ASSERT_TRUE(WaitFor([&] { return HttpGet(replicas[leader].health_port, "/readyz").first == 200; },
                      absl::Seconds(15)));
  replicas[standby].process->Signal(SIGTERM);
  EXPECT_EQ(replicas[standby].process->Wait(absl::Seconds(15)), 0)
      << replicas[standby].process->Output();
  ASSERT_TRUE(WaitFor([&] { return LeaseHolder().rfind(leader + "_", 0) == 0; }, absl::Seconds(5)))
      << "a released lease is taken at once";
  replicas[standby] = StartReplica(standby);
  count = Count("chora.ha.two");
  ASSERT_TRUE(WaitFor([&] { return Count("chora.ha.two") > count + 2; }, absl::Seconds(10)));
  EXPECT_EQ(Phase("ha-two"), "Healthy");

  // Throughout: no key was deleted, none expired, and every health write came from the
  // replica holding the fence at that revision.
  std::string watch = etcd_->WatchLog();
  EXPECT_EQ(watch.find("DELETE"), std::string::npos) << watch;
  WatchAudit audit = WatchAudit::Of(etcd_->WatchEvents(), "/chora/capabilities/",
                                    "/chora/leader/default/heartbeat-operator");
  RecordFaultSummary("leader SIGKILL, then a rolling restart of both replicas",
                     (Present("chora.ha.one") ? 0 : 1) + (Present("chora.ha.two") ? 0 : 1), audit);
  EXPECT_EQ(audit.foreign_writes, 0) << audit.first_foreign;
  EXPECT_GE(audit.fence_holders.size(), 3u) << "each new leader took the fence";
  EXPECT_TRUE(Present("chora.ha.one"));
  EXPECT_TRUE(Present("chora.ha.two"));
}

}  // namespace
}  // namespace hb::testing
