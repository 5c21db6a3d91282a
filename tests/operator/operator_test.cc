// Operator (informers, index, work queue, workers, reconciler) against the in-memory
// Kubernetes client and FakeEtcd, with the real engine driven on a FakeClock by the test.
#include "operator/operator.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "capability/configmap_source.h"
#include "etcd/fake_etcd.h"
#include "kubefake/fake_kube_client.h"
#include "support/process.h"

namespace hb::op {
namespace {

using hb::testing::WaitFor;
using kubefake::Verb;

const kube::ResourceRef kCaps{"chora.dev", "v1alpha1", "capabilities", "default"};
const kube::ResourceRef kConfigMaps{"", "v1", "configmaps", "default"};
const kube::ResourceRef kEvents{"", "v1", "events", "default"};

nlohmann::json Capability(const std::string& name, const std::string& identifier) {
  return {
      {"apiVersion", "chora.dev/v1alpha1"},
      {"kind", "Capability"},
      {"metadata", {{"name", name}, {"namespace", "default"}}},
      {"spec",
       {{"identifier", identifier}, {"heartbeat", {{"intervalSeconds", 1}, {"ttlSeconds", 4}}}}}};
}

nlohmann::json ConfigMap(nlohmann::json data) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"name", "caps"},
            {"namespace", "default"},
            {"labels", {{"chora.dev/capabilities", "true"}}}}},
          {"data", std::move(data)}};
}

class OperatorTest : public ::testing::Test {
 protected:
  OperatorTest() {
    etcd_.SetAutoDeliver(true);
    heartbeat::EngineOptions options;
    options.adopt = false;
    options.seed = 3;
    engine_ = std::make_unique<heartbeat::HeartbeatEngine>(etcd_, clock_, options);
  }
  ~OperatorTest() override {
    if (operator_) operator_->Stop();
  }

  void Start(bool lead, std::vector<std::string> named_configmaps = {}) {
    OperatorOptions options;
    options.configmaps = std::move(named_configmaps);
    options.workers = 2;
    options.instance = "test";
    options.reconciler.pending_grace = absl::ZeroDuration();  // these tests follow Pending
    operator_ = std::make_unique<Operator>(kube_, *engine_, clock_, options);
    operator_->Start(lead);
  }
  // Nothing queued or in process (delayed keys may wait for their time).
  bool Idle() {
    informer::WorkQueueMetrics m = operator_->QueueMetrics();
    return m.depth == 0 && m.processing == 0;
  }
  // Runs the engine for `d` of virtual time in 100 ms steps; after each step the workers
  // finish what the step gave them.
  void Run(absl::Duration d) {
    absl::Time end = clock_.Now() + d;
    while (clock_.Now() < end) {
      clock_.Advance(absl::Milliseconds(100));
      engine_->RunDue();
      ASSERT_TRUE(WaitFor([&] { return Idle(); }, absl::Seconds(5)));
    }
  }
  std::string Phase(const std::string& name) {
    auto object = kube_.Object(kCaps, name);
    if (!object || !(*object).contains("status")) return "";
    return (*object)["status"].value("phase", "");
  }
  int EventsWithReason(const std::string& reason) {
    auto events = kube_.List(kEvents, {});
    int n = 0;
    for (const auto& e : events.ok() ? events->items : std::vector<nlohmann::json>{}) {
      // Repeats within the correlation window are one Event whose count goes up.
      if (e.value("reason", "") == reason) n += e.value("count", 1);
    }
    return n;
  }

  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  etcd::FakeEtcd etcd_{clock_};
  kubefake::FakeKubeClient kube_{clock_};
  std::unique_ptr<heartbeat::HeartbeatEngine> engine_;
  std::unique_ptr<Operator> operator_;
};

TEST_F(OperatorTest, ACapabilityRunsAndItsStatusFollowsTheHeartbeat) {
  kube_.Seed(kCaps, Capability("reg", "a.reg"));
  Start(/*lead=*/true);
  ASSERT_TRUE(WaitFor([&] { return Phase("reg") == "Pending"; }, absl::Seconds(5)));
  EXPECT_TRUE(engine_->GetStatus("a.reg").has_value());
  EXPECT_EQ((*kube_.Object(kCaps, "reg"))["metadata"]["finalizers"][0], capability::kFinalizer);

  // The engine's first heartbeat reaches the status through its change hook.
  Run(absl::Seconds(1));
  EXPECT_EQ(Phase("reg"), "Healthy");
  EXPECT_TRUE(etcd_.Get("/chora/capabilities/a.reg/health").has_value());
  EXPECT_EQ(EventsWithReason("Healthy"), 1);

  // etcd loses the lease: the status says so at once, then recovers.
  etcd_.Wipe();
  Run(absl::Seconds(2));  // the next renewal (TTL/3) answers TTL 0; the lease is re-granted
  EXPECT_EQ(Phase("reg"), "Healthy");
  EXPECT_EQ(EventsWithReason("LeaseLost"), 1);
  EXPECT_EQ(EventsWithReason("Healthy"), 2);
  EXPECT_EQ(operator_->reconcile_stats().error.load(), 0u);
}

TEST_F(OperatorTest, AStandbyKeepsItsCachesWarmAndReconcilesNothingUntilItLeads) {
  kube_.Seed(kCaps, Capability("reg", "a.reg"));
  Start(/*lead=*/false);
  ASSERT_TRUE(WaitFor([&] { return operator_->Synced(); }, absl::Seconds(5)));
  // No worker exists before Lead(): nothing can have touched the engine or the object.
  EXPECT_FALSE(operator_->Leading());
  EXPECT_FALSE(engine_->GetStatus("a.reg").has_value());
  EXPECT_EQ(kube_.Calls(Verb::kPatch), 0);
  EXPECT_EQ(operator_->QueueMetrics().work_time_count, 0u) << "the identifier waits, unworked";

  operator_->Lead();
  ASSERT_TRUE(WaitFor([&] { return Phase("reg") == "Pending"; }, absl::Seconds(5)));
  EXPECT_TRUE(engine_->GetStatus("a.reg").has_value());
}

TEST_F(OperatorTest, ConfigMapEntriesAreMirroredAndABrokenOneIsReportedOncePerChange) {
  kube_.Seed(kConfigMaps, ConfigMap({{"good.yaml",
                                      "metadata: {dc_identifier: a.cm_good}\n"
                                      "chora_service: {health: {interval: 1, heartbeat_ttl: 4}}\n"},
                                     {"bad.yaml", "metadata: [broken\n"}}));
  Start(/*lead=*/true);
  const std::string mirror = capability::MirrorName("caps", "a.cm_good");
  ASSERT_TRUE(WaitFor([&] { return kube_.Object(kCaps, mirror).has_value(); }, absl::Seconds(5)));
  ASSERT_TRUE(WaitFor([&] { return Phase(mirror) == "Pending"; }, absl::Seconds(5)));
  EXPECT_TRUE(engine_->GetStatus("a.cm_good").has_value());
  ASSERT_TRUE(WaitFor([&] { return EventsWithReason("InvalidManifest") == 1; }, absl::Seconds(5)));

  // The same errors again (a label added): not reported twice.
  nlohmann::json relabelled = *kube_.Object(kConfigMaps, "caps");
  relabelled["metadata"]["labels"]["team"] = "x";
  kube_.Seed(kConfigMaps, relabelled);
  // A second broken entry: a new report. Once it arrived, the relabelling (an earlier event
  // of the same informer) had been handled too.
  nlohmann::json changed = *kube_.Object(kConfigMaps, "caps");
  changed["data"]["worse.yaml"] = "not: [yaml";
  kube_.Seed(kConfigMaps, changed);
  ASSERT_TRUE(WaitFor([&] { return EventsWithReason("InvalidManifest") == 2; }, absl::Seconds(5)));
  ASSERT_TRUE(WaitFor([&] { return Idle(); }, absl::Seconds(5)));
  EXPECT_EQ(EventsWithReason("InvalidManifest"), 2);
}

// Named with --capabilities-configmap and labelled too: two informers see it, and losing
// the label (one of them deletes it) must not stop its heartbeats.
TEST_F(OperatorTest, AConfigMapBothNamedAndLabelledStaysDeclaredWhenTheLabelGoes) {
  kube_.Seed(kConfigMaps,
             ConfigMap({{"a.yaml",
                         "metadata: {dc_identifier: a.both}\n"
                         "chora_service: {health: {interval: 1, heartbeat_ttl: 4}}\n"}}));
  Start(/*lead=*/true, {"default/caps"});
  ASSERT_TRUE(
      WaitFor([&] { return kube_.Object(kCaps, "caps.a.both").has_value(); }, absl::Seconds(5)));
  ASSERT_TRUE(engine_->GetStatus("a.both").has_value());
  nlohmann::json unlabelled = *kube_.Object(kConfigMaps, "caps");
  unlabelled["metadata"].erase("labels");
  kube_.Seed(kConfigMaps, unlabelled);
  // A labelled ConfigMap created afterwards reaches the label informer on the same watch,
  // after the deletion: once its entry runs, the deletion has been handled too.
  nlohmann::json other = ConfigMap({{"o.yaml",
                                     "metadata: {dc_identifier: a.other}\nchora_service: {health: "
                                     "{interval: 1, heartbeat_ttl: 4}}\n"}});
  other["metadata"]["name"] = "other";
  kube_.Seed(kConfigMaps, other);
  ASSERT_TRUE(WaitFor([&] { return engine_->GetStatus("a.other").has_value(); }, absl::Seconds(5)));
  ASSERT_TRUE(WaitFor([&] { return Idle(); }, absl::Seconds(5)));
  EXPECT_TRUE(engine_->GetStatus("a.both").has_value()) << "still declared by name";
  EXPECT_TRUE(kube_.Object(kCaps, "caps.a.both").has_value());

  ASSERT_TRUE(kube_.Delete(kConfigMaps, "caps", {}).ok());
  ASSERT_TRUE(WaitFor([&] { return !engine_->GetStatus("a.both").has_value(); }, absl::Seconds(5)))
      << "gone from both watches: no longer declared";
}

TEST_F(OperatorTest, AFailedReconcileIsRetriedWithBackoffOnTheClock) {
  // The first two reconciles (the second because the engine reported the new capability
  // while the first ran) each fail on their finalizer and status patches.
  kube_.FailNext(Verb::kPatch, absl::UnavailableError("API server overloaded"), 4);
  kube_.Seed(kCaps, Capability("reg", "a.reg"));
  Start(/*lead=*/true);
  ASSERT_TRUE(
      WaitFor([&] { return operator_->reconcile_stats().error.load() == 2; }, absl::Seconds(5)));
  ASSERT_TRUE(WaitFor([&] { return Idle(); }, absl::Seconds(5)));
  EXPECT_EQ(operator_->QueueMetrics().delayed, 1) << "the retry waits for its backoff";
  EXPECT_EQ(Phase("reg"), "");
  clock_.Advance(absl::Milliseconds(5));  // the first per-item delay
  ASSERT_TRUE(WaitFor([&] { return Phase("reg") == "Pending"; }, absl::Seconds(5)));
  EXPECT_EQ((*kube_.Object(kCaps, "reg"))["metadata"]["finalizers"][0], capability::kFinalizer);
  EXPECT_EQ(operator_->reconcile_stats().error.load(), 2u);
}

TEST_F(OperatorTest, DeletingACapabilityRemovesItsKeyBeforeTheObjectGoes) {
  kube_.Seed(kCaps, Capability("reg", "a.reg"));
  Start(/*lead=*/true);
  ASSERT_TRUE(WaitFor([&] { return Phase("reg") == "Pending"; }, absl::Seconds(5)));
  Run(absl::Seconds(1));
  ASSERT_TRUE(etcd_.Get("/chora/capabilities/a.reg/health").has_value());
  ASSERT_TRUE(kube_.Delete(kCaps, "reg", {}).ok());
  ASSERT_TRUE(WaitFor([&] { return !kube_.Object(kCaps, "reg").has_value(); }, absl::Seconds(5)));
  EXPECT_FALSE(etcd_.Get("/chora/capabilities/a.reg/health").has_value());
  EXPECT_FALSE(engine_->GetStatus("a.reg").has_value());
  EXPECT_EQ(etcd_.deletes_of("/chora/capabilities/a.reg/health"), 1);
}

}  // namespace
}  // namespace hb::op
