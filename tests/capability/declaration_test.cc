#include "capability/declaration.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>
#include <vector>

#include "capability/configmap_source.h"
#include "common/time_format.h"

namespace hb::capability {
namespace {

nlohmann::json Cap(const std::string& name, nlohmann::json spec,
                   const std::string& created = "2026-01-01T00:00:00Z") {
  return {{"apiVersion", "chora.dev/v1alpha1"},
          {"kind", "Capability"},
          {"metadata",
           {{"name", name},
            {"namespace", "default"},
            {"creationTimestamp", created},
            {"generation", 3}}},
          {"spec", spec}};
}

TEST(DeclarationTest, ReadsACapabilityWithDefaults) {
  Declaration d = FromCapability(Cap("registry", {{"identifier", "chora.devex.registry"}}));
  EXPECT_EQ(d.identifier, "chora.devex.registry");
  EXPECT_EQ(d.source, "Capability default/registry");
  EXPECT_TRUE(d.service);
  EXPECT_FALSE(d.paused);
  EXPECT_EQ(d.interval_seconds, 10);
  EXPECT_EQ(d.ttl_seconds, 30);
  EXPECT_EQ(d.generation, 3);
  EXPECT_TRUE(d.invalid.empty());
  EXPECT_FALSE(d.HasFinalizer());
  EXPECT_EQ(d.created, *ParseRfc3339("2026-01-01T00:00:00Z"));
}

TEST(DeclarationTest, TheNameIsTheIdentifierWhenNoneIsGiven) {
  Declaration d = FromCapability(
      Cap("chora.devex.bootstrap",
          {{"type", "Pattern"}, {"heartbeat", {{"paused", true}, {"intervalSeconds", 2}}}}));
  EXPECT_EQ(d.identifier, "chora.devex.bootstrap");
  EXPECT_FALSE(d.service);
  EXPECT_TRUE(d.paused);
  EXPECT_EQ(d.interval_seconds, 2);
}

TEST(DeclarationTest, ASpecThatCannotRunIsInvalidWithTheField) {
  struct Case {
    nlohmann::json spec;
    const char* field;
  };
  for (const Case& c : std::vector<Case>{
           {{{"heartbeat", {{"intervalSeconds", 30}, {"ttlSeconds", 30}}}},
            "spec.heartbeat.intervalSeconds: interval (30 s) must be below the TTL (30 s)"},
           {{{"heartbeat", {{"ttlSeconds", -5}}}},
            "spec.heartbeat.ttlSeconds: TTL must be 2 to 86400 seconds, got -5"},
           {{{"heartbeat", {{"ttlSeconds", 1000000}}}},
            "spec.heartbeat.ttlSeconds: TTL must be 2 to 86400 seconds, got 1000000"},
           {{{"heartbeat", {{"intervalSeconds", 0}}}},
            "spec.heartbeat.intervalSeconds: interval must be 1 to 3600 seconds, got 0"},
           {{{"title", std::string(300, 't')}}, "spec.title: longer than 256 characters"},
           {{{"heartbeat", {{"ttlSeconds", "thirty"}}}},
            "spec.heartbeat.ttlSeconds: must be an integer"},
           {{{"identifier", "Bad_Id"}}, "spec.identifier: \"Bad_Id\" is not a valid identifier"},
           {{{"type", "Daemon"}}, "spec.type: must be Service or Pattern"}}) {
    Declaration d = FromCapability(Cap("x", c.spec));
    EXPECT_NE(d.invalid.find(c.field), std::string::npos) << d.invalid;
  }
}

TEST(DeclarationTest, DeletionAndFinalizerAreSeen) {
  nlohmann::json cap = Cap("x", nlohmann::json::object());
  cap["metadata"]["deletionTimestamp"] = "2026-01-02T00:00:00Z";
  cap["metadata"]["finalizers"] = {"other", std::string(kFinalizer)};
  Declaration d = FromCapability(cap);
  EXPECT_TRUE(d.deleting);
  EXPECT_TRUE(d.HasFinalizer());
  EXPECT_EQ(d.finalizers, (std::vector<std::string>{"other", kFinalizer}));
}

TEST(WinnerTest, ResourcesOutrankConfigMapsAndTheOldestWins) {
  Declaration young = FromCapability(Cap("young", {{"identifier", "a.b"}}, "2026-03-01T00:00:00Z"));
  Declaration old = FromCapability(Cap("old", {{"identifier", "a.b"}}, "2026-02-01T00:00:00Z"));
  Declaration entry;
  entry.kind = Declaration::Kind::kConfigMap;
  entry.identifier = "a.b";
  entry.created = absl::FromUnixSeconds(0);  // older than both, still outranked
  std::vector<Declaration> all = {entry, young, old};
  EXPECT_EQ(Winner(all), 2);
  all[2].deleting = true;  // a deleting resource steps aside
  EXPECT_EQ(Winner(all), 1);
  EXPECT_EQ(Winner({entry}), 0);
  EXPECT_EQ(Winner({}), -1);
}

TEST(ConfigMapTest, ManifestsBecomeDeclarationsAndErrorsNameTheKey) {
  nlohmann::json cm = {
      {"metadata",
       {{"name", "caps"},
        {"namespace", "team"},
        {"uid", "u1"},
        {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
      {"data",
       {{"a.yaml",
         "metadata: {dc_identifier: chora.a_b}\nchora_service: {health: {interval: 3}}\n"},
        {"b.yml", "metadata: {dc_identifier: chora.p}\n# chora_service: none\n"},
        {"c.yaml", "metadata: [broken\n"},
        {"notes.txt", "metadata: {dc_identifier: ignored}\nchora_service: {}\n"}}}};
  ConfigMapCapabilities parsed = FromConfigMap(cm, manifest::HeartbeatTiming{10, 30});
  ASSERT_EQ(parsed.declarations.size(), 2u);
  const Declaration& service = parsed.declarations[0];
  EXPECT_EQ(service.identifier, "chora.a_b");
  EXPECT_EQ(service.kind, Declaration::Kind::kConfigMap);
  EXPECT_EQ(service.source, "ConfigMap team/caps[a.yaml]");
  EXPECT_EQ(service.key, "a.yaml");
  EXPECT_EQ(service.interval_seconds, 3);
  EXPECT_TRUE(service.service);
  EXPECT_FALSE(parsed.declarations[1].service);
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_EQ(parsed.errors[0].rfind("ConfigMap team/caps[c.yaml]: not valid YAML", 0), 0u)
      << parsed.errors[0];

  EXPECT_EQ(service.uid, "u1") << "the ConfigMap's, for the mirror's owner reference";
  nlohmann::json mirror = MirrorObject(service);
  // An underscore cannot be in an object name: "-" plus a hash that is the same on every
  // build keeps the name apart from "chora.a-b"'s.
  EXPECT_EQ(mirror["metadata"]["name"], "caps.chora.a-b-886800fbdc");
  EXPECT_EQ(mirror["metadata"]["labels"][kManagedByLabel], kManagedByValue);
  EXPECT_EQ(mirror["metadata"]["annotations"][kSourceAnnotation], "configmap/team/caps/a.yaml");
  EXPECT_EQ(mirror["metadata"]["ownerReferences"][0]["uid"], "u1");
  EXPECT_EQ(mirror["spec"]["identifier"], "chora.a_b");
  EXPECT_EQ(mirror["spec"]["heartbeat"]["intervalSeconds"], 3);
  EXPECT_TRUE(IsMirror(mirror));
  EXPECT_FALSE(IsMirror(Cap("x", nlohmann::json::object())));
  Mirror read = FromMirror(mirror);
  EXPECT_EQ(read.identifier, "chora.a_b");
  EXPECT_EQ(read.source, "configmap/team/caps/a.yaml");
  EXPECT_EQ(read.ObjectKey(), "team/caps.chora.a-b-886800fbdc");
  EXPECT_EQ(read.spec, mirror["spec"]);
}

TEST(ConfigMapTest, MirrorNamesAreValidAndDistinctForDistinctEntries) {
  EXPECT_EQ(MirrorName("caps", "chora.devex.registry"), "caps.chora.devex.registry");
  const std::vector<std::pair<std::string, std::string>> entries = {{"caps", "a.b_c"},
                                                                    {"caps", "a.b-c"},
                                                                    {"caps.a", "b-c"},
                                                                    {"caps", "a.b.c"},
                                                                    {"caps.a.b", "c"},
                                                                    {"x", "y.z"},
                                                                    {"x.y", "z"},
                                                                    {std::string(250, 'c'), "a"},
                                                                    {std::string(250, 'c'), "b"}};
  std::set<std::string> names;
  for (const auto& [configmap, identifier] : entries) {
    std::string name = MirrorName(configmap, identifier);
    EXPECT_LE(name.size(), 253u) << name;
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-"), std::string::npos)
        << name;
    EXPECT_TRUE(names.insert(name).second) << configmap << " + " << identifier << " -> " << name;
  }
}

TEST(DeclarationTest, MalformedObjectsNeverThrow) {
  for (const char* text :
       {R"(null)", R"([])", R"({"metadata": []})", R"({"metadata": {"generation": "3"}})",
        R"({"metadata": {"name": "x", "finalizers": "f"}, "spec": []})",
        R"({"metadata": {"name": "x", "labels": []}, "spec": {"heartbeat": 5}})",
        R"({"metadata": {"name": "x"}, "spec": {"health": [1]}, "status": 7})"}) {
    nlohmann::json object = nlohmann::json::parse(text);
    EXPECT_NO_THROW(FromCapability(object)) << text;
    EXPECT_NO_THROW(FromMirror(object)) << text;
    EXPECT_NO_THROW(IsMirror(object)) << text;
    EXPECT_NO_THROW(FromConfigMap(object, manifest::HeartbeatTiming{10, 30})) << text;
  }
  Declaration d = FromCapability(nlohmann::json::parse(
      R"({"metadata": {"name": "x", "generation": "3"}, "spec": {"heartbeat": 5}})"));
  EXPECT_EQ(d.generation, 0);
  EXPECT_EQ(d.identifier, "x");
}

// The check holds ports, minReady and thresholds as int: a larger value must not wrap to one
// that passes the bounds (4294967376 is 80 as an int).
TEST(DeclarationTest, HealthIntegersBeyondAnIntAreInvalid) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {R"({"tcp": {"host": "db", "port": 4294967376}})",
       "spec.health.tcp.port: out of range, got 4294967376"},
      {R"({"grpc": {"host": "db", "port": 4294967376}})",
       "spec.health.grpc.port: out of range, got 4294967376"},
      {R"({"serviceRef": {"name": "svc", "minReady": 4294967297}})",
       "spec.health.serviceRef.minReady: out of range, got 4294967297"},
      {R"({"url": "http://x", "failureThreshold": 4294967299})",
       "spec.health.failureThreshold: out of range, got 4294967299"},
      {R"({"url": "http://x", "successThreshold": -4294967295})",
       "spec.health.successThreshold: out of range, got -4294967295"},
      {R"({"url": "http://x", "flapThreshold": 4294967301})",
       "spec.health.flapThreshold: out of range, got 4294967301"}};
  for (const auto& [health, invalid] : cases) {
    Declaration d = FromCapability(Cap("a.b", {{"health", nlohmann::json::parse(health)}}));
    EXPECT_EQ(d.invalid, invalid) << health;
  }
}

}  // namespace
}  // namespace hb::capability
