// Clock (real and fake), Waiter and CancelToken: the time seam every component waits on.
#include "common/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/cancel.h"

namespace hb {
namespace {

TEST(FakeClockTest, MovesOnlyWhenToldAndTheWallClockCanStepAlone) {
  FakeClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.WallNow(), absl::FromUnixSeconds(100));
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
  EXPECT_EQ(clock.WallNow(), absl::FromUnixSeconds(105));
  clock.StepWall(-absl::Hours(1));  // NTP steps the system clock back
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105)) << "scheduling time never steps";
  EXPECT_EQ(clock.WallNow(), absl::FromUnixSeconds(105) - absl::Hours(1));
  clock.AdvanceTo(absl::FromUnixSeconds(104));  // the past: no-op
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
}

TEST(FakeClockTest, ASleeperWakesExactlyWhenTimeReachesItsDeadline) {
  FakeClock clock;
  absl::Time deadline = clock.Now() + absl::Seconds(30);
  absl::Notification woke;
  std::atomic<bool> result{false};
  std::thread sleeper([&] {
    result = clock.SleepUntil(deadline, CancelToken());
    woke.Notify();
  });
  ASSERT_TRUE(clock.AwaitSleepers(1, absl::Seconds(5)));
  EXPECT_EQ(clock.Sleepers(), 1);
  EXPECT_EQ(clock.NextWakeup(), deadline);
  clock.Advance(absl::Seconds(29));
  ASSERT_TRUE(clock.AwaitSleepers(1, absl::Seconds(5))) << "woke a second early";
  EXPECT_FALSE(woke.HasBeenNotified());
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(woke.WaitForNotificationWithTimeout(absl::Seconds(5)));
  sleeper.join();
  EXPECT_TRUE(result);
  EXPECT_EQ(clock.Sleepers(), 0);
  EXPECT_EQ(clock.NextWakeup(), std::nullopt);
}

TEST(FakeClockTest, CancellationEndsASleepWithoutTimeMoving) {
  FakeClock clock;
  CancelToken cancel;
  std::atomic<int> result{-1};
  std::thread sleeper([&] { result = clock.SleepFor(absl::Hours(1), cancel) ? 1 : 0; });
  ASSERT_TRUE(clock.AwaitSleepers(1, absl::Seconds(5)));
  absl::Time before = clock.Now();
  cancel.Cancel();
  sleeper.join();
  EXPECT_EQ(result, 0);
  EXPECT_EQ(clock.Now(), before);
  EXPECT_FALSE(clock.SleepFor(absl::Hours(1), cancel)) << "already cancelled: returns at once";
}

TEST(WaiterTest, ANotificationBetweenDecidingAndWaitingIsNotLost) {
  FakeClock clock;
  Waiter waiter(clock);
  uint64_t epoch = waiter.Epoch();
  waiter.NotifyAll();  // before the wait begins
  EXPECT_TRUE(waiter.WaitUntil(absl::InfiniteFuture(), epoch));
  // A fresh epoch waits again; a deadline already passed returns false at once.
  EXPECT_FALSE(waiter.WaitUntil(clock.Now(), waiter.Epoch()));
}

TEST(WaiterTest, NotifyAllWakesEveryWaiterAndTheyStopCountingAsSleepers) {
  FakeClock clock;
  Waiter waiter(clock);
  std::atomic<int> notified{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, epoch = waiter.Epoch()] {
      if (waiter.WaitUntil(clock.Now() + absl::Hours(1), epoch)) ++notified;
    });
  }
  ASSERT_TRUE(clock.AwaitSleepers(3, absl::Seconds(5)));
  waiter.NotifyAll();
  EXPECT_EQ(clock.Sleepers(), 0) << "notified threads are about to run, not asleep";
  for (auto& t : threads) t.join();
  EXPECT_EQ(notified, 3);
}

TEST(RealClockTest, MonotonicAndSleepsForRealTime) {
  RealClock& clock = RealClock::Get();
  absl::Time a = clock.Now();
  EXPECT_LT(absl::AbsDuration(clock.WallNow() - a), absl::Hours(24 * 365))
      << "anchored near the wall clock";
  absl::Time start = clock.Now();
  EXPECT_TRUE(clock.SleepFor(absl::Milliseconds(20), CancelToken()));
  EXPECT_GE(clock.Now() - start, absl::Milliseconds(20));
  EXPECT_GE(clock.Now(), a);
}

TEST(CancelTokenTest, CallbacksRunOnceAndRegistrationsUnregister) {
  CancelToken token;
  int a = 0, b = 0;
  auto ra = token.OnCancel([&] { ++a; });
  {
    auto rb = token.OnCancel([&] { ++b; });
  }  // unregistered
  CancelToken copy = token;
  EXPECT_FALSE(token.IsCancelled());
  std::thread canceller([copy] { copy.Cancel(); });
  token.WaitForCancel();
  canceller.join();
  token.Cancel();
  EXPECT_TRUE(token.IsCancelled());
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 0);
  int late = 0;
  auto rl = token.OnCancel([&] { ++late; });  // already cancelled: runs at once
  EXPECT_EQ(late, 1);
}

}  // namespace
}  // namespace hb
