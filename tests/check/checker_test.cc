// Checker: probe scheduling on virtual time with a fake prober.
#include "check/checker.h"

#include <gtest/gtest.h>

#include <map>

#include "check/fake_prober.h"
#include "common/clock.h"

namespace hb::check {
namespace {

CheckSpec Http(const std::string& url, absl::Duration period = absl::Seconds(10)) {
  CheckSpec s;
  s.kind = CheckKind::kHttp;
  s.url = url;
  s.period = period;
  s.timeout = period / 5;
  return s;
}

class CheckerTest : public ::testing::Test {
 protected:
  explicit CheckerTest(int max_in_flight = 256)
      : checker_(clock_, CheckerOptions{max_in_flight, 7, absl::Milliseconds(50)}) {
    checker_.SetProber(CheckKind::kHttp, &prober_);
    checker_.SetReportHook([this](const std::string& id, const CheckReport& r) {
      absl::MutexLock lock(&mu_);
      reports_[id].push_back(r);
    });
  }
  // Moves virtual time in 100 ms steps, running what is due.
  void Run(absl::Duration d) {
    absl::Time end = clock_.Now() + d;
    checker_.RunDue();
    while (clock_.Now() < end) {
      clock_.Advance(absl::Milliseconds(100));
      checker_.RunDue();
    }
  }
  std::vector<CheckReport> Reports(const std::string& id) {
    absl::MutexLock lock(&mu_);
    return reports_[id];
  }

  FakeClock clock_;
  FakeProber prober_;
  Checker checker_;
  absl::Mutex mu_;
  std::map<std::string, std::vector<CheckReport>> reports_;
};

TEST_F(CheckerTest, FirstProbeWithinASecondThenOncePerPeriod) {
  prober_.Pass("http://a/health");
  checker_.Upsert("a", Http("http://a/health"));
  Run(absl::Seconds(1));
  EXPECT_EQ(prober_.ProbesOf("http://a/health"), 1);
  ASSERT_FALSE(Reports("a").empty());
  EXPECT_EQ(Reports("a").back().status, CheckStatus::kPassing);
  Run(absl::Seconds(100));
  // 100 s at 10 s: 10 more, give or take the placement of the second probe.
  int probes = prober_.ProbesOf("http://a/health");
  EXPECT_GE(probes, 10);
  EXPECT_LE(probes, 12);
}

TEST_F(CheckerTest, AFleetStartedTogetherSpreadsOverThePeriod) {
  for (int i = 0; i < 1000; ++i) {
    std::string url = absl::StrCat("http://s", i, "/health");
    prober_.Pass(url);
    checker_.Upsert(absl::StrCat("s", i), Http(url));
  }
  Run(absl::Seconds(30));  // past the placement
  // Count probes per 1 s bucket over two periods: no bucket holds much more than a tenth.
  size_t before = prober_.Probes().size();
  std::vector<size_t> per_second;
  for (int s = 0; s < 20; ++s) {
    size_t at = prober_.Probes().size();
    Run(absl::Seconds(1));
    per_second.push_back(prober_.Probes().size() - at);
  }
  size_t total = prober_.Probes().size() - before;
  EXPECT_NEAR(static_cast<double>(total), 2000.0, 40.0);
  for (size_t n : per_second) EXPECT_LT(n, 200u) << "probes bunch up in one second";
}

TEST_F(CheckerTest, InitialDelayHoldsTheFirstProbe) {
  CheckSpec spec = Http("http://d/health");
  spec.initial_delay = absl::Seconds(20);
  prober_.Pass(spec.url);
  checker_.Upsert("d", spec);
  Run(absl::Seconds(19));
  EXPECT_EQ(prober_.ProbesOf(spec.url), 0);
  EXPECT_TRUE(Reports("d").empty());
  Run(absl::Seconds(2));
  EXPECT_EQ(prober_.ProbesOf(spec.url), 1);
}

TEST_F(CheckerTest, AFailedProbeIsNotRetriedBeforeItsPeriod) {
  prober_.Fail("http://gone/health", "connection refused");
  checker_.Upsert("g", Http("http://gone/health"));
  Run(absl::Seconds(60));
  EXPECT_LE(prober_.ProbesOf("http://gone/health"), 7);
  EXPECT_EQ(Reports("g").back().status, CheckStatus::kFailing);
  EXPECT_EQ(Reports("g").back().reason, "connection refused");
}

TEST_F(CheckerTest, ASpecWithoutAProberIsReportedAsNoneAtOnce) {
  checker_.Upsert("n", NoCheck("no target"));
  ASSERT_EQ(Reports("n").size(), 1u);
  EXPECT_EQ(Reports("n")[0].kind, CheckKind::kNone);
  EXPECT_EQ(Reports("n")[0].reason, "no target");
  Run(absl::Seconds(30));
  EXPECT_TRUE(prober_.Probes().empty());
}

TEST_F(CheckerTest, ARemovedCapabilityIgnoresItsAnswerInFlight) {
  checker_.Upsert("r", Http("http://r/health"));
  Run(absl::Seconds(1));
  ASSERT_EQ(prober_.Waiting(), 1);
  checker_.Remove("r");
  EXPECT_TRUE(prober_.Complete(ProbeResult{true, "", absl::Milliseconds(1), ""}));
  EXPECT_TRUE(Reports("r").empty());
  EXPECT_FALSE(checker_.Report("r").has_value());
  EXPECT_EQ(checker_.Gauges().in_flight, 0);
}

TEST_F(CheckerTest, TheSeedHookIsAskedOnceBeforeTheFirstResult) {
  int asked = 0;
  checker_.SetSeedHook([&](const std::string&) -> std::optional<CheckSeed> {
    ++asked;
    CheckSeed seed;
    seed.status = CheckStatus::kFailing;
    seed.reason = "HTTP 503";
    return seed;
  });
  prober_.Fail("http://s/health");
  checker_.Upsert("s", Http("http://s/health"));
  Run(absl::Seconds(25));
  EXPECT_EQ(asked, 1);
  for (const CheckReport& r : Reports("s")) {
    EXPECT_EQ(r.status, CheckStatus::kFailing);
    EXPECT_FALSE(r.transition) << "carried on from the seed, no change";
  }
}

class CappedCheckerTest : public CheckerTest {
 protected:
  CappedCheckerTest() : CheckerTest(2) {}
};

TEST_F(CappedCheckerTest, AtMostMaxInFlightProbesRunAndTheRestWait) {
  for (int i = 0; i < 5; ++i)
    checker_.Upsert(absl::StrCat("c", i), Http(absl::StrCat("http://c", i)));
  Run(absl::Seconds(2));
  EXPECT_EQ(prober_.Waiting(), 2);
  EXPECT_EQ(checker_.Gauges().in_flight, 2);
  EXPECT_EQ(checker_.Gauges().waiting, 3);
  EXPECT_TRUE(prober_.Complete(ProbeResult{true, "", absl::Milliseconds(1), ""}));
  checker_.RunDue();
  EXPECT_EQ(prober_.Waiting(), 2);  // the freed slot went to a waiting probe
  EXPECT_EQ(prober_.Probes().size(), 3u);
  EXPECT_GT(checker_.stats().delayed.load(), 0u);
}

TEST_F(CheckerTest, GaugesCountCapabilitiesByState) {
  prober_.Pass("http://p");
  prober_.Fail("http://f");
  checker_.Upsert("p", Http("http://p"));
  checker_.Upsert("f", Http("http://f"));
  checker_.Upsert("n", NoCheck("none"));
  Run(absl::Seconds(2));
  CheckGauges g = checker_.Gauges();
  EXPECT_EQ(g.checked, 2);
  EXPECT_EQ(g.passing, 1);
  EXPECT_EQ(g.failing, 1);
  EXPECT_EQ(checker_.stats().passed[static_cast<int>(CheckKind::kHttp)].load(), 1u);
  EXPECT_EQ(checker_.stats().failed[static_cast<int>(CheckKind::kHttp)].load(), 1u);
}

}  // namespace
}  // namespace hb::check
