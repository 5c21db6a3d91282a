// What a manifest says about checking its service: both layouts of the chora format, both
// forms of interfaces, every way a duration is written, and the check each resolves to.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "manifest/discovery.h"
#include "manifest/manifest.h"

namespace hb::manifest {
namespace {

// The registry's layout: chora_service at the top level, interfaces as names, bare seconds.
const char kRegistryLayout[] = R"(metadata:
  dc_identifier: chora.devex.registry
  dc_type: Service
chora_service:
  interfaces: [cli, mcp]
  health:
    endpoint: /health
    interval: 10
    timeout: 5
    heartbeat_ttl: 30
)";

// The specification's layout: nested under spec, interfaces as objects, durations with units.
const char kSpecLayout[] = R"(metadata:
  dc_identifier: chora.devex.spec
  dc_type: Service
spec:
  chora_service:
    interfaces:
      - type: cli
        command: chora
      - type: rest
        port: 8080
        host: 0.0.0.0
        openapi: /openapi.json
        auth_required: false
      - type: mcp
        transport: sse
    health:
      endpoint: /health
      interval: 15s
      timeout: 2s
      heartbeat_ttl: 1m
      liveness_probe: /health/live
      readiness_probe: /health/ready
)";

Manifest Parse(const std::string& text) {
  auto m = ParseManifest(text, "x.yaml");
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : Manifest();
}

check::CheckSpec Resolve(const std::string& text, CheckDefaults defaults = {}) {
  Manifest m = Parse(text);
  auto timing = ResolveTiming(m, {10, 30});
  EXPECT_TRUE(timing.ok()) << timing.status();
  auto spec = ResolveCheck(m, *timing, defaults);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : check::CheckSpec();
}

TEST(ManifestCheckTest, TheRegistryLayoutHasNoRestPortSoItIsCheckedAsNone) {
  Manifest m = Parse(kRegistryLayout);
  EXPECT_TRUE(m.service);
  EXPECT_EQ(m.interfaces, (std::vector<std::string>{"cli", "mcp"}));
  EXPECT_EQ(m.interval_seconds, 10);
  EXPECT_EQ(m.timeout, absl::Seconds(5));
  check::CheckSpec spec = Resolve(kRegistryLayout);
  EXPECT_EQ(spec.kind, check::CheckKind::kNone);
  EXPECT_NE(spec.none_reason.find("no rest interface"), std::string::npos) << spec.none_reason;
}

TEST(ManifestCheckTest, TheSpecLayoutIsReadAndProbesTheRestInterface) {
  Manifest m = Parse(kSpecLayout);
  EXPECT_TRUE(m.service);
  EXPECT_EQ(m.service_path, "spec.chora_service");
  EXPECT_EQ(m.interval_seconds, 15);
  EXPECT_EQ(m.ttl_seconds, 60);
  EXPECT_EQ(m.rest_port, 8080);
  EXPECT_EQ(m.readiness_probe, "/health/ready");
  check::CheckSpec spec = Resolve(kSpecLayout);
  EXPECT_EQ(spec.kind, check::CheckKind::kHttp);
  // 0.0.0.0 is the service's own address: standalone's --check-host, 127.0.0.1 by default.
  EXPECT_EQ(spec.url, "http://127.0.0.1:8080/health");
  EXPECT_EQ(spec.period, absl::Seconds(15));
  EXPECT_EQ(spec.timeout, absl::Seconds(2));
  EXPECT_EQ(spec.failure_threshold, 3);
  EXPECT_EQ(Resolve(kSpecLayout, CheckDefaults{true, "10.1.2.3"}).url,
            "http://10.1.2.3:8080/health");
  // Where the address is unknown (a ConfigMap in the cluster), nothing is probed and it says so.
  check::CheckSpec unknown = Resolve(kSpecLayout, CheckDefaults{true, ""});
  EXPECT_EQ(unknown.kind, check::CheckKind::kNone);
  EXPECT_NE(unknown.none_reason.find("0.0.0.0"), std::string::npos);
  EXPECT_EQ(Resolve(kSpecLayout, CheckDefaults{false, "127.0.0.1"}).kind, check::CheckKind::kNone);
}

TEST(ManifestCheckTest, TheTimeoutDefaultsToHalfTheInterval) {
  std::string text = kSpecLayout;
  text.replace(text.find("      timeout: 2s\n"), 18, "");
  EXPECT_EQ(Resolve(text).timeout, absl::Milliseconds(7500));
}

TEST(ManifestCheckTest, ExplicitTargetsAndThresholds) {
  std::string base = R"(metadata: {dc_identifier: a.b}
chora_service:
  health:
    interval: 1m
    heartbeat_ttl: 3m
    timeout: 500ms
    failure_threshold: 2
    success_threshold: 2
    initial_delay: 5s
    deregister_after: 10m
    flap_threshold: 4
    flap_window: 1h
)";
  check::CheckSpec url =
      Resolve(base + "    url: https://svc.example:8443/\n    endpoint: /healthz\n");
  EXPECT_EQ(url.kind, check::CheckKind::kHttp);
  EXPECT_EQ(url.url, "https://svc.example:8443/healthz");
  EXPECT_EQ(url.timeout, absl::Milliseconds(500));
  EXPECT_EQ(url.failure_threshold, 2);
  EXPECT_EQ(url.success_threshold, 2);
  EXPECT_EQ(url.initial_delay, absl::Seconds(5));
  EXPECT_EQ(url.deregister_after, absl::Minutes(10));
  EXPECT_EQ(url.flap_threshold, 4);
  EXPECT_EQ(url.flap_window, absl::Hours(1));
  check::CheckSpec tcp = Resolve(base + "    tcp: {host: db.local, port: 5432}\n");
  EXPECT_EQ(tcp.kind, check::CheckKind::kTcp);
  EXPECT_EQ(tcp.Target(), "db.local:5432");
  check::CheckSpec grpc =
      Resolve(base + "    grpc: {host: 127.0.0.1, port: 50051, service: x.Y}\n");
  EXPECT_EQ(grpc.kind, check::CheckKind::kGrpc);
  EXPECT_EQ(grpc.grpc_service, "x.Y");
}

TEST(ManifestCheckTest, EveryWayADurationIsWritten) {
  EXPECT_EQ(*ParseDuration("10"), absl::Seconds(10));
  EXPECT_EQ(*ParseDuration("2.5"), absl::Milliseconds(2500));
  EXPECT_EQ(*ParseDuration("10s"), absl::Seconds(10));
  EXPECT_EQ(*ParseDuration("1m"), absl::Minutes(1));
  EXPECT_EQ(*ParseDuration("24h"), absl::Hours(24));
  EXPECT_EQ(*ParseDuration("1m30s"), absl::Seconds(90));
  EXPECT_EQ(*ParseDuration(" 500ms "), absl::Milliseconds(500));
  for (const char* bad : {"", "ten", "-5", "-1s", "inf", "5 s", "s", "1d"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

TEST(ManifestCheckTest, BadHealthFieldsNameSourceAndField) {
  struct Case {
    const char* health;
    const char* message;
  };
  for (const Case& c : {
           Case{"interval: 1.5s",
                "x.yaml: chora_service.health.interval: must be a whole number of seconds, got "
                "1.5s"},
           Case{"interval: soon",
                "x.yaml: chora_service.health.interval: \"soon\" is not a duration: write seconds "
                "(10) or a number with s, m or h (10s, 1m)"},
           Case{"tcp: {host: db}", "x.yaml: chora_service.health.tcp.port: missing"},
           Case{"grpc: {host: g, port: 0}",
                "x.yaml: chora_service.health.grpc.port: must be 1-65535, got 0"},
           Case{"failure_threshold: many",
                "x.yaml: chora_service.health.failure_threshold: must be a whole number, got "
                "\"many\""},
           Case{"url: http://a\n    tcp: {host: b, port: 1}",
                "x.yaml: chora_service.health: give at most one of url, tcp and grpc"},
       }) {
    std::string text =
        std::string("metadata: {dc_identifier: a.b}\nchora_service:\n  health:\n    ") + c.health +
        "\n";
    auto m = ParseManifest(text, "x.yaml");
    ASSERT_FALSE(m.ok()) << c.health;
    EXPECT_EQ(m.status().message(), c.message);
  }
  auto bad_port = ParseManifest(
      "metadata: {dc_identifier: a.b}\nchora_service:\n  interfaces: [{type: rest, port: 99999}]\n",
      "x.yaml");
  EXPECT_EQ(bad_port.status().message(),
            "x.yaml: chora_service.interfaces[0].port: must be 1-65535, got 99999");
}

TEST(ManifestCheckTest, ACheckOutsideTheBoundsSkipsTheManifestWithAnError) {
  Catalog catalog = BuildCatalog(
      {Document{"a.yaml",
                "metadata: {dc_identifier: a.a}\nchora_service:\n  health: {interval: 10, "
                "timeout: 10, url: 'http://x'}\n"},
       Document{"b.yaml", kSpecLayout}},
      {10, 30});
  ASSERT_EQ(catalog.errors.size(), 1u);
  EXPECT_EQ(catalog.errors[0],
            "a.yaml: chora_service.health.timeout: 10s must be below the check period (10s)");
  ASSERT_EQ(catalog.services.size(), 1u);
  EXPECT_EQ(catalog.services[0].check.url, "http://127.0.0.1:8080/health");
}

// The check holds thresholds as int: 4294967299 must not wrap to 3 and pass the bounds.
TEST(ManifestCheckTest, ThresholdsBeyondAnIntAreRefused) {
  for (const char* field : {"failure_threshold", "success_threshold", "flap_threshold"}) {
    std::string text = absl::StrCat(
        "metadata: {dc_identifier: a.b}\nchora_service:\n  health:\n    url: http://x\n",
        "    interval: 10\n    ", field, ": 4294967299\n");
    Manifest m = Parse(text);
    auto spec = ResolveCheck(m, HeartbeatTiming{10, 30}, CheckDefaults{});
    ASSERT_FALSE(spec.ok()) << field;
    EXPECT_EQ(spec.status().message(), absl::StrCat("x.yaml: chora_service.health.", field,
                                                    ": out of range, got 4294967299"));
  }
}

}  // namespace
}  // namespace hb::manifest
