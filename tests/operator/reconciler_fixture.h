// The fixture of the CapabilityReconciler tests: in-memory Kubernetes and etcd, the real
// engine on a fake clock, and an index filled as the informers would fill it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "capability/declaration.h"
#include "etcd/fake_etcd.h"
#include "kubefake/fake_kube_client.h"
#include "operator/reconciler.h"

namespace hb::op::testing {

inline const kube::ResourceRef kCaps{"chora.dev", "v1alpha1", "capabilities", "default"};
inline const kube::ResourceRef kConfigMaps{"", "v1", "configmaps", "default"};

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest() {
    etcd_.SetAutoDeliver(true);
    heartbeat::EngineOptions options;
    options.adopt = false;
    options.seed = 7;
    engine_ = std::make_unique<heartbeat::HeartbeatEngine>(etcd_, clock_, options);
    ReconcilerOptions ro;
    ro.status_sync_period = absl::Seconds(30);
    ro.pending_grace = absl::ZeroDuration();  // Pending is written at once unless a test asks
    UseOptions(ro);
  }

  // Replaces the reconciler by one with `options` (before the test's first Reconcile()).
  void UseOptions(const ReconcilerOptions& options) {
    reconciler_ =
        std::make_unique<CapabilityReconciler>(kube_, *engine_, index_, events_, clock_, options);
  }

  // Indexes every Capability as the informer would have by now (resources and mirrors),
  // then reconciles `id`.
  ReconcileResult Reconcile(const std::string& id) {
    auto listed = kube_.List(kCaps, {});
    EXPECT_TRUE(listed.ok());
    std::set<std::string> now;
    for (const nlohmann::json& object :
         listed.ok() ? listed->items : std::vector<nlohmann::json>{}) {
      std::string key = "default/" + kube::ObjectName(object);
      now.insert(key);
      if (capability::IsMirror(object)) {
        index_.SetMirror(key, capability::FromMirror(object));
      } else {
        index_.SetResource(key, capability::FromCapability(object));
      }
    }
    for (const std::string& gone : seen_) {
      if (now.count(gone) > 0) continue;
      index_.SetResource(gone, std::nullopt);
      index_.SetMirror(gone, std::nullopt);
    }
    seen_ = now;
    return reconciler_->Reconcile(id);
  }
  // Creates (or updates the spec of) a Capability.
  void Declare(const std::string& name, nlohmann::json spec) {
    auto existing = kube_.Object(kCaps, name);
    if (!existing) {
      kube_.Seed(kCaps, {{"apiVersion", "chora.dev/v1alpha1"},
                         {"kind", "Capability"},
                         {"metadata", {{"name", name}, {"namespace", "default"}}},
                         {"spec", spec}});
    } else {
      ASSERT_TRUE(kube_.Patch(kCaps, name, kube::PatchType::kMerge, {{"spec", spec}}, {}).ok());
    }
  }
  // Lets the engine work for `d` of virtual time.
  void Run(absl::Duration d) {
    absl::Time end = clock_.Now() + d;
    while (clock_.Now() < end) {
      engine_->RunDue();
      clock_.Advance(absl::Milliseconds(50));
    }
    engine_->RunDue();
  }
  std::string Phase(const std::string& name) {
    auto object = kube_.Object(kCaps, name);
    return object ? object->value("status", nlohmann::json::object()).value("phase", "") : "";
  }
  // Status subresource patches made so far.
  int StatusPatches() {
    int n = 0;
    for (const auto& r : kube_.Requests()) {
      n += r.verb == kubefake::Verb::kPatch && r.subresource == "status";
    }
    return n;
  }
  // Events in the namespace with `reason`.
  int EventCount(const std::string& reason) {
    int n = 0;
    auto listed = kube_.List(kube::ResourceRef{"", "v1", "events", "default"}, {});
    for (const auto& e : listed.ok() ? listed->items : std::vector<nlohmann::json>{}) {
      n += e.value("reason", "") == reason;
    }
    return n;
  }
  bool KeyPresent(const std::string& id) {
    return etcd_.Get("/chora/capabilities/" + id + "/health").has_value();
  }

  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  etcd::FakeEtcd etcd_{clock_};
  kubefake::FakeKubeClient kube_{clock_};
  DeclarationIndex index_;
  EventRecorder events_{kube_, clock_, "test"};
  std::unique_ptr<heartbeat::HeartbeatEngine> engine_;
  std::unique_ptr<CapabilityReconciler> reconciler_;
  std::set<std::string> seen_;  // object keys indexed so far
};

}  // namespace hb::op::testing
