// CheckState: thresholds, the pending start, seeds, flapping and deregistration.
#include "check/check_state.h"

#include <gtest/gtest.h>

namespace hb::check {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

CheckSpec Spec() {
  CheckSpec s;
  s.kind = CheckKind::kHttp;
  s.url = "http://127.0.0.1:1/health";
  s.period = absl::Seconds(10);
  s.timeout = absl::Seconds(2);
  return s;
}
ProbeResult Pass() { return ProbeResult{true, "", absl::Milliseconds(4), ""}; }
ProbeResult Fail(std::string why = "HTTP 503") {
  return ProbeResult{false, std::move(why), absl::Milliseconds(1), ""};
}

class CheckStateTest : public ::testing::Test {
 protected:
  const CheckReport& Step(CheckState& s, const ProbeResult& r) {
    t_ += absl::Seconds(10);
    return s.Apply(r, t_, t_);
  }
  absl::Time t_ = kT0;
};

TEST_F(CheckStateTest, StartsPendingAndTheFirstResultDecides) {
  CheckState pass(Spec()), fail(Spec());
  EXPECT_EQ(pass.report().status, CheckStatus::kPending);
  EXPECT_EQ(Step(pass, Pass()).status, CheckStatus::kPassing);
  EXPECT_TRUE(pass.report().transition);
  // No evidence it ever worked: one failure is enough to say unhealthy.
  const CheckReport& r = Step(fail, Fail("connection refused"));
  EXPECT_EQ(r.status, CheckStatus::kFailing);
  EXPECT_EQ(r.reason, "connection refused");
  EXPECT_EQ(r.since, t_);
}

TEST_F(CheckStateTest, FailureThresholdThenSuccessThreshold) {
  CheckSpec spec = Spec();
  spec.failure_threshold = 3;
  spec.success_threshold = 2;
  CheckState s(spec);
  Step(s, Pass());
  Step(s, Pass());
  EXPECT_EQ(Step(s, Fail()).status, CheckStatus::kPassing);
  EXPECT_FALSE(s.report().transition);
  EXPECT_TRUE(s.report().reason.empty()) << "a passing value does not change with each failure";
  EXPECT_EQ(Step(s, Fail()).status, CheckStatus::kPassing);
  const CheckReport& failed = Step(s, Fail("timeout after 2000 ms"));
  EXPECT_EQ(failed.status, CheckStatus::kFailing);
  EXPECT_TRUE(failed.transition);
  EXPECT_EQ(failed.consecutive_failures, 3);
  EXPECT_EQ(failed.reason, "timeout after 2000 ms");
  absl::Time since = failed.since;
  EXPECT_EQ(Step(s, Pass()).status, CheckStatus::kFailing);  // one pass of two
  EXPECT_EQ(s.report().since, since);
  EXPECT_EQ(Step(s, Pass()).status, CheckStatus::kPassing);
  EXPECT_TRUE(s.report().reason.empty());
  EXPECT_EQ(s.report().last_result, "pass (4 ms)");
}

TEST_F(CheckStateTest, AFailureBelowTheThresholdIsNotATransition) {
  CheckState s(Spec());
  Step(s, Pass());
  EXPECT_FALSE(Step(s, Fail()).transition);
  EXPECT_EQ(s.report().consecutive_failures, 1);
  EXPECT_EQ(s.report().last_result, "fail: HTTP 503 (1 ms)");
  EXPECT_FALSE(Step(s, Pass()).transition);
  EXPECT_EQ(s.report().consecutive_failures, 0);
}

TEST_F(CheckStateTest, ASeedCarriesOnWithoutAFlap) {
  CheckState s(Spec());
  CheckSeed seed;
  seed.status = CheckStatus::kPassing;
  seed.consecutive_failures = 2;
  s.Seed(seed, t_, t_);
  // The third consecutive failure (two before the restart) turns it unhealthy; a fresh
  // start would have done so at the first.
  CheckSeed failing;
  failing.status = CheckStatus::kFailing;
  failing.since = kT0 - absl::Minutes(5);
  failing.reason = "HTTP 503";
  CheckState f(Spec());
  f.Seed(failing, t_, t_);
  EXPECT_EQ(Step(f, Fail()).status, CheckStatus::kFailing);
  EXPECT_FALSE(f.report().transition);
  EXPECT_EQ(f.report().since, failing.since);
  EXPECT_EQ(Step(s, Fail()).status, CheckStatus::kFailing);
  EXPECT_TRUE(s.report().transition);
}

TEST_F(CheckStateTest, DeregistersAfterThePeriodAndComesBackOnAPass) {
  CheckSpec spec = Spec();
  spec.failure_threshold = 1;
  spec.deregister_after = absl::Seconds(30);
  CheckState s(spec);
  Step(s, Pass());
  Step(s, Fail());                             // failing from here
  EXPECT_FALSE(Step(s, Fail()).deregistered);  // 10 s
  EXPECT_FALSE(Step(s, Fail()).deregistered);  // 20 s
  const CheckReport& gone = Step(s, Fail());   // 30 s
  EXPECT_TRUE(gone.deregistered);
  EXPECT_TRUE(gone.transition);
  const CheckReport& back = Step(s, Pass());
  EXPECT_FALSE(back.deregistered);
  EXPECT_EQ(back.status, CheckStatus::kPassing);
}

TEST_F(CheckStateTest, ASeededFailureCountsTowardsDeregistration) {
  CheckSpec spec = Spec();
  spec.deregister_after = absl::Minutes(1);
  CheckState s(spec);
  CheckSeed seed;
  seed.status = CheckStatus::kFailing;
  seed.since = t_ - absl::Seconds(55);  // wall time
  s.Seed(seed, t_, t_);
  EXPECT_TRUE(Step(s, Fail()).deregistered);
}

TEST_F(CheckStateTest, FlappingSetAfterTooManyChangesAndClearedAfterAQuietWindow) {
  CheckSpec spec = Spec();
  spec.failure_threshold = 1;
  spec.flap_threshold = 3;
  spec.flap_window = absl::Minutes(2);
  CheckState s(spec);
  Step(s, Pass());  // the first verdict is not a change
  Step(s, Fail());
  Step(s, Pass());
  EXPECT_FALSE(Step(s, Fail()).flapping);  // three changes: not more than the threshold
  const CheckReport& flapping = Step(s, Pass());
  EXPECT_TRUE(flapping.flapping);
  EXPECT_TRUE(flapping.transition);
  // Stable for the window: flapping ends.
  for (int i = 0; i < 11; ++i) Step(s, Pass());
  EXPECT_TRUE(s.report().flapping);
  EXPECT_FALSE(Step(s, Pass()).flapping);
  EXPECT_TRUE(s.report().transition);
}

TEST_F(CheckStateTest, DependenciesAreAVerdictChange) {
  CheckState s(Spec());
  Step(s, Pass());
  ProbeResult deps = Pass();
  deps.dependencies = R"({"database":"unhealthy"})";
  EXPECT_TRUE(Step(s, deps).transition);
  EXPECT_EQ(s.report().dependencies, deps.dependencies);
  EXPECT_FALSE(Step(s, deps).transition);
}

TEST(CheckSpecTest, ValidationNamesTheField) {
  CheckSpec s = Spec();
  EXPECT_TRUE(ValidateCheckSpec(s, "spec.health.").ok());
  s.failure_threshold = 0;
  EXPECT_EQ(ValidateCheckSpec(s, "spec.health.").message(),
            "spec.health.failureThreshold: must be 1-100, got 0");
  s = Spec();
  s.timeout = absl::Seconds(10);
  EXPECT_EQ(ValidateCheckSpec(s, "x.").message(),
            "x.timeoutSeconds: 10s must be below the check period (10s)");
  s = Spec();
  s.url = "ftp://example";
  EXPECT_FALSE(ValidateCheckSpec(s, "").ok());
  s = Spec();
  s.kind = CheckKind::kTcp;
  s.host = "db";
  s.port = 70000;
  EXPECT_EQ(ValidateCheckSpec(s, "").message(), "tcp.port: must be 1-65535, got 70000");
  s = Spec();
  s.headers = {{"X-Bad\r\nInjected", "v"}};
  EXPECT_FALSE(ValidateCheckSpec(s, "").ok());
}

TEST(CheckSpecTest, FilesOutsideTheChecksDirectoryAreRefused) {
  CheckSpec s = Spec();
  const std::string dir = "/etc/heartbeat-operator/checks";
  EXPECT_TRUE(CheckFilesAllowed(s, dir).ok());
  s.bearer_token_file = "/etc/heartbeat-operator/checks/probe/token";
  EXPECT_TRUE(CheckFilesAllowed(s, dir).ok());
  s.bearer_token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  absl::Status refused = CheckFilesAllowed(s, dir);
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(refused.message(),
            "file /var/run/secrets/kubernetes.io/serviceaccount/token is outside the check files "
            "directory /etc/heartbeat-operator/checks");
  s.bearer_token_file = "/etc/heartbeat-operator/checks/../../../var/run/token";
  EXPECT_FALSE(CheckFilesAllowed(s, dir).ok());
  s.bearer_token_file = "/etc/heartbeat-operator/checks-other/token";
  EXPECT_FALSE(CheckFilesAllowed(s, dir).ok());
  s.bearer_token_file.clear();
  s.tls.key_file = "/root/.ssh/id_ed25519";
  EXPECT_FALSE(CheckFilesAllowed(s, dir).ok());
  EXPECT_TRUE(CheckFilesAllowed(s, "").ok()) << "standalone: anywhere";
}

}  // namespace
}  // namespace hb::check
