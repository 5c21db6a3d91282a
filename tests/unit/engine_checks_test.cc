// The engine with a checker: the check's verdict in the value, written at once on a change
// in every write mode; deregistration removes the key and brings it back; a restarted
// engine carries on from the check state in the key it adopts.
#include <gtest/gtest.h>

#include <algorithm>

#include "check/checker.h"
#include "check/fake_prober.h"
#include "support/engine_fixture.h"

namespace hb::heartbeat {
namespace {

const char kUrl[] = "http://127.0.0.1:9/health";

class EngineChecksTest : public EngineFixture {
 protected:
  void StartWithChecks(WriteMode mode = WriteMode::kEveryBeat) {
    checker_ = std::make_unique<check::Checker>(
        clock_, check::CheckerOptions{16, 3, absl::Milliseconds(50)});
    checker_->SetProber(check::CheckKind::kHttp, &prober_);
    EngineOptions options;
    options.mode = mode;
    options.checker = checker_.get();
    Start(options);
  }
  static CapabilitySpec Checked(std::string id, int failure_threshold = 1) {
    CapabilitySpec spec = Spec(std::move(id));
    check::CheckSpec c;
    c.kind = check::CheckKind::kHttp;
    c.url = kUrl;
    c.period = absl::Seconds(10);
    c.timeout = absl::Seconds(2);
    c.failure_threshold = failure_threshold;
    spec.check = std::make_shared<const check::CheckSpec>(c);
    return spec;
  }
  // Runs engine and checker together in 100 ms steps, recording every value written.
  void RunBoth(absl::Duration d) {
    absl::Time end = clock_.Now() + d;
    while (clock_.Now() < end) {
      clock_.Advance(absl::Milliseconds(100));
      checker_->RunDue();
      testing::Settle(etcd_, *engine_);
      Observe();
    }
  }
  void Observe() {
    auto kv = etcd_.Get(Key("svc.a"));
    std::string status = "(absent)";
    if (kv) status = ParseHealthValue(kv->value)->status;
    if (seen_.empty() || seen_.back() != status) seen_.push_back(status);
  }
  std::optional<HealthValue> Value(const std::string& id) {
    auto kv = etcd_.Get(Key(id));
    if (!kv) return std::nullopt;
    auto v = ParseHealthValue(kv->value);
    if (!v.ok()) return std::nullopt;
    return *v;
  }

  // The statuses seen after the first verdict (before it: absent, then maybe "pending").
  std::vector<std::string> Verdicts() const {
    auto first = std::find_if(seen_.begin(), seen_.end(), [](const std::string& s) {
      return s != "(absent)" && s != "pending";
    });
    return std::vector<std::string>(first, seen_.end());
  }

  check::FakeProber prober_;
  std::unique_ptr<check::Checker> checker_;
  std::vector<std::string> seen_;  // statuses of svc.a's key, each change once
};

TEST_F(EngineChecksTest, TheValueCarriesTheVerdictAndAFailureIsWrittenAtOnce) {
  StartWithChecks(WriteMode::kOnChange);  // no routine rewrite: only the change writes
  prober_.Pass(kUrl);
  ASSERT_TRUE(engine_->Upsert(Checked("svc.a")).ok());
  RunBoth(absl::Seconds(12));
  auto v = Value("svc.a");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->status, "healthy");
  EXPECT_EQ(v->check, "http");
  int64_t lease = etcd_.Get(Key("svc.a"))->lease;
  prober_.Fail(kUrl, "HTTP 503");
  absl::Time failed_at = clock_.Now();
  RunBoth(absl::Seconds(11));
  v = Value("svc.a");
  EXPECT_EQ(v->status, "unhealthy");
  EXPECT_EQ(v->reason, "HTTP 503");
  EXPECT_EQ(v->consecutive_failures, 1);
  EXPECT_EQ(etcd_.Get(Key("svc.a"))->lease, lease) << "unhealthy is not gone: same lease";
  EXPECT_LE(clock_.Now() - failed_at, absl::Seconds(11));
  EXPECT_EQ(engine_->GetStatus("svc.a")->check->status, check::CheckStatus::kFailing);
  EXPECT_EQ(Verdicts(), (std::vector<std::string>{"healthy", "unhealthy"}));
}

TEST_F(EngineChecksTest, ACapabilityWithoutATargetSaysCheckNone) {
  StartWithChecks();
  CapabilitySpec spec = Spec("svc.n");
  spec.check =
      std::make_shared<const check::CheckSpec>(check::NoCheck("no target: no rest interface"));
  ASSERT_TRUE(engine_->Upsert(spec).ok());
  RunBoth(absl::Seconds(2));
  auto v = Value("svc.n");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->status, "healthy");
  EXPECT_EQ(v->check, "none");
  EXPECT_EQ(v->reason, "no target: no rest interface");
}

TEST_F(EngineChecksTest, DeregistrationRemovesTheKeyAndAPassBringsItBack) {
  StartWithChecks();
  CapabilitySpec spec = Checked("svc.a");
  check::CheckSpec c = *spec.check;
  c.deregister_after = absl::Seconds(30);
  spec.check = std::make_shared<const check::CheckSpec>(c);
  prober_.Pass(kUrl);
  ASSERT_TRUE(engine_->Upsert(spec).ok());
  RunBoth(absl::Seconds(12));
  prober_.Fail(kUrl);
  RunBoth(absl::Seconds(45));
  EXPECT_FALSE(Value("svc.a").has_value()) << "deregistered after 30 s unhealthy";
  EXPECT_EQ(engine_->GetStatus("svc.a")->health, Health::kDeregistered);
  RunBoth(absl::Seconds(30));
  EXPECT_FALSE(Value("svc.a").has_value()) << "no grant while deregistered";
  prober_.Pass(kUrl);
  RunBoth(absl::Seconds(11));
  auto v = Value("svc.a");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->status, "healthy");
  EXPECT_EQ(engine_->GetStatus("svc.a")->health, Health::kHealthy);
  EXPECT_EQ(Verdicts(), (std::vector<std::string>{"healthy", "unhealthy", "(absent)", "healthy"}));
}

TEST_F(EngineChecksTest, ARestartedEngineCarriesOnFromTheKeyWithoutAFlap) {
  StartWithChecks();
  prober_.Fail(kUrl, "connection refused");
  ASSERT_TRUE(engine_->Upsert(Checked("svc.a", 3)).ok());
  RunBoth(absl::Seconds(12));
  ASSERT_EQ(Value("svc.a")->status, "unhealthy");
  absl::Time since = Value("svc.a")->since;
  // A new process: the old one stops without revoking; the new one adopts the lease.
  engine_->BeginShutdown(/*revoke=*/false);
  testing::Settle(etcd_, *engine_);
  checker_.reset();
  engine_.reset();
  seen_.clear();
  StartWithChecks();
  prober_.Fail(kUrl, "connection refused");
  ASSERT_TRUE(engine_->Upsert(Checked("svc.a", 3)).ok());
  RunBoth(absl::Seconds(25));
  EXPECT_EQ(seen_, (std::vector<std::string>{"unhealthy"})) << "never pending, never healthy";
  EXPECT_EQ(Value("svc.a")->since, since);
  EXPECT_EQ(engine_->stats().leases_adopted.load(), 1u);
}

TEST_F(EngineChecksTest, AVerdictReachedWhileEtcdIsAwayIsWrittenWhenItReturns) {
  StartWithChecks(WriteMode::kOnChange);
  prober_.Pass(kUrl);
  ASSERT_TRUE(engine_->Upsert(Checked("svc.a")).ok());
  RunBoth(absl::Seconds(5));
  ASSERT_EQ(Value("svc.a")->status, "healthy");
  etcd_.SetDown(true);
  prober_.Fail(kUrl, "connection refused");
  RunBoth(absl::Seconds(12));
  EXPECT_EQ(engine_->GetStatus("svc.a")->check->status, check::CheckStatus::kFailing)
      << "checks keep running while etcd is away";
  EXPECT_EQ(Value("svc.a")->status, "healthy") << "nothing reaches etcd meanwhile";
  etcd_.SetDown(false);
  RunBoth(absl::Seconds(6));  // the put's retry backoff is at most 5 s
  auto v = Value("svc.a");
  EXPECT_EQ(v->status, "unhealthy");
  EXPECT_EQ(v->reason, "connection refused");
}

}  // namespace
}  // namespace hb::heartbeat
