// The controller end to end, driven by the real kubectl: Capability resources.
#include <signal.h>

#include <optional>

#include "controller_fixture.h"

namespace hb::testing {
namespace {

const char kTwoCapabilities[] = R"(apiVersion: chora.dev/v1alpha1
kind: Capability
metadata:
  name: registry
  namespace: default
spec:
  identifier: chora.devex.registry
  heartbeat: {intervalSeconds: 1, ttlSeconds: 4}
---
apiVersion: chora.dev/v1alpha1
kind: Capability
metadata:
  name: chora.devex.bootstrap
  namespace: default
spec:
  heartbeat: {intervalSeconds: 1, ttlSeconds: 4}
)";

TEST_F(ControllerE2E, ResourcesGetHeartbeatsAndAStatusKubectlShows) {
  Process& controller = StartController();
  Apply(kTwoCapabilities);
  CommandResult ready = Kubectl({"wait", "--for=condition=Ready", "--timeout=20s",
                                 "capability/registry", "capability/chora.devex.bootstrap"});
  ASSERT_EQ(ready.exit_code, 0) << ready.output << controller.Output();
  CommandResult healthy = Kubectl(
      {"wait", "--for=jsonpath={.status.phase}=Healthy", "--timeout=10s", "capability/registry"});
  EXPECT_EQ(healthy.exit_code, 0) << healthy.output;

  // The key holds the original value format and its count advances.
  auto value = heartbeat::ParseHealthValue(etcd_->Get(Key("chora.devex.registry")).value_or(""));
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(value->identifier, "chora.devex.registry");
  EXPECT_EQ(value->status, "healthy");
  EXPECT_EQ(value->source, "Capability default/registry");
  int64_t count = Count("chora.devex.registry");
  EXPECT_TRUE(
      WaitFor([&] { return Count("chora.devex.registry") >= count + 2; }, absl::Seconds(5)));
  EXPECT_TRUE(Present("chora.devex.bootstrap")) << "the object name is the identifier";

  nlohmann::json cap = Get("capability/registry");
  EXPECT_EQ(cap["status"]["identifier"], "chora.devex.registry");
  EXPECT_EQ(cap["status"]["etcdKey"], Key("chora.devex.registry"));
  EXPECT_EQ(cap["status"]["leaseID"],
            heartbeat::LeaseIdHex(etcd_->Meta(Key("chora.devex.registry")).lease));
  EXPECT_EQ(cap["status"]["observedGeneration"], cap["metadata"]["generation"]);
  EXPECT_NE(std::find(cap["metadata"]["finalizers"].begin(), cap["metadata"]["finalizers"].end(),
                      "chora.dev/heartbeat-cleanup"),
            cap["metadata"]["finalizers"].end());

  CommandResult table = Kubectl({"get", "capabilities"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  for (const char* column : {"NAME", "IDENTIFIER", "TYPE", "HEALTH", "HEARTBEATS", "LAST-HEARTBEAT",
                             "AGE", "chora.devex.registry", "Service", "Healthy"}) {
    EXPECT_NE(table.output.find(column), std::string::npos) << column << "\n" << table.output;
  }
  EXPECT_EQ(table.output.find("LEASE"), std::string::npos);
  CommandResult wide = Kubectl({"get", "cap", "-o", "wide"});
  for (const char* column :
       {"LEASE", "KEY", "SOURCE", "/chora/capabilities/chora.devex.registry"}) {
    EXPECT_NE(wide.output.find(column), std::string::npos) << column << "\n" << wide.output;
  }
  // Counters reach the status, at most once per sync period.
  int64_t status_count = cap["status"].value("heartbeatCount", int64_t{0});
  EXPECT_TRUE(WaitFor(
      [&] {
        return Get("capability/registry")["status"].value("heartbeatCount", int64_t{0}) >
               status_count + 1;
      },
      absl::Seconds(6)));
  CommandResult events =
      Kubectl({"get", "events", "--field-selector", "involvedObject.name=registry", "-o", "json"});
  EXPECT_NE(events.output.find("\"reason\": \"Healthy\""), std::string::npos) << events.output;
}

TEST_F(ControllerE2E, EditPauseResumeAndDeleteReachEtcd) {
  Process& controller = StartController();
  Apply(Capability("edited",
                   "  identifier: chora.x.edited\n  heartbeat: {intervalSeconds: 1, "
                   "ttlSeconds: 10}\n"));
  ASSERT_EQ(
      Kubectl({"wait", "--for=condition=Ready", "--timeout=20s", "capability/edited"}).exit_code, 0)
      << controller.Output();
  int64_t lease = etcd_->Meta(Key("chora.x.edited")).lease;

  // A new interval takes effect without a new lease.
  ASSERT_EQ(Kubectl({"patch", "capability/edited", "--type=merge", "-p",
                     R"({"spec":{"heartbeat":{"intervalSeconds":3}}})"})
                .exit_code,
            0);
  EXPECT_TRUE(WaitFor(
      [&] {
        auto v = heartbeat::ParseHealthValue(etcd_->Get(Key("chora.x.edited")).value_or(""));
        return v.ok() && v->interval == absl::Seconds(3);
      },
      absl::Seconds(8)))
      << controller.Output();
  EXPECT_EQ(etcd_->Meta(Key("chora.x.edited")).lease, lease);
  EXPECT_TRUE(WaitFor([&] { return Get("capability/edited")["status"]["intervalSeconds"] == 3; },
                      absl::Seconds(5)));

  // Paused: the key goes away; resumed: it comes back.
  ASSERT_EQ(Kubectl({"patch", "capability/edited", "--type=merge", "-p",
                     R"({"spec":{"heartbeat":{"paused":true}}})"})
                .exit_code,
            0);
  EXPECT_TRUE(WaitFor([&] { return !Present("chora.x.edited"); }, absl::Seconds(3)));
  EXPECT_TRUE(WaitFor([&] { return Phase("edited") == "Paused"; }, absl::Seconds(3)));
  ASSERT_EQ(Kubectl({"patch", "capability/edited", "--type=merge", "-p",
                     R"({"spec":{"heartbeat":{"paused":false}}})"})
                .exit_code,
            0);
  EXPECT_TRUE(WaitFor([&] { return Present("chora.x.edited"); }, absl::Seconds(3)));
  EXPECT_TRUE(WaitFor([&] { return Phase("edited") == "Healthy"; }, absl::Seconds(5)));

  // Deleted: the finalizer holds the object until the key is gone.
  absl::Time start = absl::Now();
  CommandResult deleted = Kubectl({"delete", "capability/edited", "--timeout=20s"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  EXPECT_FALSE(Present("chora.x.edited")) << "the key is gone by the time the object is";
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE(controller.Running());
}

TEST_F(ControllerE2E, AnInvalidResourceIsReportedAndNeverRun) {
  Process& controller = StartController();
  Apply(Capability("slow",
                   "  identifier: chora.x.slow\n  heartbeat: {intervalSeconds: 10, "
                   "ttlSeconds: 10}\n"));
  EXPECT_TRUE(WaitFor([&] { return Phase("slow") == "Invalid"; }, absl::Seconds(5)))
      << controller.Output();
  nlohmann::json cap = Get("capability/slow");
  std::string message = cap["status"].value("message", "");
  EXPECT_NE(message.find("spec.heartbeat.intervalSeconds"), std::string::npos) << message;
  EXPECT_EQ(cap["status"]["conditions"][0]["type"], "Ready");
  EXPECT_EQ(cap["status"]["conditions"][0]["status"], "False");
  EXPECT_FALSE(Present("chora.x.slow"));

  // What the schema forbids never reaches the controller: the server's message says why.
  std::string path = dir_ + "/negative.yaml";
  std::ofstream(path) << Capability("negative", "  heartbeat: {ttlSeconds: -5}\n");
  CommandResult rejected = Kubectl({"apply", "-f", path});
  EXPECT_NE(rejected.exit_code, 0);
  EXPECT_NE(rejected.output.find("spec.heartbeat.ttlSeconds"), std::string::npos)
      << rejected.output;
  EXPECT_TRUE(controller.Running());
}

TEST_F(ControllerE2E, TheSameIdentifierTwiceRunsOnceAndTheLaterOneSaysSo) {
  Process& controller = StartController();
  Apply(Capability("first",
                   "  identifier: chora.x.twice\n  heartbeat: {intervalSeconds: 1, "
                   "ttlSeconds: 4}\n"));
  ASSERT_TRUE(WaitFor([&] { return Phase("first") == "Healthy"; }, absl::Seconds(10)))
      << controller.Output();
  Apply(Capability("second",
                   "  identifier: chora.x.twice\n  heartbeat: {intervalSeconds: 2, "
                   "ttlSeconds: 8}\n"));
  EXPECT_TRUE(WaitFor([&] { return Phase("second") == "Conflict"; }, absl::Seconds(5)));
  std::string message = Get("capability/second")["status"].value("message", "");
  EXPECT_NE(message.find("Capability default/first"), std::string::npos) << message;
  EXPECT_EQ(Phase("first"), "Healthy");
  auto value = heartbeat::ParseHealthValue(etcd_->Get(Key("chora.x.twice")).value_or(""));
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->ttl_seconds, 4) << "the first declaration's settings run";
  // The winner goes away: the other declaration takes over without the key disappearing.
  ASSERT_EQ(Kubectl({"delete", "capability/first", "--timeout=20s"}).exit_code, 0);
  EXPECT_TRUE(WaitFor([&] { return Phase("second") == "Healthy"; }, absl::Seconds(8)))
      << controller.Output();
  EXPECT_TRUE(Present("chora.x.twice"));
}

TEST_F(ControllerE2E, DroppedWatchesAndExpiredVersionsLoseNoChange) {
  Process& controller = StartController();
  ASSERT_TRUE(kube_->SetFaults({{"closeWatchesAfterSeconds", 1}}).ok());
  for (int i = 0; i < 4; ++i) {
    Apply(Capability(absl::StrCat("churn", i),
                     absl::StrCat("  identifier: chora.churn.n", i,
                                  "\n  heartbeat: {intervalSeconds: 1, ttlSeconds: 4}\n")));
  }
  ASSERT_TRUE(kube_->SetFaults({{"forceGoneOnNextWatch", 3}}).ok());
  ASSERT_EQ(Kubectl({"delete", "capability/churn1", "--wait=false"}).exit_code, 0);
  ASSERT_EQ(Kubectl({"patch", "capability/churn2", "--type=merge", "-p",
                     R"({"spec":{"heartbeat":{"paused":true}}})"})
                .exit_code,
            0);
  EXPECT_TRUE(WaitFor(
      [&] {
        return Present("chora.churn.n0") && !Present("chora.churn.n1") &&
               !Present("chora.churn.n2") && Present("chora.churn.n3");
      },
      absl::Seconds(15)))
      << controller.Output();
  EXPECT_TRUE(WaitFor([&] { return Phase("churn2") == "Paused"; }, absl::Seconds(5)));
  EXPECT_TRUE(WaitFor([&] { return !Get("capability/churn1").is_object(); }, absl::Seconds(5)));
  EXPECT_TRUE(controller.Running());
}

TEST_F(ControllerE2E, ARestartedControllerAdoptsItsLeases) {
  etcd_->StartWatch("/chora/capabilities/");
  StartController();
  Apply(kTwoCapabilities);
  ASSERT_EQ(
      Kubectl({"wait", "--for=condition=Ready", "--timeout=20s", "capability/registry"}).exit_code,
      0);
  int64_t lease = etcd_->Meta(Key("chora.devex.registry")).lease;
  controller_->Signal(SIGTERM);
  ASSERT_EQ(controller_->Wait(absl::Seconds(15)), 0) << controller_->Output();
  EXPECT_TRUE(Present("chora.devex.registry")) << "leases are kept at exit by default";
  Process& second = StartController();
  int64_t count = Count("chora.devex.registry");
  ASSERT_TRUE(WaitFor([&] { return Count("chora.devex.registry") > count + 1; }, absl::Seconds(8)))
      << second.Output();
  EXPECT_EQ(etcd_->Meta(Key("chora.devex.registry")).lease, lease);
  EXPECT_EQ(etcd_->WatchLog().find("DELETE"), std::string::npos) << etcd_->WatchLog();
}

// SIGTERM during start-up, at the first log line (before the informers, the engine and the
// servers have started): the signal waits for the controller's signal loop, which stops it in
// order (exit 0, "Received SIGTERM"), instead of killing the process with threads running.
TEST_F(ControllerE2E, SigtermDuringStartupStopsInOrder) {
  Replica replica = StartReplica("early-stop");
  ASSERT_TRUE(
      WaitFor([&] { return replica.process->Output().find("Kubernetes API") != std::string::npos; },
              absl::Seconds(10)))
      << replica.process->Output();
  replica.process->Signal(SIGTERM);
  std::optional<int> code = replica.process->Wait(absl::Seconds(15));
  ASSERT_TRUE(code.has_value()) << replica.process->Output();
  EXPECT_EQ(*code, 0) << "128 + 15 would mean the signal killed it: " << replica.process->Output();
  EXPECT_NE(replica.process->Output().find("Received SIGTERM"), std::string::npos)
      << replica.process->Output();
  EXPECT_NE(LeaseHolder(), "early-stop") << "a Lease it took is released at exit";
}

}  // namespace
}  // namespace hb::testing
