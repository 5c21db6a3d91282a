// HeartbeatEngine on virtual time against FakeEtcd: the normal life of a heartbeat.
#include "heartbeat/engine.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "heartbeat/health_value.h"
#include "support/engine_fixture.h"

namespace hb::heartbeat {
namespace {

using etcd::FakeEtcd;

TEST_F(EngineFixture, KeyAppearsWithinOneSecondWithOriginalSchema) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("chora.devex.registry")).ok());
  Run(absl::Seconds(1));
  auto kv = etcd_.Get("/chora/capabilities/chora.devex.registry/health");
  ASSERT_TRUE(kv.has_value());
  EXPECT_NE(kv->lease, 0);
  auto value = ParseHealthValue(kv->value);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(value->status, "healthy");
  EXPECT_EQ(value->identifier, "chora.devex.registry");
  EXPECT_EQ(value->heartbeat_count, 1u);
  EXPECT_EQ(value->lease_id, kv->lease);
  EXPECT_EQ(value->ttl_seconds, 30);
  EXPECT_EQ(value->mode, "every-beat");
  EXPECT_EQ(engine_->GetStatus("chora.devex.registry")->health, Health::kHealthy);
}

TEST_F(EngineFixture, CountAdvancesEveryIntervalAndKeyOutlivesThreeTtls) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(2), 6)).ok());
  Run(absl::Seconds(1));
  uint64_t previous = Count("a.b");
  // Over 3 x TTL the count must advance in every interval (2 s, +/- 5% jitter).
  for (int i = 0; i < 9; ++i) {
    Run(absl::Milliseconds(2200));
    uint64_t now = Count("a.b");
    EXPECT_GT(now, previous) << "interval " << i;
    previous = now;
  }
  EXPECT_GE(previous, 9u);
  EXPECT_EQ(etcd_.deletes_of(Key("a.b")), 0);
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 1);
}

TEST_F(EngineFixture, KeepAlivesRenewTheLeaseAtAThirdOfTheTtl) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(20), 30)).ok());
  Run(absl::Seconds(1));
  int64_t before = etcd_.keepalives();
  Run(absl::Seconds(100));
  // Renewal every min(interval, TTL/3) = 10 s, +/- 5%: about 10 in 100 s.
  EXPECT_GE(etcd_.keepalives() - before, 9);
  EXPECT_LE(etcd_.keepalives() - before, 11);
  EXPECT_EQ(etcd_.deletes_of(Key("a.b")), 0);
}

TEST_F(EngineFixture, KeepAlivesFollowTheTtlNotTheInterval) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(1), 30)).ok());
  Run(absl::Seconds(1));
  int64_t before = etcd_.keepalives();
  Run(absl::Seconds(60));
  EXPECT_GE(etcd_.keepalives() - before, 5);
  EXPECT_LE(etcd_.keepalives() - before, 7) << "a put every second does not need a renewal too";
  EXPECT_GE(Count("a.b"), 55u);
}

TEST_F(EngineFixture, ARenewalDueWithThePutLeavesWithIt) {
  // The defaults: TTL 30 s renews every 10 s, the interval.
  Start();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(engine_->Upsert(Spec(absl::StrCat("c.n", i))).ok());
  Run(absl::Seconds(25));  // granted and past the first routine puts
  const int64_t keepalives = etcd_.keepalives();
  const int64_t puts = etcd_.keys_written();
  int alone = 0;  // 10 ms steps in which more renewals than puts left
  for (int step = 0; step < 10000; ++step) {
    const int64_t k = etcd_.keepalives();
    const int64_t p = etcd_.keys_written();
    Run(absl::Milliseconds(10));
    if (etcd_.keepalives() - k > etcd_.keys_written() - p) ++alone;
  }
  EXPECT_EQ(alone, 0);
  // Still once per period each (+/- 5% jitter): joining the put adds and drops no renewal.
  EXPECT_NEAR(etcd_.keepalives() - keepalives, 500, 30);
  EXPECT_NEAR(etcd_.keys_written() - puts, 500, 30);
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
}

TEST_F(EngineFixture, ShortestIntervalFollowsTheFleet) {
  Start();
  EXPECT_EQ(engine_->ShortestInterval(), absl::InfiniteDuration()) << "no capability";
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(10), 30)).ok());
  ASSERT_TRUE(engine_->Upsert(Spec("c.d", absl::Seconds(2), 30)).ok());
  ASSERT_TRUE(engine_->Upsert(Spec("e.f", absl::Seconds(2), 30)).ok());
  EXPECT_EQ(engine_->ShortestInterval(), absl::Seconds(2));
  ASSERT_TRUE(engine_->Upsert(Spec("c.d", absl::Seconds(20), 30)).ok());  // changed
  EXPECT_EQ(engine_->ShortestInterval(), absl::Seconds(2)) << "e.f still has 2 s";
  engine_->Remove("e.f", HeartbeatEngine::Removal::kDeleteKey);
  Run(absl::Seconds(1));
  EXPECT_EQ(engine_->ShortestInterval(), absl::Seconds(10));
  engine_->Remove("a.b", HeartbeatEngine::Removal::kLetExpire);
  engine_->Remove("c.d", HeartbeatEngine::Removal::kLetExpire);
  Run(absl::Seconds(1));
  EXPECT_EQ(engine_->ShortestInterval(), absl::InfiniteDuration());
}

TEST_F(EngineFixture, RejectsInvalidSpecs) {
  Start();
  EXPECT_EQ(engine_->Upsert(Spec("a", absl::Seconds(10), 1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->Upsert(Spec("a", absl::Seconds(30), 30)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->Upsert(Spec("a/b")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->Upsert(Spec("")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(engine_->GetStatus("a").has_value());
}

TEST_F(EngineFixture, IntervalChangeKeepsTheLease) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(10), 30)).ok());
  Run(absl::Seconds(2));
  int64_t lease = etcd_.Get(Key("a.b"))->lease;
  uint64_t count = Count("a.b");
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(2), 30)).ok());
  Run(absl::Seconds(10));
  EXPECT_EQ(etcd_.Get(Key("a.b"))->lease, lease);
  EXPECT_GE(Count("a.b"), count + 4);
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 1);
}

TEST_F(EngineFixture, TtlChangeMovesTheKeyToANewLeaseWithoutDeletingIt) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(5), 30)).ok());
  Run(absl::Seconds(2));
  int64_t old_lease = etcd_.Get(Key("a.b"))->lease;
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(5), 20)).ok());
  Run(absl::Seconds(2));
  auto kv = etcd_.Get(Key("a.b"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_NE(kv->lease, old_lease);
  EXPECT_EQ(ParseHealthValue(kv->value)->ttl_seconds, 20);
  EXPECT_FALSE(etcd_.LeaseAlive(old_lease)) << "the old lease is revoked";
  EXPECT_EQ(etcd_.deletes_of(Key("a.b")), 0);
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
}

TEST_F(EngineFixture, RemoveWithRevokeDeletesTheKeyAtOnce) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b")).ok());
  ASSERT_TRUE(engine_->Upsert(Spec("c.d")).ok());
  Run(absl::Seconds(1));
  engine_->Remove("a.b", HeartbeatEngine::Removal::kDeleteKey);
  Run(absl::Milliseconds(100));
  EXPECT_FALSE(etcd_.Get(Key("a.b")).has_value());
  EXPECT_TRUE(etcd_.Get(Key("c.d")).has_value());
  EXPECT_FALSE(engine_->GetStatus("a.b").has_value());
}

TEST_F(EngineFixture, RemovalDeletesAKeyThisProcessNeverHeldAndReportsCompletion) {
  int64_t other = etcd_.SeedLease(30);  // a former leader's key and lease
  etcd_.Seed(Key("x.y"), "{}", other);
  Start();
  std::optional<absl::Status> done;
  engine_->Remove("x.y", HeartbeatEngine::Removal::kDeleteKey,
                  [&](absl::Status status) { done = status; });
  Run(absl::Milliseconds(10));
  ASSERT_TRUE(done.has_value()) << "completion is reported";
  EXPECT_TRUE(done->ok()) << *done;
  EXPECT_FALSE(etcd_.Get(Key("x.y")).has_value());
}

TEST_F(EngineFixture, RemovalReportsWhyEtcdDidNotConfirmIt) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b")).ok());
  Run(absl::Seconds(1));
  etcd_.SetDown(true);
  std::optional<absl::Status> done;
  engine_->Remove("a.b", HeartbeatEngine::Removal::kDeleteKey,
                  [&](absl::Status status) { done = status; });
  Run(absl::Milliseconds(10));
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(done->message().find("cannot delete /chora/capabilities/a.b/health"), std::string::npos)
      << *done;
  EXPECT_FALSE(engine_->GetStatus("a.b").has_value()) << "the heartbeat stays stopped";
}

TEST_F(EngineFixture, AWallClockStepNeitherStopsRenewalsNorLosesLeases) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(2), 6)).ok());
  Run(absl::Seconds(2));
  clock_.StepWall(-absl::Hours(1));  // back: a wall-clock scheduler would stop renewing
  Run(absl::Seconds(20));
  clock_.StepWall(absl::Hours(2));  // forward: it would declare every lease lost
  Run(absl::Seconds(20));
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
  EXPECT_EQ(etcd_.deletes_of(Key("a.b")), 0);
  EXPECT_GE(Count("a.b"), 19u) << "a beat every 2 s throughout";
  auto value = ParseHealthValue(etcd_.Get(Key("a.b"))->value);
  ASSERT_TRUE(value.ok());
  EXPECT_LT(absl::AbsDuration(value->timestamp - clock_.WallNow()), absl::Seconds(3))
      << "the value carries wall time";
}

TEST_F(EngineFixture, RemoveWithoutRevokeLetsTheKeyExpireWithItsLease) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(2), 6)).ok());
  Run(absl::Seconds(1));
  engine_->Remove("a.b", HeartbeatEngine::Removal::kLetExpire);
  Run(absl::Seconds(3));
  EXPECT_TRUE(etcd_.Get(Key("a.b")).has_value());
  Run(absl::Seconds(5));
  EXPECT_FALSE(etcd_.Get(Key("a.b")).has_value());
}

TEST_F(EngineFixture, ShutdownWithRevokeRemovesEveryKeyAndDrains) {
  Start();
  for (const char* id : {"a.one", "a.two", "a.three"}) ASSERT_TRUE(engine_->Upsert(Spec(id)).ok());
  Run(absl::Seconds(1));
  engine_->BeginShutdown(/*revoke=*/true);
  EXPECT_FALSE(engine_->Upsert(Spec("a.four")).ok());
  Run(absl::Milliseconds(100));
  EXPECT_TRUE(engine_->Drained());
  EXPECT_EQ(etcd_.live_leases(), 0);
  for (const char* id : {"a.one", "a.two", "a.three"}) EXPECT_FALSE(etcd_.Get(Key(id)));
  EXPECT_EQ(engine_->stats().leases_revoked.load(), 3u);
}

TEST_F(EngineFixture, ShutdownWithoutRevokeKeepsTheKeys) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b")).ok());
  Run(absl::Seconds(1));
  engine_->BeginShutdown(/*revoke=*/false);
  Run(absl::Milliseconds(100));
  EXPECT_TRUE(engine_->Drained());
  EXPECT_TRUE(etcd_.Get(Key("a.b")).has_value());
  EXPECT_EQ(etcd_.live_leases(), 1);
}

TEST_F(EngineFixture, ThousandsOfCapabilitiesBeatSpreadOverTheInterval) {
  Start();
  const int kCount = 2000;
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE(engine_->Upsert(Spec(absl::StrCat("c.n", i))).ok());
  Run(absl::Seconds(12));  // everyone granted and placed
  // Count puts per 1-second bucket over two intervals.
  std::map<int, int64_t> per_second;
  int64_t last = etcd_.keys_written();
  for (int s = 0; s < 20; ++s) {
    Run(absl::Seconds(1));
    int64_t now = etcd_.keys_written();
    per_second[s] = now - last;
    last = now;
  }
  // Evenly spread: 200 puts/s on average; no second sees more than twice that.
  for (const auto& [second, puts] : per_second) {
    EXPECT_LT(puts, 400) << "second " << second;
    EXPECT_GT(puts, 100) << "second " << second;
  }
  EXPECT_EQ(engine_->Gauges().leases_held, kCount);
}

TEST_F(EngineFixture, OnChangeModeRenewsByKeepAliveAndRewritesOnlyOnRefresh) {
  EngineOptions options;
  options.mode = WriteMode::kOnChange;
  options.refresh = absl::Seconds(60);
  Start(options);
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(5), 15)).ok());
  Run(absl::Seconds(1));
  ASSERT_EQ(etcd_.keys_written(), 1);
  EXPECT_EQ(ParseHealthValue(etcd_.Get(Key("a.b"))->value)->mode, "on-change");
  Run(absl::Seconds(50));
  EXPECT_LE(etcd_.keys_written(), 2) << "at most the refresh rewrite";
  EXPECT_GE(etcd_.keepalives(), 9);
  EXPECT_EQ(etcd_.deletes_of(Key("a.b")), 0);
  Run(absl::Seconds(70));
  EXPECT_GE(etcd_.keys_written(), 2) << "refreshed within the refresh period";
  // A spec change rewrites the value at once.
  int64_t puts = etcd_.keys_written();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(4), 15)).ok());
  Run(absl::Milliseconds(100));
  EXPECT_EQ(etcd_.keys_written(), puts + 1);
}

TEST_F(EngineFixture, ChangeHookReportsTransitions) {
  Start();
  std::vector<std::string> changed;
  engine_->AddChangeHook([&](const std::string& id) { changed.push_back(id); });
  ASSERT_TRUE(engine_->Upsert(Spec("a.b")).ok());
  Run(absl::Seconds(1));
  EXPECT_GE(changed.size(), 2u);  // added (Pending), then Healthy
  EXPECT_EQ(changed.back(), "a.b");
}

}  // namespace
}  // namespace hb::heartbeat
