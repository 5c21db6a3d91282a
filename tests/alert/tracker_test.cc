#include "alert/tracker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace hb::alert {
namespace {

using L = AlertLevel;

class TrackerTest : public testing::Test {
 protected:
  TrackerPolicy Policy(double share = 2) {
    TrackerPolicy p;
    p.hold = absl::Seconds(5);
    p.share = share;
    p.min_failing = 3;
    return p;
  }
  static std::string Describe(const std::vector<DueChange>& changes) {
    std::string out;
    for (const DueChange& c : changes) {
      absl::StrAppend(&out, out.empty() ? "" : " ", c.identifier, ":", AlertLevelName(c.from), "->",
                      AlertLevelName(c.to));
    }
    return out;
  }
  absl::Time t0_ = absl::FromUnixSeconds(1000);
};

TEST_F(TrackerTest, AFirstHealthyLevelIsNotNewsButAFirstFailingOneIs) {
  TransitionTracker tracker(Policy());
  tracker.Observe("a", L::kPending, t0_);
  tracker.Observe("a", L::kHealthy, t0_);
  tracker.Observe("b", L::kDown, t0_);
  EXPECT_EQ(Describe(tracker.TakeDue(t0_ + absl::Seconds(60))), "b:pending->down");
}

TEST_F(TrackerTest, AFailureIsDueAfterTheHoldAndARecoveryAtOnce) {
  TransitionTracker tracker(Policy());
  tracker.Observe("a", L::kHealthy, t0_);
  tracker.Observe("a", L::kUnhealthy, t0_ + absl::Seconds(1));
  EXPECT_EQ(tracker.NextDue(), t0_ + absl::Seconds(6));
  EXPECT_EQ(Describe(tracker.TakeDue(t0_ + absl::Seconds(5))), "");
  EXPECT_EQ(Describe(tracker.TakeDue(t0_ + absl::Seconds(6))), "a:healthy->unhealthy");
  tracker.Observe("a", L::kHealthy, t0_ + absl::Seconds(7));
  EXPECT_EQ(Describe(tracker.TakeDue(t0_ + absl::Seconds(7))), "a:unhealthy->healthy");
  EXPECT_EQ(tracker.NextDue(), absl::InfiniteFuture());
}

TEST_F(TrackerTest, AFailureThatHealsWithinTheHoldIsNeverNotified) {
  TransitionTracker tracker(Policy());
  tracker.Observe("a", L::kHealthy, t0_);
  tracker.Observe("a", L::kDown, t0_ + absl::Seconds(1));     // lease lost
  tracker.Observe("a", L::kPending, t0_ + absl::Seconds(2));  // re-granting
  tracker.Observe("a", L::kHealthy, t0_ + absl::Seconds(3));
  EXPECT_EQ(Describe(tracker.TakeDue(t0_ + absl::Seconds(60))), "");
  EXPECT_EQ(tracker.held(), 0);
}

TEST_F(TrackerTest, AFailureThatChangesKindKeepsTheTimeItBegan) {
  TransitionTracker tracker(Policy());
  tracker.Observe("a", L::kHealthy, t0_);
  tracker.Observe("a", L::kUnhealthy, t0_ + absl::Seconds(1));
  tracker.Observe("a", L::kDown, t0_ + absl::Seconds(4));
  EXPECT_EQ(Describe(tracker.TakeDue(t0_ + absl::Seconds(6))), "a:healthy->down");
}

TEST_F(TrackerTest, OnlyAFailingCapabilitysRemovalIsNotified) {
  TransitionTracker tracker(Policy());
  tracker.Observe("ok", L::kHealthy, t0_);
  tracker.Observe("bad", L::kUnhealthy, t0_);
  EXPECT_EQ(Describe(tracker.TakeDue(t0_ + absl::Seconds(5))), "bad:pending->unhealthy");
  tracker.Remove("ok", t0_ + absl::Seconds(6));
  tracker.Remove("bad", t0_ + absl::Seconds(6));
  EXPECT_EQ(Describe(tracker.TakeDue(t0_ + absl::Seconds(6))), "bad:unhealthy->removed");
  EXPECT_EQ(tracker.total(), 0);
  EXPECT_EQ(tracker.failing(), 0);
}

TEST_F(TrackerTest, ACapabilityDeclaredAgainBeforeItsRemovalWasSentCarriesOn) {
  TransitionTracker tracker(Policy());
  tracker.Observe("a", L::kDown, t0_);
  ASSERT_EQ(tracker.TakeDue(t0_ + absl::Seconds(5)).size(), 1u);
  tracker.Remove("a", t0_ + absl::Seconds(6));
  tracker.Observe("a", L::kHealthy, t0_ + absl::Seconds(6));
  EXPECT_EQ(Describe(tracker.TakeDue(t0_ + absl::Seconds(6))), "a:down->healthy");
}

TEST_F(TrackerTest, AStormHoldsEveryChangeAndReleasesOnlyWhatStillStandsWhenItEnds) {
  TransitionTracker tracker(Policy(/*share=*/0.2));
  for (int i = 0; i < 100; ++i) tracker.Observe(absl::StrCat("c", i), L::kHealthy, t0_);
  std::vector<StormChange> storms;
  for (int i = 0; i < 50; ++i) {
    if (auto s = tracker.Observe(absl::StrCat("c", i), L::kUnhealthy, t0_)) storms.push_back(*s);
  }
  // 21 of 100 failing is more than 20 %: the storm begins there, and only once.
  ASSERT_EQ(storms.size(), 1u);
  EXPECT_TRUE(storms[0].active);
  EXPECT_EQ(storms[0].failing, 21);
  EXPECT_EQ(storms[0].total, 100);
  EXPECT_TRUE(tracker.storm());
  EXPECT_EQ(Describe(tracker.TakeDue(t0_ + absl::Hours(1))), "");
  EXPECT_EQ(tracker.NextDue(), absl::InfiniteFuture());
  EXPECT_EQ(tracker.held(), 50);

  // It ends once no more than 16 (80 % of 20 %) fail; the 15 that recovered meanwhile
  // were never notified as failing, so only the 15 still failing are due, each once, and
  // only after one more hold (what is still coming back from the outage is not news).
  storms.clear();
  for (int i = 15; i < 50; ++i) {
    if (auto s = tracker.Observe(absl::StrCat("c", i), L::kHealthy, t0_ + absl::Hours(1))) {
      storms.push_back(*s);
    }
  }
  ASSERT_EQ(storms.size(), 1u);
  EXPECT_FALSE(storms[0].active);
  EXPECT_EQ(storms[0].failing, 16);
  EXPECT_EQ(Describe(tracker.TakeDue(t0_ + absl::Hours(1) + absl::Seconds(4))), "");
  std::vector<DueChange> due = tracker.TakeDue(t0_ + absl::Hours(1) + absl::Seconds(5));
  EXPECT_EQ(due.size(), 15u);
  for (const DueChange& c : due) {
    EXPECT_EQ(c.from, L::kHealthy);
    EXPECT_EQ(c.to, L::kUnhealthy);
  }
  EXPECT_EQ(tracker.held(), 0);
}

TEST_F(TrackerTest, TooFewFailuresAreNoStormWhateverTheirShare) {
  TransitionTracker tracker(Policy(/*share=*/0.2));
  tracker.Observe("a", L::kHealthy, t0_);
  tracker.Observe("b", L::kHealthy, t0_);
  EXPECT_FALSE(tracker.Observe("a", L::kDown, t0_).has_value());
  EXPECT_FALSE(tracker.Observe("b", L::kDown, t0_).has_value());  // 2 < min_failing 3
  EXPECT_FALSE(tracker.storm());
  EXPECT_EQ(tracker.TakeDue(t0_ + absl::Seconds(5)).size(), 2u);
}

TEST_F(TrackerTest, AShareAboveOneTurnsTheStormGuardOff) {
  TransitionTracker tracker(Policy(/*share=*/1.5));
  for (int i = 0; i < 10; ++i) tracker.Observe(absl::StrCat("c", i), L::kDown, t0_);
  EXPECT_FALSE(tracker.storm());
  EXPECT_EQ(tracker.TakeDue(t0_ + absl::Seconds(5)).size(), 10u);
}

}  // namespace
}  // namespace hb::alert
