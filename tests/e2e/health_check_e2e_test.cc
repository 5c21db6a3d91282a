// Health checks end to end, in both modes: the real binary, a real etcd (its watch is the
// witness), a probe target that is killed and restarted, and (controller mode) the test API
// server driven by the real kubectl.
#include <gtest/gtest.h>

#include <csignal>

#include "absl/strings/str_cat.h"
#include "e2e/controller_fixture.h"
#include "integration/e2e_fixture.h"
#include "support/check_target.h"

namespace hb::testing {
namespace {

// The statuses of `key`'s PUTs as the watch saw them, "DELETE" for deletions, each change
// once.
std::vector<std::string> StatusChanges(const std::vector<EtcdServer::WatchRecord>& events,
                                       const std::string& key) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    if (e.key != key) continue;
    std::string s = "DELETE";
    if (!e.deleted) {
      auto v = heartbeat::ParseHealthValue(e.value);
      s = v.ok() ? v->status : "(unreadable)";
    }
    if (out.empty() || out.back() != s) out.push_back(s);
  }
  return out;
}

// The same after the first verdict: a new key may say "pending" first (until its first
// check), or not (the check answered before the first put).
std::vector<std::string> Verdicts(const std::vector<EtcdServer::WatchRecord>& events,
                                  const std::string& key) {
  std::vector<std::string> changes = StatusChanges(events, key);
  if (!changes.empty() && changes.front() == "pending") changes.erase(changes.begin());
  return changes;
}

std::string Manifest(const std::string& id, int port, const std::string& extra) {
  return absl::StrCat(R"(metadata:
  dc_identifier: )",
                      id, R"(
  dc_type: Service
spec:
  chora_service:
    interfaces:
      - type: rest
        host: 0.0.0.0
        port: )",
                      port, R"(
    health:
      endpoint: /health
      interval: 1s
      heartbeat_ttl: 5s
      timeout: 500ms
      failure_threshold: 2
)",
                      extra);
}

class StandaloneChecks : public HeartbeatE2E {
 protected:
  void StartTarget(int port = 0) {
    CheckTargetOptions o;
    o.http_port = port;
    auto t = CheckTarget::Start(o);
    ASSERT_TRUE(t.ok()) << t.status();
    target_ = *std::move(t);
  }
  std::optional<heartbeat::HealthValue> Value(const std::string& id) {
    auto v = etcd_->Get(Key(id));
    if (!v) return std::nullopt;
    auto parsed = heartbeat::ParseHealthValue(*v);
    if (!parsed.ok()) return std::nullopt;
    return *parsed;
  }
  bool WaitStatus(const std::string& id, const std::string& status, absl::Duration timeout) {
    return WaitFor(
        [&] {
          auto v = Value(id);
          return v && v->status == status;
        },
        timeout);
  }
  std::unique_ptr<CheckTarget> target_;
};

TEST_F(StandaloneChecks, AKilledServiceTurnsUnhealthyInTimeAndHealthyWhenItIsBack) {
  StartTarget();
  int port = target_->http_port();
  WriteFile("caps/svc.yaml", Manifest("svc.checked", port, ""));
  etcd_->StartWatch("/chora/capabilities/");
  Process& hb = StartHeartbeat({"--auto-discover", "--capabilities=" + dir_ + "/caps"});
  ASSERT_TRUE(WaitStatus("svc.checked", "healthy", absl::Seconds(10))) << hb.Output();
  EXPECT_EQ(Value("svc.checked")->check, "http");
  int64_t lease = etcd_->Meta(Key("svc.checked")).lease;

  target_.reset();  // SIGKILL: the service is gone
  absl::Time killed = absl::Now();
  ASSERT_TRUE(WaitStatus("svc.checked", "unhealthy", absl::Seconds(10))) << hb.Output();
  absl::Duration took = absl::Now() - killed;
  // failure_threshold x period + timeout, plus one put through etcd.
  EXPECT_LE(took, absl::Seconds(2) + absl::Milliseconds(500) + absl::Seconds(1)) << took;
  auto v = Value("svc.checked");
  EXPECT_EQ(v->reason, "connection refused");
  EXPECT_GE(v->consecutive_failures, 2);
  EXPECT_EQ(etcd_->Meta(Key("svc.checked")).lease, lease) << "unhealthy is not gone";

  StartTarget(port);
  ASSERT_TRUE(WaitStatus("svc.checked", "healthy", absl::Seconds(10))) << hb.Output();
  EXPECT_EQ(etcd_->Meta(Key("svc.checked")).lease, lease);
  EXPECT_EQ(Deletes("svc.checked"), 0);
  EXPECT_EQ(Verdicts(etcd_->WatchEvents(), Key("svc.checked")),
            (std::vector<std::string>{"healthy", "unhealthy", "healthy"}))
      << "no flap";
}

TEST_F(StandaloneChecks, DeregisterAfterRemovesTheKeyAndItComesBackWithTheService) {
  StartTarget();
  int port = target_->http_port();
  WriteFile("caps/svc.yaml", Manifest("svc.dereg", port, "      deregister_after: 3s\n"));
  etcd_->StartWatch("/chora/capabilities/");
  Process& hb = StartHeartbeat({"--auto-discover", "--capabilities=" + dir_ + "/caps"});
  ASSERT_TRUE(WaitStatus("svc.dereg", "healthy", absl::Seconds(10))) << hb.Output();
  ASSERT_TRUE(target_->SetMode("fail"));
  ASSERT_TRUE(WaitStatus("svc.dereg", "unhealthy", absl::Seconds(10)));
  EXPECT_EQ(Value("svc.dereg")->reason, "HTTP 503");
  ASSERT_TRUE(WaitFor([&] { return !Present("svc.dereg"); }, absl::Seconds(10))) << hb.Output();
  EXPECT_EQ(Deletes("svc.dereg"), 1) << "deregistered: consumers see the DELETE";
  ASSERT_TRUE(target_->SetMode("ok"));
  ASSERT_TRUE(WaitStatus("svc.dereg", "healthy", absl::Seconds(10))) << hb.Output();
  EXPECT_EQ(Verdicts(etcd_->WatchEvents(), Key("svc.dereg")),
            (std::vector<std::string>{"healthy", "unhealthy", "DELETE", "healthy"}));
}

TEST_F(StandaloneChecks, ARestartedOperatorKeepsTheUnhealthyStateWithoutAFlap) {
  StartTarget();
  ASSERT_TRUE(target_->SetMode("json-unhealthy"));
  WriteFile("caps/svc.yaml", Manifest("svc.restart", target_->http_port(), ""));
  etcd_->StartWatch("/chora/capabilities/");
  std::vector<std::string> args = {"--auto-discover", "--capabilities=" + dir_ + "/caps",
                                   "--keep-leases-on-exit"};
  Process& first = StartHeartbeat(args);
  ASSERT_TRUE(WaitStatus("svc.restart", "unhealthy", absl::Seconds(10))) << first.Output();
  EXPECT_EQ(Value("svc.restart")->dependencies, R"({"database":"unhealthy","redis":"healthy"})");
  absl::Time since = Value("svc.restart")->since;
  first.Signal(SIGTERM);
  ASSERT_TRUE(first.Wait(absl::Seconds(10)).has_value());
  Process& second = StartHeartbeat(args);
  // Long enough for several checks and beats of the new process.
  absl::SleepFor(absl::Seconds(4));
  ASSERT_TRUE(second.Running()) << second.Output();
  EXPECT_EQ(Verdicts(etcd_->WatchEvents(), Key("svc.restart")),
            (std::vector<std::string>{"unhealthy"}))
      << "never pending or healthy across the restart";
  EXPECT_EQ(Value("svc.restart")->since, since);
  EXPECT_EQ(Deletes("svc.restart"), 0);
}

TEST_F(StandaloneChecks, AManifestWithoutATargetSaysCheckNone) {
  WriteFile("caps/svc.yaml", R"(metadata: {dc_identifier: svc.none, dc_type: Service}
chora_service:
  interfaces: [cli, mcp]
  health: {endpoint: /health, interval: 1, heartbeat_ttl: 5}
)");
  Process& hb = StartHeartbeat({"--auto-discover", "--capabilities=" + dir_ + "/caps"});
  ASSERT_TRUE(WaitFor([&] { return Present("svc.none"); }, absl::Seconds(10))) << hb.Output();
  auto v = Value("svc.none");
  EXPECT_EQ(v->status, "healthy");
  EXPECT_EQ(v->check, "none");
  EXPECT_NE(v->reason.find("no rest interface"), std::string::npos) << v->reason;
}

class ControllerChecks : public ControllerE2E {};

TEST_F(ControllerChecks, AnHttpCheckDrivesThePhaseAndTheKeyAndEventsSayWhy) {
  auto target = CheckTarget::Start();
  ASSERT_TRUE(target.ok());
  etcd_->StartWatch("/chora/capabilities/");
  Process& controller = StartController();
  Apply(Capability("web", absl::StrCat("  identifier: web.checked\n  health:\n    url: ",
                                       (*target)->HttpUrl(""), "\n    endpoint: /health\n",
                                       "    periodSeconds: 1\n    failureThreshold: 2\n")));
  ASSERT_TRUE(WaitFor([&] { return Phase("web") == "Healthy"; }, absl::Seconds(20)))
      << controller.Output();
  nlohmann::json status = Get("capability/web")["status"];
  EXPECT_EQ(status.value("check", ""), "http");
  EXPECT_EQ(status.value("lastCheckResult", "").rfind("pass", 0), 0u) << status.dump();

  ASSERT_TRUE((*target)->SetMode("fail"));
  ASSERT_TRUE(WaitFor([&] { return Phase("web") == "Unhealthy"; }, absl::Seconds(15)))
      << controller.Output();
  status = Get("capability/web")["status"];
  EXPECT_NE(status.value("message", "").find("HTTP 503"), std::string::npos) << status.dump();
  auto value = heartbeat::ParseHealthValue(*etcd_->Get(Key("web.checked")));
  EXPECT_EQ(value->status, "unhealthy");
  CommandResult table = Kubectl({"get", "capabilities"});
  EXPECT_NE(table.output.find("Unhealthy"), std::string::npos) << table.output;
  CommandResult events = Kubectl({"get", "events", "-o", "json"});
  EXPECT_NE(events.output.find("\"reason\": \"Unhealthy\""), std::string::npos) << events.output;

  ASSERT_TRUE((*target)->SetMode("ok"));
  ASSERT_TRUE(WaitFor([&] { return Phase("web") == "Healthy"; }, absl::Seconds(15)));
  EXPECT_EQ(Verdicts(etcd_->WatchEvents(), Key("web.checked")),
            (std::vector<std::string>{"healthy", "unhealthy", "healthy"}));
}

TEST_F(ControllerChecks, AServiceRefPassesWhileItsEndpointSlicesHaveReadyEndpoints) {
  Process& controller = StartController();
  auto slice = [](bool ready) {
    return absl::StrCat(R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: api-abc12
  namespace: default
  labels:
    kubernetes.io/service-name: api
addressType: IPv4
ports:
  - name: http
    port: 8080
    protocol: TCP
endpoints:
  - addresses: ["10.1.0.7"]
    conditions: {ready: )",
                        ready ? "true" : "false", "}\n");
  };
  Apply(slice(true));
  Apply(Capability("api",
                   "  identifier: api.ready\n  health:\n    serviceRef: {name: api, port: "
                   "http}\n    periodSeconds: 1\n    failureThreshold: 1\n"));
  ASSERT_TRUE(WaitFor([&] { return Phase("api") == "Healthy"; }, absl::Seconds(20)))
      << controller.Output();
  EXPECT_EQ(Get("capability/api")["status"].value("check", ""), "serviceRef");
  Apply(slice(false));
  ASSERT_TRUE(WaitFor([&] { return Phase("api") == "Unhealthy"; }, absl::Seconds(15)))
      << controller.Output();
  EXPECT_NE(Get("capability/api")["status"].value("message", "").find("0 of 1 endpoints ready"),
            std::string::npos);
  ASSERT_EQ(Kubectl({"delete", "endpointslice", "api-abc12"}).exit_code, 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        return Get("capability/api")["status"].value("message", "").find("no EndpointSlices") !=
               std::string::npos;
      },
      absl::Seconds(15)));
}

}  // namespace
}  // namespace hb::testing
