// TokenBucket on virtual time.
#include "common/token_bucket.h"

#include <gtest/gtest.h>

#include <thread>

#include "common/clock.h"

namespace hb {
namespace {

TEST(TokenBucketTest, ABurstGoesAtOnceThenOnePerIntervalInOrder) {
  FakeClock clock;
  TokenBucket bucket(clock, /*qps=*/10, /*burst=*/3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration()) << i;
  // The next reservations queue up 100 ms apart, each after the one before.
  EXPECT_EQ(bucket.Reserve(), absl::Milliseconds(100));
  EXPECT_EQ(bucket.Reserve(), absl::Milliseconds(200));
  clock.Advance(absl::Milliseconds(200));
  EXPECT_EQ(bucket.Reserve(), absl::Milliseconds(100)) << "the earlier ones still count";
  // A long pause refills the bucket, never past the burst.
  clock.Advance(absl::Seconds(60));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration()) << i;
  EXPECT_GT(bucket.Reserve(), absl::ZeroDuration());
  TokenBucket::Stats stats = bucket.stats();
  EXPECT_EQ(stats.granted, 10);
  EXPECT_EQ(stats.delayed, 4);
}

TEST(TokenBucketTest, TryTakeNeverWaitsAndCountsRefusals) {
  FakeClock clock;
  TokenBucket bucket(clock, /*qps=*/1, /*burst=*/2);
  EXPECT_TRUE(bucket.TryTake());
  EXPECT_TRUE(bucket.TryTake());
  EXPECT_FALSE(bucket.TryTake());
  clock.Advance(absl::Milliseconds(999));
  EXPECT_FALSE(bucket.TryTake());
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(bucket.TryTake());
  EXPECT_EQ(bucket.stats().refused, 2);
}

TEST(TokenBucketTest, WaitSleepsOnTheClockAndZeroQpsIsUnlimited) {
  FakeClock clock;
  TokenBucket bucket(clock, /*qps=*/2, /*burst=*/1);
  CancelToken cancel;
  EXPECT_TRUE(bucket.Wait(cancel));
  absl::Time before = clock.Now();
  std::thread waiter([&] { EXPECT_TRUE(bucket.Wait(cancel)); });
  ASSERT_TRUE(clock.AwaitSleepers(1, absl::Seconds(10)));
  EXPECT_EQ(clock.NextWakeup(), before + absl::Milliseconds(500));
  clock.Advance(absl::Milliseconds(500));
  waiter.join();

  TokenBucket unlimited(clock, /*qps=*/0, /*burst=*/1);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(unlimited.Reserve(), absl::ZeroDuration());
  EXPECT_TRUE(unlimited.unlimited());
}

}  // namespace
}  // namespace hb
