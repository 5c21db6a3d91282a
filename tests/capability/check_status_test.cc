// The health check in a Capability's status: phases Unhealthy, Down and Pending, the
// Checked and Flapping conditions, the check fields, and which of them are counters.
#include <gtest/gtest.h>

#include "capability/capability_status.h"
#include "capability/declaration.h"
#include "capability/health_spec.h"

namespace hb::capability {
namespace {

class CheckStatusTest : public ::testing::Test {
 protected:
  CheckStatusTest() {
    d_.identifier = "a.b";
    d_.source = "Capability default/x";
    inputs_.declaration = &d_;
    inputs_.winner = &d_;
    inputs_.generation = 1;
    inputs_.now = absl::FromUnixSeconds(1800000000);
  }
  void Heartbeat(Phase phase, check::CheckStatus status,
                 check::CheckKind kind = check::CheckKind::kHttp) {
    HeartbeatObservation h;
    h.phase = phase;
    h.lease_id = "694d";
    check::CheckReport r;
    r.kind = kind;
    r.status = status;
    r.reason = status == check::CheckStatus::kFailing ? "HTTP 503" : "";
    r.since = inputs_.now - absl::Minutes(1);
    r.last_check = inputs_.now - absl::Seconds(1);
    r.last_result =
        status == check::CheckStatus::kFailing ? "fail: HTTP 503 (2 ms)" : "pass (2 ms)";
    r.consecutive_failures = status == check::CheckStatus::kFailing ? 3 : 0;
    r.checks = status == check::CheckStatus::kPending ? 0 : 5;
    h.check = r;
    inputs_.heartbeat = h;
  }
  const Condition* Find(const CapabilityStatus& s, const std::string& type) {
    return s.FindCondition(type);
  }
  Declaration d_;
  StatusInputs inputs_;
};

TEST_F(CheckStatusTest, AFailingCheckIsUnhealthyWithTheReason) {
  Heartbeat(Phase::kHealthy, check::CheckStatus::kFailing);
  CapabilityStatus s = DesiredStatus(inputs_, CapabilityStatus());
  EXPECT_EQ(s.phase, Phase::kUnhealthy);
  EXPECT_NE(s.message.find("HTTP 503"), std::string::npos) << s.message;
  EXPECT_EQ(s.lease_id, "694d") << "unhealthy is not gone: the lease is still held";
  EXPECT_FALSE(Find(s, "Ready")->status);
  EXPECT_FALSE(Find(s, "Checked")->status);
  EXPECT_EQ(Find(s, "Checked")->reason, "Failing");
  EXPECT_EQ(s.check, "http");
  EXPECT_EQ(s.consecutive_failures, 3);
  EXPECT_EQ(s.last_check_result, "fail: HTTP 503 (2 ms)");
  nlohmann::json j = RenderStatus(s);
  EXPECT_EQ(j["phase"], "Unhealthy");
  EXPECT_EQ(j["checkSince"], KubeTime(inputs_.now - absl::Minutes(1)));
  EXPECT_EQ(j["flapping"], false);
  EXPECT_EQ(ParseStatus(j), s) << "what is written reads back the same";
}

TEST_F(CheckStatusTest, TheOperatorsSideComesFirst) {
  Heartbeat(Phase::kFailing, check::CheckStatus::kFailing);  // etcd unreachable
  EXPECT_EQ(PhaseOf(inputs_), Phase::kFailing);
  Heartbeat(Phase::kDown, check::CheckStatus::kFailing);
  EXPECT_EQ(PhaseOf(inputs_), Phase::kDown);
}

TEST_F(CheckStatusTest, PendingUntilTheFirstResultAndNoneSaysNothingVerifies) {
  Heartbeat(Phase::kHealthy, check::CheckStatus::kPending);
  CapabilityStatus pending = DesiredStatus(inputs_, CapabilityStatus());
  EXPECT_EQ(pending.phase, Phase::kPending);
  EXPECT_EQ(Find(pending, "Checked")->reason, "Pending");
  Heartbeat(Phase::kHealthy, check::CheckStatus::kPending, check::CheckKind::kNone);
  inputs_.heartbeat->check->reason = "no target";
  CapabilityStatus none = DesiredStatus(inputs_, CapabilityStatus());
  EXPECT_EQ(none.phase, Phase::kHealthy);
  EXPECT_FALSE(Find(none, "Checked")->status);
  EXPECT_EQ(Find(none, "Checked")->reason, "NoCheck");
  EXPECT_NE(none.message.find("nothing checks the service (no target)"), std::string::npos);
  EXPECT_EQ(Find(none, "Flapping"), nullptr);
}

TEST_F(CheckStatusTest, CheckCountersAreNotTransitionsButAVerdictIs) {
  Heartbeat(Phase::kHealthy, check::CheckStatus::kPassing);
  CapabilityStatus a = DesiredStatus(inputs_, CapabilityStatus());
  inputs_.heartbeat->check->last_check += absl::Seconds(10);
  inputs_.heartbeat->check->last_result = "pass (9 ms)";
  inputs_.heartbeat->check->consecutive_failures = 1;
  CapabilityStatus b = DesiredStatus(inputs_, a);
  EXPECT_NE(a, b);
  EXPECT_FALSE(IsTransition(a, b));
  inputs_.heartbeat->check->flapping = true;
  CapabilityStatus c = DesiredStatus(inputs_, b);
  EXPECT_TRUE(IsTransition(b, c));
  EXPECT_TRUE(Find(c, "Flapping")->status);
}

TEST(HealthSpecTest, ReadsEveryTargetAndNamesBadFields) {
  auto http = HealthSpecFromJson(
      nlohmann::json::parse(R"({"url":"http://svc:8080/","endpoint":"/healthz","failureThreshold":2,
        "headers":[{"name":"X-A","value":"1"}],"tls":{"insecureSkipVerify":true}})"),
      "default", 10);
  ASSERT_TRUE(http.ok()) << http.status();
  EXPECT_EQ(http->url, "http://svc:8080/healthz");
  EXPECT_EQ(http->period, absl::Seconds(10));
  EXPECT_EQ(http->timeout, absl::Seconds(5));
  EXPECT_EQ(http->failure_threshold, 2);
  EXPECT_TRUE(http->tls.insecure_skip_verify);
  auto ref = HealthSpecFromJson(
      nlohmann::json::parse(R"({"serviceRef":{"name":"api","port":8080},"periodSeconds":5})"),
      "shop", 10);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->kind, check::CheckKind::kServiceRef);
  EXPECT_EQ(ref->Target(), "service shop/api:8080");
  EXPECT_EQ(ref->timeout, absl::Milliseconds(2500));
  auto none = HealthSpecFromJson(nlohmann::json::parse(R"({"endpoint":"/health"})"), "x", 10);
  EXPECT_EQ(none->kind, check::CheckKind::kNone);
  auto disabled =
      HealthSpecFromJson(nlohmann::json::parse(R"({"url":"http://a","disabled":true})"), "x", 10);
  EXPECT_EQ(disabled->kind, check::CheckKind::kNone);
  struct Bad {
    const char* json;
    const char* message;
  };
  for (const Bad& b : {
           Bad{R"({"url":"http://a","tcp":{"host":"b","port":1}})",
               "spec.health: at most one of url, tcp, grpc, serviceRef"},
           Bad{R"({"tcp":{"host":"b","port":"x"}})", "spec.health.tcp.port: must be an integer"},
           Bad{R"({"url":"http://a","periodSeconds":10,"timeoutSeconds":10})",
               "spec.health.timeoutSeconds: 10s must be below the check period (10s)"},
           Bad{R"({"grpc":{"host":"g","port":0}})",
               "spec.health.grpc.port: must be 1-65535, got 0"},
           Bad{R"({"url":"http://a","failureThreshold":0})",
               "spec.health.failureThreshold: must be 1-100, got 0"},
       }) {
    auto spec = HealthSpecFromJson(nlohmann::json::parse(b.json), "x", 10);
    ASSERT_FALSE(spec.ok()) << b.json;
    EXPECT_EQ(spec.status().message(), b.message);
  }
}

TEST(HealthSpecTest, AnInvalidHealthSpecMakesTheCapabilityInvalid) {
  Declaration d = FromCapability(nlohmann::json::parse(R"({"metadata":{"name":"x","namespace":"d"},
    "spec":{"health":{"url":"ftp://a"}}})"));
  EXPECT_NE(d.invalid.find("spec.health.url"), std::string::npos) << d.invalid;
}

}  // namespace
}  // namespace hb::capability
