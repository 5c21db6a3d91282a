// CapabilityReconciler against in-memory Kubernetes and etcd, with the real engine on a
// fake clock: what one Reconcile() does for each kind of declaration.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "capability/configmap_source.h"
#include "reconciler_fixture.h"

namespace hb::op {
namespace {

using capability::FromCapability;
using kubefake::Verb;
using testing::kCaps;
using testing::kConfigMaps;
using testing::ReconcilerTest;

TEST_F(ReconcilerTest, ARunnableResourceGetsAHeartbeatAFinalizerAndStatus) {
  Declare("reg",
          {{"identifier", "a.reg"}, {"heartbeat", {{"intervalSeconds", 1}, {"ttlSeconds", 4}}}});
  ReconcileResult first = Reconcile("a.reg");
  ASSERT_TRUE(first.status.ok()) << first.status;
  EXPECT_EQ(first.requeue_after, absl::Seconds(30));
  ASSERT_TRUE(engine_->GetStatus("a.reg").has_value());
  auto object = kube_.Object(kCaps, "reg");
  EXPECT_EQ((*object)["metadata"]["finalizers"][0], capability::kFinalizer);
  EXPECT_EQ(Phase("reg"), "Pending");

  Run(absl::Seconds(1));
  ASSERT_TRUE(Reconcile("a.reg").status.ok());
  EXPECT_EQ(Phase("reg"), "Healthy");
  EXPECT_TRUE(KeyPresent("a.reg"));
  object = kube_.Object(kCaps, "reg");
  EXPECT_EQ((*object)["status"]["etcdKey"], "/chora/capabilities/a.reg/health");
  EXPECT_EQ((*object)["status"]["conditions"][0]["status"], "True");
  auto events = kube_.List(kube::ResourceRef{"", "v1", "events", "default"}, {});
  ASSERT_TRUE(events.ok());
  bool healthy_event = false;
  for (const auto& e : events->items) healthy_event |= e.value("reason", "") == "Healthy";
  EXPECT_TRUE(healthy_event);
}

TEST_F(ReconcilerTest, AStatusTheIndexHasNotSeenYetIsNeitherWrittenNorReportedAgain) {
  Declare("reg",
          {{"identifier", "a.reg"}, {"heartbeat", {{"intervalSeconds", 1}, {"ttlSeconds", 4}}}});
  ASSERT_TRUE(Reconcile("a.reg").status.ok());  // writes Pending
  ASSERT_EQ(StatusPatches(), 1);
  ASSERT_EQ(EventCount("Pending"), 1);
  nlohmann::json pending_version = *kube_.Object(kCaps, "reg");
  // Called again before the informer delivered that write (the engine's change hook does
  // this): the index still shows no status.
  ASSERT_TRUE(reconciler_->Reconcile("a.reg").status.ok());
  EXPECT_EQ(StatusPatches(), 1);
  EXPECT_EQ(EventCount("Pending"), 1);
  // A real change is still written over the stale index.
  Run(absl::Seconds(1));
  ASSERT_TRUE(reconciler_->Reconcile("a.reg").status.ok());
  EXPECT_EQ(StatusPatches(), 2);
  EXPECT_EQ(Phase("reg"), "Healthy");
  EXPECT_EQ(EventCount("Healthy"), 1);
  // The informer now delivers the Pending version (the Healthy one is still on its way).
  index_.SetResource("default/reg", FromCapability(pending_version));
  ASSERT_TRUE(reconciler_->Reconcile("a.reg").status.ok());
  EXPECT_EQ(StatusPatches(), 2) << "the Healthy write is newer than what the index shows";
  EXPECT_EQ(EventCount("Healthy"), 1);
}

TEST_F(ReconcilerTest, CountersAreWrittenAtMostOncePerSyncPeriod) {
  Declare("reg",
          {{"identifier", "a.reg"}, {"heartbeat", {{"intervalSeconds", 1}, {"ttlSeconds", 4}}}});
  Reconcile("a.reg");
  Run(absl::Seconds(2));
  Reconcile("a.reg");  // Pending -> Healthy: a transition, written
  int64_t patches = kube_.Calls(Verb::kPatch);
  Run(absl::Seconds(5));  // counters move on
  ReconcileResult result = Reconcile("a.reg");

  EXPECT_EQ(kube_.Calls(Verb::kPatch), patches) << "counters alone wait for the sync period";
  EXPECT_GT(result.requeue_after, absl::Seconds(20));
  EXPECT_LE(result.requeue_after, absl::Seconds(30));
  Run(absl::Seconds(26));
  Reconcile("a.reg");
  EXPECT_EQ(kube_.Calls(Verb::kPatch), patches + 1);
  EXPECT_GE((*kube_.Object(kCaps, "reg"))["status"]["heartbeatCount"].get<int>(), 30);
}

TEST_F(ReconcilerTest, PausingRemovesTheKeyAndTheHeartbeat) {
  Declare("reg",
          {{"identifier", "a.reg"}, {"heartbeat", {{"intervalSeconds", 1}, {"ttlSeconds", 4}}}});
  Reconcile("a.reg");
  Run(absl::Seconds(1));
  ASSERT_TRUE(KeyPresent("a.reg"));
  Declare("reg", {{"heartbeat", {{"paused", true}}}});
  ASSERT_TRUE(Reconcile("a.reg").status.ok());
  EXPECT_FALSE(engine_->GetStatus("a.reg").has_value());
  EXPECT_FALSE(KeyPresent("a.reg"));
  EXPECT_EQ(Phase("reg"), "Paused");
}

// The whole status after each transition: what no longer applies is gone, not kept.
TEST_F(ReconcilerTest, EachTransitionLeavesOnlyTheFieldsThatApply) {
  Declare("reg",
          {{"identifier", "a.reg"}, {"heartbeat", {{"intervalSeconds", 1}, {"ttlSeconds", 4}}}});
  Reconcile("a.reg");
  Run(absl::Seconds(2));
  ASSERT_TRUE(Reconcile("a.reg").status.ok());
  auto keys = [&] {
    std::set<std::string> out;
    nlohmann::json object = kube_.Object(kCaps, "reg").value();
    for (auto& [k, v] : object["status"].items()) out.insert(k);
    return out;
  };
  const std::set<std::string> always = {"phase",     "message", "identifier", "observedGeneration",
                                        "source",    "etcdKey", "ttlSeconds", "intervalSeconds",
                                        "conditions"};
  std::set<std::string> running = always;
  for (const char* k : {"leaseID", "heartbeatCount", "lastHeartbeatTime"}) running.insert(k);
  ASSERT_EQ(Phase("reg"), "Healthy");
  EXPECT_EQ(keys(), running);

  Declare("reg", {{"heartbeat", {{"paused", true}}}});
  ASSERT_TRUE(Reconcile("a.reg").status.ok());
  ASSERT_EQ(Phase("reg"), "Paused");
  EXPECT_EQ(keys(), always) << (*kube_.Object(kCaps, "reg"))["status"].dump();

  Declare("reg", {{"heartbeat", {{"paused", false}}}});
  Reconcile("a.reg");
  Run(absl::Seconds(2));
  ASSERT_TRUE(Reconcile("a.reg").status.ok());
  ASSERT_EQ(Phase("reg"), "Healthy");
  EXPECT_EQ(keys(), running);

  Declare("reg", {{"heartbeat", {{"intervalSeconds", 4}}}});  // not below the TTL
  ASSERT_TRUE(Reconcile("a.reg").status.ok());
  ASSERT_EQ(Phase("reg"), "Invalid");
  EXPECT_EQ(keys(), always);
}

TEST_F(ReconcilerTest, DeletionWaitsForTheKeyToBeGone) {
  Declare("reg",
          {{"identifier", "a.reg"}, {"heartbeat", {{"intervalSeconds", 1}, {"ttlSeconds", 4}}}});
  Reconcile("a.reg");
  Run(absl::Seconds(1));
  ASSERT_TRUE(kube_.Delete(kCaps, "reg", {}).ok());  // the finalizer keeps it, deleting
  ASSERT_TRUE(kube_.Object(kCaps, "reg").has_value());

  etcd_.SetDown(true);
  ReconcileResult failed = Reconcile("a.reg");
  EXPECT_FALSE(failed.status.ok());
  EXPECT_NE(failed.status.message().find("cannot delete /chora/capabilities/a.reg/health"),
            std::string::npos)
      << failed.status;
  EXPECT_TRUE(kube_.Object(kCaps, "reg").has_value()) << "the finalizer stays until etcd answers";

  etcd_.SetDown(false);
  ASSERT_TRUE(Reconcile("a.reg").status.ok());
  EXPECT_FALSE(KeyPresent("a.reg"));
  EXPECT_FALSE(kube_.Object(kCaps, "reg").has_value()) << "finalizer removed, object gone";
}

TEST_F(ReconcilerTest, TheOlderDeclarationWinsAndTheOtherSaysConflict) {
  Declare("first",
          {{"identifier", "a.dup"}, {"heartbeat", {{"intervalSeconds", 1}, {"ttlSeconds", 4}}}});
  clock_.Advance(absl::Seconds(5));
  Declare("second",
          {{"identifier", "a.dup"}, {"heartbeat", {{"intervalSeconds", 2}, {"ttlSeconds", 8}}}});
  Reconcile("a.dup");
  EXPECT_EQ(engine_->GetStatus("a.dup")->ttl_seconds, 4);
  EXPECT_EQ(Phase("second"), "Conflict");
  EXPECT_NE(Phase("first"), "Conflict");
}

TEST_F(ReconcilerTest, ConfigMapEntriesAreMirroredAndTheirMirrorsRemoved) {
  nlohmann::json cm =
      kube_.Seed(kConfigMaps, {{"apiVersion", "v1"},
                               {"kind", "ConfigMap"},
                               {"metadata", {{"name", "caps"}, {"namespace", "default"}}},
                               {"data",
                                {{"x.yaml",
                                  "metadata: {dc_identifier: a.cm_x}\nchora_service: {health: "
                                  "{interval: 1, heartbeat_ttl: 4}}\n"}}}});
  auto parsed = capability::FromConfigMap(cm, {10, 30});
  index_.SetConfigMap("default/caps", parsed.declarations);
  ASSERT_TRUE(Reconcile("a.cm_x").status.ok());
  // An underscore makes "<configmap>.<identifier>" ambiguous: the name carries a hash.
  std::string mirror_name = capability::MirrorName("caps", "a.cm_x");
  EXPECT_EQ(mirror_name.rfind("caps.a.cm-x-", 0), 0u) << mirror_name;
  auto mirror = kube_.Object(kCaps, mirror_name);
  ASSERT_TRUE(mirror.has_value());
  EXPECT_TRUE(capability::IsMirror(*mirror));
  EXPECT_EQ((*mirror)["spec"]["heartbeat"]["ttlSeconds"], 4);
  EXPECT_TRUE(engine_->GetStatus("a.cm_x").has_value());

  ASSERT_TRUE(Reconcile("a.cm_x").status.ok());  // the mirror is indexed now: its status
  auto counts = reconciler_->PhaseCounts();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts.begin()->first.first, "configmap");

  index_.SetConfigMap("default/caps", {});
  ASSERT_TRUE(Reconcile("a.cm_x").status.ok());
  EXPECT_FALSE(kube_.Object(kCaps, mirror_name).has_value());
  EXPECT_FALSE(engine_->GetStatus("a.cm_x").has_value());
  EXPECT_TRUE(reconciler_->PhaseCounts().empty()) << "a deleted mirror leaves the phase metrics";
}

TEST_F(ReconcilerTest, AnInvalidSpecIsReportedNotRetried) {
  Declare("slow",
          {{"identifier", "a.slow"}, {"heartbeat", {{"intervalSeconds", 30}, {"ttlSeconds", 30}}}});
  ReconcileResult result = Reconcile("a.slow");
  EXPECT_TRUE(result.status.ok()) << "an invalid spec is not an error to retry";
  EXPECT_EQ(result.requeue_after, absl::ZeroDuration());
  EXPECT_EQ(Phase("slow"), "Invalid");
  EXPECT_FALSE(engine_->GetStatus("a.slow").has_value());
}

// A heartbeat's first beat follows its start within moments: Pending is not written (nor
// recorded as an Event) unless it lasts the grace; one write per start-up instead of two.
TEST_F(ReconcilerTest, PendingIsWrittenOnlyWhenItOutlastsTheGrace) {
  ReconcilerOptions options;
  options.status_sync_period = absl::Seconds(30);
  options.pending_grace = absl::Seconds(5);
  UseOptions(options);
  Declare("fast",
          {{"identifier", "a.fast"}, {"heartbeat", {{"intervalSeconds", 1}, {"ttlSeconds", 4}}}});
  ReconcileResult first = Reconcile("a.fast");
  ASSERT_TRUE(first.status.ok()) << first.status;
  EXPECT_EQ(first.requeue_after, absl::Seconds(5)) << "looked at again when the grace ends";
  EXPECT_EQ(StatusPatches(), 0);
  EXPECT_EQ(Phase("fast"), "");
  Run(absl::Seconds(1));
  ASSERT_TRUE(Reconcile("a.fast").status.ok());
  EXPECT_EQ(Phase("fast"), "Healthy");
  EXPECT_EQ(StatusPatches(), 1);
  EXPECT_EQ(EventCount("Pending"), 0);
  EXPECT_EQ(EventCount("Healthy"), 1);

  // etcd answers the grant only after 10 s: Pending lasts, and is written once the grace
  // is over.
  etcd_.SetLatency(absl::Seconds(10));
  Declare("slow",
          {{"identifier", "a.slow"}, {"heartbeat", {{"intervalSeconds", 1}, {"ttlSeconds", 4}}}});
  ASSERT_TRUE(Reconcile("a.slow").status.ok());
  Run(absl::Seconds(3));
  ReconcileResult early = Reconcile("a.slow");
  EXPECT_EQ(Phase("slow"), "");
  EXPECT_EQ(early.requeue_after, absl::Seconds(2));
  Run(early.requeue_after);
  ASSERT_TRUE(Reconcile("a.slow").status.ok());
  EXPECT_EQ(Phase("slow"), "Pending");
  EXPECT_EQ(EventCount("Pending"), 1);

  // A failure is never held: etcd down makes a new heartbeat Failing, written at once.
  etcd_.SetLatency(absl::ZeroDuration());
  etcd_.SetDown(true);
  Declare("down",
          {{"identifier", "a.down"}, {"heartbeat", {{"intervalSeconds", 1}, {"ttlSeconds", 4}}}});
  ASSERT_TRUE(Reconcile("a.down").status.ok());
  Run(absl::Seconds(3));
  ASSERT_TRUE(Reconcile("a.down").status.ok());
  EXPECT_EQ(Phase("down"), "Failing");
}

// Counters of all objects together take at most counter_writes_per_second: 10 objects at
// 0.1/s are written every 100 s, not every sync period (30 s); transitions are not held.
TEST_F(ReconcilerTest, CounterWritesStayWithinTheirShareOfTheBudget) {
  ReconcilerOptions options;
  options.status_sync_period = absl::Seconds(30);
  options.counter_writes_per_second = 0.1;
  options.pending_grace = absl::ZeroDuration();
  UseOptions(options);
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    std::string name = "c" + std::to_string(i);
    ids.push_back("a." + name);
    Declare(name, {{"identifier", ids.back()},
                   {"heartbeat", {{"intervalSeconds", 1}, {"ttlSeconds", 4}}}});
  }
  for (const std::string& id : ids) ASSERT_TRUE(Reconcile(id).status.ok());
  Run(absl::Seconds(2));
  for (const std::string& id : ids) ASSERT_TRUE(Reconcile(id).status.ok());  // -> Healthy
  for (int i = 0; i < 10; ++i) ASSERT_EQ(Phase("c" + std::to_string(i)), "Healthy");
  int64_t patches = kube_.Calls(Verb::kPatch);

  Run(absl::Seconds(40));  // past the sync period, within the share's period
  for (const std::string& id : ids) {
    ReconcileResult result = Reconcile(id);
    ASSERT_TRUE(result.status.ok());
    EXPECT_GT(result.requeue_after, absl::Seconds(50)) << id;
    EXPECT_LE(result.requeue_after, absl::Seconds(60)) << id;
  }
  EXPECT_EQ(kube_.Calls(Verb::kPatch), patches) << "10 objects / 0.1 per s: every 100 s";

  Run(absl::Seconds(60));
  for (const std::string& id : ids) ASSERT_TRUE(Reconcile(id).status.ok());
  EXPECT_EQ(kube_.Calls(Verb::kPatch), patches + 10);

  etcd_.SetDown(true);  // a transition is written at once, whatever the counters' period
  Run(absl::Seconds(6));
  ASSERT_TRUE(Reconcile("a.c0").status.ok());
  EXPECT_NE(Phase("c0"), "Healthy");
  EXPECT_EQ(kube_.Calls(Verb::kPatch), patches + 11);
}

}  // namespace
}  // namespace hb::op
