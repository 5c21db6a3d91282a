// The controller end to end, driven by the real kubectl: capability ConfigMaps.
#include "capability/configmap_source.h"
#include "controller_fixture.h"

namespace hb::testing {
namespace {

std::string ConfigMap(const std::string& entries) {
  return absl::StrCat(
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caps\n  namespace: default\n"
      "  labels: {chora.dev/capabilities: \"true\"}\ndata:\n",
      entries);
}

const char kServiceOne[] =
    "  one.yaml: |\n"
    "    metadata: {dc_identifier: chora.cm.one, dc_type: Service}\n"
    "    chora_service: {health: {interval: 1, heartbeat_ttl: 4}}\n";
const char kServiceTwo[] =
    "  two.yml: |\n"
    "    metadata: {dc_identifier: chora.cm.two_words, dc_type: Service}\n"
    "    chora_service: {}\n";
const char kPattern[] =
    "  pattern.yaml: |\n"
    "    metadata: {dc_identifier: chora.cm.pattern, dc_type: Pattern}\n"
    "    # no chora_service block here\n"
    "    chora_pattern: {}\n";
const char kBroken[] =
    "  broken.yaml: |\n"
    "    metadata: [this is: not closed\n";
const char kServiceThree[] =
    "  three.yaml: |\n"
    "    metadata: {dc_identifier: chora.cm.three}\n"
    "    chora_service: {}\n";

TEST_F(ControllerE2E, AConfigMapGivesExactlyItsServiceHeartbeatsAndReportsBrokenManifests) {
  Process& controller = StartController();
  Apply(ConfigMap(absl::StrCat(kServiceOne, kServiceTwo, kPattern, kBroken)));
  ASSERT_TRUE(WaitFor([&] { return HealthKeys().size() == 2; }, absl::Seconds(10)))
      << controller.Output();
  auto value = heartbeat::ParseHealthValue(etcd_->Get(Key("chora.cm.one")).value_or(""));
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->ttl_seconds, 4) << "the manifest's own timing";
  EXPECT_EQ(value->source, "ConfigMap default/caps[one.yaml]");

  // Every declared capability shows in kubectl get capabilities.
  EXPECT_TRUE(WaitFor([&] { return Phase("caps.chora.cm.one") == "Healthy"; }, absl::Seconds(10)))
      << controller.Output();
  EXPECT_TRUE(WaitFor(
      [&] { return Phase(capability::MirrorName("caps", "chora.cm.two_words")) == "Healthy"; },
      absl::Seconds(10)));
  EXPECT_TRUE(
      WaitFor([&] { return Phase("caps.chora.cm.pattern") == "NotApplicable"; }, absl::Seconds(5)));
  // Every entry has been reconciled (each has its phase): no third key came of them.
  EXPECT_EQ(HealthKeys(),
            (std::vector<std::string>{Key("chora.cm.one"), Key("chora.cm.two_words")}));
  CommandResult table = Kubectl({"get", "capabilities", "-o", "wide"});
  EXPECT_NE(table.output.find("ConfigMap default/caps[two.yml]"), std::string::npos)
      << table.output;

  // The broken manifest: one error, in the log and as an Event on the ConfigMap.
  EXPECT_NE(
      controller.Output().find("Skipping ConfigMap default/caps[broken.yaml]: not valid YAML"),
      std::string::npos)
      << controller.Output();
  EXPECT_TRUE(WaitFor(
      [&] {
        CommandResult events = Kubectl(
            {"get", "events", "--field-selector", "involvedObject.name=caps", "-o", "json"});
        return events.output.find("InvalidManifest") != std::string::npos &&
               events.output.find("broken.yaml") != std::string::npos;
      },
      absl::Seconds(5)));

  // Editing the ConfigMap adds and removes heartbeats (and their mirrors).
  Apply(ConfigMap(absl::StrCat(kServiceOne, kServiceThree)));
  EXPECT_TRUE(WaitFor(
      [&] {
        return HealthKeys() == std::vector<std::string>{Key("chora.cm.one"), Key("chora.cm.three")};
      },
      absl::Seconds(10)))
      << controller.Output();
  EXPECT_TRUE(WaitFor(
      [&] {
        return !Get("capability/" + capability::MirrorName("caps", "chora.cm.two_words"))
                    .is_object();
      },
      absl::Seconds(5)));
  EXPECT_TRUE(
      WaitFor([&] { return Phase("caps.chora.cm.three") == "Healthy"; }, absl::Seconds(10)));

  // Deleting the ConfigMap ends its heartbeats.
  ASSERT_EQ(Kubectl({"delete", "configmap/caps"}).exit_code, 0);
  EXPECT_TRUE(WaitFor([&] { return HealthKeys().empty(); }, absl::Seconds(10)))
      << controller.Output();
  EXPECT_TRUE(controller.Running());
}

TEST_F(ControllerE2E, ANamedConfigMapWorksWithoutTheLabelAndAResourceOutranksIt) {
  Process& controller =
      StartController({"--capabilities-configmap=default/named", "--configmap-selector", ""});
  Apply(
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: named, namespace: default}\ndata:\n"
      "  reg.yaml: |\n"
      "    metadata: {dc_identifier: chora.devex.registry}\n"
      "    chora_service: {health: {interval: 1, heartbeat_ttl: 4}}\n");
  ASSERT_TRUE(WaitFor([&] { return Present("chora.devex.registry"); }, absl::Seconds(10)))
      << controller.Output();
  EXPECT_NE(controller.Output().find("configmap_selector=\"\""), std::string::npos)
      << "an empty selector turns the label-selected source off\n"
      << controller.Output();
  Apply(Capability("registry",
                   "  identifier: chora.devex.registry\n  heartbeat: "
                   "{intervalSeconds: 2, ttlSeconds: 6}\n"));
  EXPECT_TRUE(
      WaitFor([&] { return Phase("named.chora.devex.registry") == "Conflict"; }, absl::Seconds(10)))
      << controller.Output();
  EXPECT_TRUE(WaitFor(
      [&] {
        auto v = heartbeat::ParseHealthValue(etcd_->Get(Key("chora.devex.registry")).value_or(""));
        return v.ok() && v->ttl_seconds == 6 && v->source == "Capability default/registry";
      },
      absl::Seconds(10)));
  EXPECT_EQ(Phase("registry"), "Healthy");
}

}  // namespace
}  // namespace hb::testing
