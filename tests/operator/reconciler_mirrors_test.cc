// CapabilityReconciler and the mirrors of ConfigMap entries: names that never collide,
// objects that are not mirrors left alone, removed fields and refusals.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "capability/configmap_source.h"
#include "reconciler_fixture.h"

namespace hb::op {
namespace {

using kubefake::Verb;
using testing::kCaps;
using testing::kConfigMaps;
using testing::ReconcilerTest;

// Entries that would share a name under a naive scheme get one mirror each, and nothing
// is written back and forth.
TEST_F(ReconcilerTest, MirrorNamesAreDistinctForDistinctEntries) {
  auto manifest = [](const char* id) {
    return absl::StrCat("metadata: {dc_identifier: ", id,
                        "}\nchora_service: {health: {interval: 1, heartbeat_ttl: 4}}\n");
  };
  nlohmann::json cm = kube_.Seed(
      kConfigMaps, {{"apiVersion", "v1"},
                    {"kind", "ConfigMap"},
                    {"metadata", {{"name", "caps"}, {"namespace", "default"}, {"uid", "u1"}}},
                    {"data", {{"u.yaml", manifest("a.b_c")}, {"d.yaml", manifest("a.b-c")}}}});
  nlohmann::json dotted = kube_.Seed(
      kConfigMaps, {{"apiVersion", "v1"},
                    {"kind", "ConfigMap"},
                    {"metadata", {{"name", "caps.a"}, {"namespace", "default"}, {"uid", "u2"}}},
                    {"data", {{"x.yaml", manifest("b-c")}}}});
  index_.SetConfigMap("default/caps", capability::FromConfigMap(cm, {10, 30}).declarations);
  index_.SetConfigMap("default/caps.a", capability::FromConfigMap(dotted, {10, 30}).declarations);
  for (int round = 0; round < 3; ++round) {
    for (const char* id : {"a.b_c", "a.b-c", "b-c"}) ASSERT_TRUE(Reconcile(id).status.ok()) << id;
  }
  auto listed = kube_.List(kCaps, {});
  ASSERT_TRUE(listed.ok());
  std::map<std::string, std::string> identifier_of;
  for (const nlohmann::json& o : listed->items) {
    identifier_of[kube::ObjectName(o)] = o["spec"]["identifier"];
  }
  ASSERT_EQ(identifier_of.size(), 3u);
  EXPECT_EQ(identifier_of["caps.a.b-c"], "a.b-c") << "the plain name where it is unambiguous";
  std::set<std::string> ids;
  for (const auto& [name, id] : identifier_of) ids.insert(id);
  EXPECT_EQ(ids, (std::set<std::string>{"a.b_c", "a.b-c", "b-c"}));
  auto spec_writes = [&] {
    int64_t n = 0;
    for (const auto& r : kube_.Requests()) {
      bool spec = r.ref.resource == "capabilities" && r.subresource.empty();
      if (spec && (r.verb == Verb::kPatch || r.verb == Verb::kCreate)) ++n;
    }
    return n;
  };
  int64_t before = spec_writes();
  for (const char* id : {"a.b_c", "a.b-c", "b-c"}) ASSERT_TRUE(Reconcile(id).status.ok());
  EXPECT_EQ(spec_writes(), before) << "no mirror is rewritten while nothing changes";
}

// A Capability that is not a mirror is never changed by the mirror logic, whatever its name.
TEST_F(ReconcilerTest, AnObjectThatIsNotAMirrorIsLeftAloneAndTheProblemReported) {
  std::string taken = capability::MirrorName("caps", "a.cm");
  Declare(taken, {{"identifier", "a.user"},
                  {"title", "mine"},
                  {"heartbeat", {{"intervalSeconds", 1}, {"ttlSeconds", 4}}}});
  ASSERT_TRUE(Reconcile("a.user").status.ok());
  nlohmann::json before = *kube_.Object(kCaps, taken);
  nlohmann::json cm = kube_.Seed(
      kConfigMaps, {{"apiVersion", "v1"},
                    {"kind", "ConfigMap"},
                    {"metadata", {{"name", "caps"}, {"namespace", "default"}, {"uid", "u1"}}},
                    {"data",
                     {{"x.yaml",
                       "metadata: {dc_identifier: a.cm}\nchora_service: {health: {interval: 1, "
                       "heartbeat_ttl: 4}}\n"}}}});
  index_.SetConfigMap("default/caps", capability::FromConfigMap(cm, {10, 30}).declarations);
  for (int i = 0; i < 3; ++i) {
    ReconcileResult r = Reconcile("a.cm");
    EXPECT_TRUE(r.status.ok()) << "not an error to retry forever: " << r.status;
  }
  nlohmann::json after = *kube_.Object(kCaps, taken);
  EXPECT_EQ(after["spec"], before["spec"]);
  EXPECT_EQ(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
  EXPECT_TRUE(engine_->GetStatus("a.cm").has_value()) << "the entry still runs";
  auto events = kube_.List(kube::ResourceRef{"", "v1", "events", "default"}, {});
  ASSERT_TRUE(events.ok());
  int taken_events = 0;
  for (const nlohmann::json& e : events->items) {
    if (e.value("reason", "") != "MirrorNameTaken") continue;
    ++taken_events;
    EXPECT_EQ(e["involvedObject"]["kind"], "ConfigMap");
    EXPECT_EQ(e["involvedObject"]["name"], "caps");
  }
  EXPECT_EQ(taken_events, 1) << "reported once, not on every reconcile";
}

// A field the entry no longer gives leaves its mirror; a mirror the API server refuses is
// reported, not retried forever.
TEST_F(ReconcilerTest, MirrorsLoseRemovedFieldsAndRefusalsAreReported) {
  nlohmann::json cm = kube_.Seed(
      kConfigMaps,
      {{"apiVersion", "v1"},
       {"kind", "ConfigMap"},
       {"metadata", {{"name", "caps"}, {"namespace", "default"}, {"uid", "u1"}}},
       {"data",
        {{"x.yaml",
          "metadata: {dc_identifier: a.m, dc_title: Old title, dc_hasVersion: '1'}\n"
          "chora_service: {health: {interval: 1, heartbeat_ttl: 4, endpoint: /h}}\n"}}}});
  index_.SetConfigMap("default/caps", capability::FromConfigMap(cm, {10, 30}).declarations);
  ASSERT_TRUE(Reconcile("a.m").status.ok());
  ASSERT_EQ((*kube_.Object(kCaps, "caps.a.m"))["spec"]["title"], "Old title");
  cm["data"]["x.yaml"] =
      "metadata: {dc_identifier: a.m}\nchora_service: {health: {interval: 1, heartbeat_ttl: 4}}\n";
  index_.SetConfigMap("default/caps", capability::FromConfigMap(cm, {10, 30}).declarations);
  ASSERT_TRUE(Reconcile("a.m").status.ok());
  nlohmann::json spec = (*kube_.Object(kCaps, "caps.a.m"))["spec"];
  EXPECT_FALSE(spec.contains("title")) << spec.dump();
  EXPECT_FALSE(spec.contains("version")) << spec.dump();
  EXPECT_FALSE(spec.contains("health")) << spec.dump();

  ASSERT_TRUE(kube_.Delete(kCaps, "caps.a.m", {}).ok());
  kube_.FailNext(Verb::kCreate,
                 kube::MakeApiError({422, "Invalid", "spec.heartbeat.ttlSeconds: too large"}));
  ReconcileResult refused = Reconcile("a.m");
  EXPECT_TRUE(refused.status.ok()) << "a refusal cannot be retried away: " << refused.status;
  auto events = kube_.List(kube::ResourceRef{"", "v1", "events", "default"}, {});
  ASSERT_TRUE(events.ok());
  bool reported = false;
  for (const nlohmann::json& e : events->items) {
    if (e.value("reason", "") == "MirrorRefused") {
      reported = true;
      EXPECT_NE(e.value("message", "").find("ttlSeconds: too large"), std::string::npos);
    }
  }
  EXPECT_TRUE(reported);
}

}  // namespace
}  // namespace hb::op
