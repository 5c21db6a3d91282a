// WorkQueue on virtual time (FakeClock; blocked calls wake as it moves) and, where blocking
// matters, on the real clock with worker threads.
#include "informer/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace hb::informer {
namespace {

WorkQueueOptions Fast(absl::Duration base, absl::Duration max) {
  WorkQueueOptions options;
  options.base_delay = base;
  options.max_delay = max;
  options.name = "test";
  return options;
}

TEST(WorkQueueTest, WaitingKeysAreDeduplicated) {
  FakeClock clock;
  WorkQueue queue(clock, WorkQueueOptions());
  queue.Add("a");
  queue.Add("b");
  queue.Add("a");
  EXPECT_EQ(queue.Len(), 2u);
  EXPECT_EQ(queue.TryGet(), "a");
  EXPECT_EQ(queue.TryGet(), "b");
  EXPECT_EQ(queue.TryGet(), std::nullopt);
  EXPECT_EQ(queue.Metrics().adds, 2);
}

TEST(WorkQueueTest, KeyAddedWhileProcessingWaitsForDone) {
  FakeClock clock;
  WorkQueue queue(clock, WorkQueueOptions());
  queue.Add("a");
  ASSERT_EQ(queue.TryGet(), "a");
  queue.Add("a");
  queue.Add("a");
  EXPECT_EQ(queue.Len(), 0u);
  EXPECT_EQ(queue.TryGet(), std::nullopt) << "a key was handed out twice before Done()";
  queue.Done("a");
  EXPECT_EQ(queue.TryGet(), "a");
  EXPECT_EQ(queue.TryGet(), std::nullopt) << "two adds while processing must requeue once";
  queue.Done("a");
  EXPECT_EQ(queue.TryGet(), std::nullopt);
}

TEST(WorkQueueTest, TwoWorkersNeverHoldTheSameKey) {
  WorkQueue queue(RealClock::Get(), WorkQueueOptions());
  // Deterministic part: while one worker holds "a", a re-added "a" must not reach the
  // other worker, which gets "b" instead.
  absl::Mutex mu;
  std::vector<std::string> got;
  absl::Notification release_a;
  auto worker = [&] {
    while (auto key = queue.Get()) {
      {
        absl::MutexLock lock(&mu);
        got.push_back(*key);
      }
      if (*key == "a" && !release_a.HasBeenNotified()) release_a.WaitForNotification();
      queue.Done(*key);
    }
  };
  std::thread w1(worker), w2(worker);
  auto count = [&](size_t n) {
    absl::MutexLock lock(&mu);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return got.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(5));
  };
  queue.Add("a");
  ASSERT_TRUE(count(1));
  queue.Add("a");
  queue.Add("b");
  ASSERT_TRUE(count(2));
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(got[1], "b") << "a key went to a second worker while the first held it";
  }
  release_a.Notify();
  ASSERT_TRUE(count(3)) << "the key added during processing was lost";
  queue.ShutDown();
  w1.join();
  w2.join();
  EXPECT_EQ(got[2], "a");
}

TEST(WorkQueueTest, ConcurrentWorkersSeeEachKeyAloneUnderLoad) {
  WorkQueue queue(RealClock::Get(), WorkQueueOptions());
  constexpr int kKeys = 4;
  std::atomic<int> in_flight[kKeys] = {};
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  auto worker = [&] {
    while (auto key = queue.Get()) {
      int k = std::stoi(*key);
      if (in_flight[k].fetch_add(1) != 0) overlap = true;
      std::this_thread::yield();
      in_flight[k].fetch_sub(1);
      ++processed;
      queue.Done(*key);
    }
  };
  std::thread w1(worker), w2(worker);
  for (int i = 0; i < 4000; ++i) queue.Add(std::to_string(i % kKeys));
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    WorkQueueMetrics m = queue.Metrics();
    if (m.depth == 0 && m.processing == 0) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  queue.ShutDown();
  w1.join();
  w2.join();
  EXPECT_FALSE(overlap) << "one key was processed by two workers at once";
  EXPECT_GE(processed.load(), kKeys);
  EXPECT_EQ(queue.Metrics().processing, 0);
}

TEST(WorkQueueTest, RateLimitedBackoffDoublesAndCaps) {
  FakeClock clock;
  WorkQueue queue(clock, Fast(absl::Milliseconds(5), absl::Milliseconds(40)));
  const absl::Duration expected[] = {absl::Milliseconds(5),  absl::Milliseconds(10),
                                     absl::Milliseconds(20), absl::Milliseconds(40),
                                     absl::Milliseconds(40), absl::Milliseconds(40)};
  for (int n = 0; n < 6; ++n) {
    EXPECT_EQ(queue.NumRequeues("a"), n);
    EXPECT_EQ(queue.NextBackoff("a"), expected[n]);
    queue.AddRateLimited("a");
    clock.Advance(expected[n] - absl::Microseconds(1));
    EXPECT_EQ(queue.TryGet(), std::nullopt) << "retry " << n << " came early";
    clock.Advance(absl::Microseconds(1));
    ASSERT_EQ(queue.TryGet(), "a") << "retry " << n << " did not come after " << expected[n];
    queue.Done("a");
  }
  EXPECT_EQ(queue.Metrics().retries, 6);
}

TEST(WorkQueueTest, ForgetResetsTheBackoff) {
  FakeClock clock;
  WorkQueue queue(clock, Fast(absl::Milliseconds(5), absl::Seconds(1000)));
  for (int i = 0; i < 3; ++i) queue.AddRateLimited("a");
  EXPECT_EQ(queue.NumRequeues("a"), 3);
  EXPECT_EQ(queue.NextBackoff("a"), absl::Milliseconds(40));
  queue.Forget("a");
  EXPECT_EQ(queue.NumRequeues("a"), 0);
  EXPECT_EQ(queue.NextBackoff("a"), absl::Milliseconds(5));
  EXPECT_EQ(queue.NumRequeues("b"), 0) << "keys have separate backoffs";
}

TEST(WorkQueueTest, AddAfterFiresExactlyWhenTheVirtualClockPasses) {
  FakeClock clock;
  WorkQueue queue(clock, WorkQueueOptions());
  queue.AddAfter("a", absl::Seconds(10));
  queue.AddAfter("b", absl::Seconds(10));
  queue.AddAfter("b", absl::Seconds(4));   // the earlier time wins
  queue.AddAfter("b", absl::Seconds(20));  // and is not postponed
  EXPECT_EQ(queue.Metrics().delayed, 2);
  EXPECT_EQ(queue.TryGet(), std::nullopt);
  clock.Advance(absl::Seconds(4) - absl::Milliseconds(1));
  EXPECT_EQ(queue.TryGet(), std::nullopt);
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(queue.TryGet(), "b");
  clock.Advance(absl::Seconds(6) - absl::Milliseconds(1));
  EXPECT_EQ(queue.TryGet(), std::nullopt);
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(queue.TryGet(), "a");
  EXPECT_EQ(queue.TryGet(), std::nullopt) << "b was delayed twice but must come once";
  queue.AddAfter("c", absl::ZeroDuration());
  EXPECT_EQ(queue.Len(), 1u) << "a zero delay adds at once";
}

TEST(WorkQueueTest, OverallRateLimitSpreadsBursts) {
  FakeClock clock;
  WorkQueueOptions options = Fast(absl::Milliseconds(1), absl::Seconds(1000));
  options.qps = 10;
  options.burst = 2;
  WorkQueue queue(clock, options);
  for (const char* key : {"a", "b", "c", "d"}) queue.AddRateLimited(key);
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(queue.TryGet(), "a");
  EXPECT_EQ(queue.TryGet(), "b");
  EXPECT_EQ(queue.TryGet(), std::nullopt) << "the burst of 2 is used up";
  clock.Advance(absl::Milliseconds(99));
  EXPECT_EQ(queue.TryGet(), "c");
  EXPECT_EQ(queue.TryGet(), std::nullopt);
  clock.Advance(absl::Milliseconds(100));
  EXPECT_EQ(queue.TryGet(), "d");
}

TEST(WorkQueueTest, ShutDownWakesABlockedGet) {
  WorkQueue queue(RealClock::Get(), WorkQueueOptions());
  absl::Notification returned;
  std::optional<std::string> result = "unset";
  std::thread worker([&] {
    result = queue.Get();
    returned.Notify();
  });
  queue.AddAfter("later", absl::Hours(1));  // Get() waits with a deadline too
  queue.ShutDown();
  bool woke = returned.WaitForNotificationWithTimeout(absl::Seconds(5));
  if (!woke) queue.Add("unblock");  // ShutDown is broken; let the thread end anyway
  worker.join();
  EXPECT_TRUE(woke) << "Get() stayed blocked after ShutDown()";
  EXPECT_EQ(result, std::nullopt);
  queue.Add("x");
  EXPECT_EQ(queue.Len(), 0u) << "adds after ShutDown() are ignored";
}

TEST(WorkQueueTest, GetOnTheRealClockWakesForADelayedKey) {
  WorkQueue queue(RealClock::Get(), WorkQueueOptions());
  absl::Time start = absl::Now();
  queue.AddAfter("a", absl::Milliseconds(50));
  std::optional<std::string> key = queue.Get();
  absl::Duration waited = absl::Now() - start;
  EXPECT_EQ(key, "a");
  EXPECT_GE(waited, absl::Milliseconds(50));
  EXPECT_LT(waited, absl::Seconds(2));
}

TEST(WorkQueueTest, ABlockedGetWakesWhenVirtualTimeReachesADelayedKey) {
  FakeClock clock;
  WorkQueue queue(clock, WorkQueueOptions());
  queue.AddAfter("a", absl::Seconds(30));
  absl::Notification returned;
  std::optional<std::string> result;
  std::thread worker([&] {
    result = queue.Get();
    returned.Notify();
  });
  ASSERT_TRUE(clock.AwaitSleepers(1, absl::Seconds(5)));
  EXPECT_EQ(clock.NextWakeup(), clock.Now() + absl::Seconds(30)) << "Get() sleeps until a is due";
  clock.Advance(absl::Seconds(29));
  // Woken by the move, Get() must sleep again: a is not due yet.
  ASSERT_TRUE(clock.AwaitSleepers(1, absl::Seconds(5)));
  EXPECT_FALSE(returned.HasBeenNotified());
  clock.Advance(absl::Seconds(1));
  bool woke = returned.WaitForNotificationWithTimeout(absl::Seconds(5));
  if (!woke) queue.ShutDown();
  worker.join();
  EXPECT_TRUE(woke);
  EXPECT_EQ(result, "a");
}

TEST(WorkQueueTest, ShutDownWithDrainWaitsForKeysInProcess) {
  FakeClock clock;
  WorkQueue queue(clock, WorkQueueOptions());
  queue.Add("a");
  ASSERT_EQ(queue.TryGet(), "a");
  std::optional<bool> drained;
  absl::Notification returned;
  std::thread stopper([&] {
    drained = queue.ShutDownWithDrain(absl::Seconds(20));
    returned.Notify();
  });
  ASSERT_TRUE(clock.AwaitSleepers(1, absl::Seconds(5)));
  EXPECT_TRUE(queue.ShuttingDown());
  clock.Advance(absl::Seconds(20));  // the timeout passes with "a" still in process
  ASSERT_TRUE(returned.WaitForNotificationWithTimeout(absl::Seconds(5)));
  stopper.join();
  EXPECT_EQ(drained, false);

  absl::Notification second;
  std::thread waiter([&] {
    drained = queue.ShutDownWithDrain(absl::Seconds(20));
    second.Notify();
  });
  ASSERT_TRUE(clock.AwaitSleepers(1, absl::Seconds(5)));
  queue.Done("a");  // wakes the drain at once, before any time passes
  ASSERT_TRUE(second.WaitForNotificationWithTimeout(absl::Seconds(5)));
  waiter.join();
  EXPECT_EQ(drained, true);
}

TEST(WorkQueueTest, MetricsAndHooksMeasureQueueAndWorkTime) {
  FakeClock clock;
  WorkQueueOptions options;
  int adds = 0;
  int retries = 0;
  std::vector<absl::Duration> queued, worked;
  options.hooks.on_add = [&] { ++adds; };
  options.hooks.on_retry = [&] { ++retries; };
  options.hooks.on_queue_time = [&](absl::Duration d) { queued.push_back(d); };
  options.hooks.on_work_time = [&](absl::Duration d) { worked.push_back(d); };
  WorkQueue queue(clock, options);
  queue.Add("a");
  queue.Add("a");
  clock.Advance(absl::Seconds(2));
  ASSERT_EQ(queue.TryGet(), "a");
  clock.Advance(absl::Seconds(3));
  WorkQueueMetrics busy = queue.Metrics();
  EXPECT_EQ(busy.processing, 1);
  EXPECT_EQ(busy.longest_running, absl::Seconds(3));
  EXPECT_EQ(busy.unfinished_work, absl::Seconds(3));
  queue.Done("a");
  queue.AddRateLimited("a");

  EXPECT_EQ(adds, 1);  // the rate-limited add is still delayed
  EXPECT_EQ(retries, 1);
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0], absl::Seconds(2));
  ASSERT_EQ(worked.size(), 1u);
  EXPECT_EQ(worked[0], absl::Seconds(3));
  WorkQueueMetrics m = queue.Metrics();
  EXPECT_EQ(m.depth, 0);
  EXPECT_EQ(m.delayed, 1);
  EXPECT_EQ(m.adds, 1);
  EXPECT_EQ(m.retries, 1);
  EXPECT_EQ(m.queue_time_count, 1u);
  EXPECT_NEAR(absl::ToDoubleSeconds(m.queue_time_p50), 2.0, 0.2);
  EXPECT_NEAR(absl::ToDoubleSeconds(m.work_time_p99), 3.0, 0.3);
}

}  // namespace
}  // namespace hb::informer
