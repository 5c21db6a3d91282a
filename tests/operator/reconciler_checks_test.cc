// The reconciler with health checks (fake prober, fake etcd, fake API server, virtual
// time): the phase follows the check, and a flapping check gets one Event when it starts
// flapping and one when it is stable again instead of one per change.
#include <gtest/gtest.h>

#include <map>

#include "capability/declaration.h"
#include "check/checker.h"
#include "check/fake_prober.h"
#include "common/clock.h"
#include "etcd/fake_etcd.h"
#include "kubefake/fake_kube_client.h"
#include "operator/declaration_index.h"
#include "operator/event_recorder.h"
#include "operator/reconciler.h"

namespace hb::op {
namespace {

const kube::ResourceRef kCaps{"chora.dev", "v1alpha1", "capabilities", "default"};
const char kUrl[] = "http://svc:8080/health";

class ReconcilerChecksTest : public ::testing::Test {
 protected:
  ReconcilerChecksTest() : checker_(clock_, check::CheckerOptions{16, 5, absl::Milliseconds(50)}) {
    etcd_.SetAutoDeliver(true);
    checker_.SetProber(check::CheckKind::kHttp, &prober_);
    heartbeat::EngineOptions options;
    options.adopt = false;
    options.seed = 7;
    options.checker = &checker_;
    engine_ = std::make_unique<heartbeat::HeartbeatEngine>(etcd_, clock_, options);
    reconciler_ = std::make_unique<CapabilityReconciler>(kube_, *engine_, index_, events_, clock_,
                                                         ReconcilerOptions());
    kube_.Seed(kCaps, {{"apiVersion", "chora.dev/v1alpha1"},
                       {"kind", "Capability"},
                       {"metadata", {{"name", "web"}, {"namespace", "default"}}},
                       {"spec",
                        {{"identifier", "a.web"},
                         {"heartbeat", {{"intervalSeconds", 1}, {"ttlSeconds", 4}}},
                         {"health",
                          {{"url", kUrl},
                           {"periodSeconds", 2},
                           {"failureThreshold", 1},
                           {"flapThreshold", 3},
                           {"flapWindowSeconds", 30}}}}}});
  }
  // Runs for `d` of virtual time, reconciling every 100 ms as the change hook would.
  void Run(absl::Duration d) {
    absl::Time end = clock_.Now() + d;
    while (clock_.Now() < end) {
      clock_.Advance(absl::Milliseconds(100));
      checker_.RunDue();
      engine_->RunDue();
      auto object = kube_.Object(kCaps, "web");
      index_.SetResource("default/web", capability::FromCapability(*object));
      ASSERT_TRUE(reconciler_->Reconcile("a.web").status.ok());
    }
  }
  std::map<std::string, int> EventsByReason() {
    std::map<std::string, int> out;
    auto events = kube_.List(kube::ResourceRef{"", "v1", "events", "default"}, {});
    for (const auto& e : events->items) out[e.value("reason", "")] += e.value("count", 1);
    return out;
  }
  std::string Phase() {
    return kube_.Object(kCaps, "web")->value("status", nlohmann::json::object()).value("phase", "");
  }

  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  etcd::FakeEtcd etcd_{clock_};
  kubefake::FakeKubeClient kube_{clock_};
  DeclarationIndex index_;
  EventRecorder events_{kube_, clock_, "test"};
  check::FakeProber prober_;
  check::Checker checker_;
  std::unique_ptr<heartbeat::HeartbeatEngine> engine_;
  std::unique_ptr<CapabilityReconciler> reconciler_;
};

TEST_F(ReconcilerChecksTest, ThePhaseFollowsTheCheck) {
  prober_.Pass(kUrl);
  Run(absl::Seconds(3));
  EXPECT_EQ(Phase(), "Healthy");
  prober_.Fail(kUrl);
  Run(absl::Seconds(3));
  EXPECT_EQ(Phase(), "Unhealthy");
  auto status = kube_.Object(kCaps, "web")->at("status");
  EXPECT_EQ(status.value("check", ""), "http");
  EXPECT_EQ(EventsByReason()["Unhealthy"], 1);
}

TEST_F(ReconcilerChecksTest, AFlappingCheckGetsOneEventInsteadOfOnePerChange) {
  for (int i = 0; i < 10; ++i) {  // a change every 2 s for 20 s
    if (i % 2 == 0) {
      prober_.Pass(kUrl);
    } else {
      prober_.Fail(kUrl);
    }
    Run(absl::Seconds(2));
  }
  std::map<std::string, int> during = EventsByReason();
  EXPECT_EQ(during["Flapping"], 1);
  // Three changes reach the threshold; after the fourth, Events stop.
  EXPECT_LE(during["Healthy"] + during["Unhealthy"], 5) << "one Event per change before flapping";
  EXPECT_TRUE(kube_.Object(kCaps, "web")->at("status").value("flapping", false));
  prober_.Pass(kUrl);
  Run(absl::Seconds(35));  // a whole window without a change
  std::map<std::string, int> after = EventsByReason();
  EXPECT_EQ(after["Stable"], 1);
  EXPECT_FALSE(kube_.Object(kCaps, "web")->at("status").value("flapping", true));
  EXPECT_EQ(Phase(), "Healthy");
}

}  // namespace
}  // namespace hb::op
