// HeartbeatEngine on virtual time against FakeEtcd: lost leases, outages, adoption and
// back-pressure.
#include <gtest/gtest.h>

#include "heartbeat/engine.h"
#include "heartbeat/health_value.h"
#include "support/engine_fixture.h"

namespace hb::heartbeat {
namespace {

using etcd::FakeEtcd;

TEST_F(EngineFixture, WipedEtcdGetsEveryKeyBackWithinOneInterval) {
  Start();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(engine_->Upsert(Spec(absl::StrCat("w.n", i))).ok());
  Run(absl::Seconds(2));
  etcd_.SetDown(true);
  etcd_.Wipe();
  Run(absl::Seconds(5));
  etcd_.SetDown(false);
  Run(absl::Seconds(10));  // one interval
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(etcd_.Get(Key(absl::StrCat("w.n", i))).has_value()) << i;
  }
  EXPECT_EQ(engine_->stats().leases_lost.load(), 50u);
  EXPECT_EQ(engine_->Gauges().leases_held, 50);
  EXPECT_EQ(engine_->GetStatus("w.n7")->health, Health::kHealthy);
}

TEST_F(EngineFixture, ShortOutageInsideTheTtlLosesNoKey) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(2), 6)).ok());
  Run(absl::Seconds(2));
  int64_t lease = etcd_.Get(Key("a.b"))->lease;
  etcd_.SetDown(true);
  Run(absl::Seconds(3));  // beats fail, the lease lives on
  etcd_.SetDown(false);
  Run(absl::Seconds(6));
  EXPECT_EQ(etcd_.deletes_of(Key("a.b")), 0);
  EXPECT_EQ(etcd_.Get(Key("a.b"))->lease, lease);
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
  EXPECT_GT(engine_->stats().beats_failed.load(), 0u);
  EXPECT_EQ(engine_->GetStatus("a.b")->health, Health::kHealthy);
}

TEST_F(EngineFixture, KeepAlivesDroppedDuringAnOutageAreNoSignOfASlowEtcd) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(2), 12)).ok());
  Run(absl::Seconds(2));
  etcd_.SetDown(true);
  // Renewals every 4 s: one is sent (and dropped) at least 3.5 s before the end, longer
  // than a quarter of the TTL; the lease itself lives at least 8 s past the outage's start.
  Run(absl::Milliseconds(7500));
  EXPECT_FALSE(engine_->Gauges().keepalives_congested);
  etcd_.SetDown(false);
  Run(absl::Seconds(1));
  EXPECT_FALSE(engine_->Gauges().keepalives_congested);
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
}

TEST_F(EngineFixture, LongOutageReportsFailingThenLeaseLostThenRecovers) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(2), 6)).ok());
  Run(absl::Seconds(2));
  etcd_.SetDown(true);
  Run(absl::Seconds(4));
  EXPECT_EQ(engine_->GetStatus("a.b")->health, Health::kFailing);
  Run(absl::Seconds(4));  // past the lease deadline
  auto status = engine_->GetStatus("a.b");
  EXPECT_EQ(status->health, Health::kLeaseLost);
  EXPECT_NE(status->message.find("checking whether etcd still has it"), std::string::npos)
      << status->message;
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 1) << "no grant while etcd is away";
  int64_t lease = etcd_.Get(Key("a.b"))->lease;
  etcd_.SetDown(false);  // etcd restarted: it extended its leases
  Run(absl::Seconds(2));
  EXPECT_EQ(engine_->GetStatus("a.b")->health, Health::kHealthy);
  EXPECT_TRUE(etcd_.Get(Key("a.b")).has_value());
  EXPECT_EQ(etcd_.Get(Key("a.b"))->lease, lease) << "the lease etcd kept is kept";
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 1);
  EXPECT_FALSE(engine_->Gauges().keepalives_congested)
      << "keep-alives dropped during the outage are no sign of a slow etcd";
}

TEST_F(EngineFixture, KeepAliveAnsweringTtlZeroReGrantsAtOnce) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(10), 30)).ok());
  Run(absl::Seconds(1));
  etcd_.Wipe();            // the lease vanishes while the stream stays up
  Run(absl::Seconds(11));  // the next keep-alive answers TTL 0
  EXPECT_EQ(engine_->stats().leases_lost.load(), 1u);
  EXPECT_TRUE(etcd_.Get(Key("a.b")).has_value());
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 2);
}

TEST_F(EngineFixture, PutRefusedForUnknownLeaseReGrants) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(2), 30)).ok());
  Run(absl::Seconds(1));
  etcd_.FailNext(FakeEtcd::Op::kPut, absl::NotFoundError("etcdserver: requested lease not found"));
  Run(absl::Seconds(3));
  EXPECT_EQ(engine_->stats().leases_lost.load(), 1u);
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 2);
  EXPECT_EQ(engine_->GetStatus("a.b")->health, Health::kHealthy);
}

TEST_F(EngineFixture, AnOutageThatCostEtcdTheLeaseReGrantsAssoonAsEtcdAnswers) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(2), 6)).ok());
  Run(absl::Seconds(3));
  etcd_.SetDown(true);
  Run(absl::Seconds(8));  // past the deadline: the engine waits to check the lease
  etcd_.Wipe();           // ... which etcd lost meanwhile
  etcd_.SetDown(false);
  Run(absl::Seconds(1));
  EXPECT_EQ(engine_->stats().leases_lost.load(), 1u);
  EXPECT_TRUE(etcd_.Get(Key("a.b")).has_value()) << "back within a second of etcd's return";
  EXPECT_EQ(engine_->GetStatus("a.b")->health, Health::kHealthy);
}

TEST_F(EngineFixture, NoKeepAliveAnswerBeforeTheDeadlineCountsAsLost) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(2), 6)).ok());
  Run(absl::Seconds(3));  // the stream is up
  etcd_.DropKeepAlives(true);
  Run(absl::Seconds(7));
  EXPECT_GE(engine_->stats().leases_lost.load(), 1u);
  etcd_.DropKeepAlives(false);
  Run(absl::Seconds(3));
  EXPECT_EQ(engine_->GetStatus("a.b")->health, Health::kHealthy);
  EXPECT_TRUE(etcd_.Get(Key("a.b")).has_value());
}

TEST_F(EngineFixture, TooManyRequestsIsBackPressureNotFailure) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(2), 30)).ok());
  Run(absl::Seconds(1));
  etcd_.FailNext(FakeEtcd::Op::kPut, absl::ResourceExhaustedError("etcdserver: too many requests"),
                 3);
  Run(absl::Seconds(6));
  EXPECT_EQ(engine_->stats().beats_throttled.load(), 3u);
  EXPECT_EQ(engine_->stats().beats_failed.load(), 0u);
  EXPECT_EQ(engine_->GetStatus("a.b")->health, Health::kHealthy);
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
}

TEST_F(EngineFixture, EtcdOutOfSpaceIsAFailureReportedAtOnceNotThrottling) {
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(2), 30)).ok());
  Run(absl::Seconds(1));
  int64_t lease = etcd_.Get(Key("a.b"))->lease;
  etcd_.FailNext(FakeEtcd::Op::kPut,
                 absl::ResourceExhaustedError("etcdserver: mvcc: database space exceeded"), 1000);
  Run(absl::Seconds(2));  // the first refused beat
  EXPECT_GE(engine_->stats().beats_no_space.load(), 1u);
  EXPECT_EQ(engine_->stats().beats_throttled.load(), 0u);
  EXPECT_EQ(engine_->stats().beats_failed.load(), 0u);
  auto status = engine_->GetStatus("a.b");
  EXPECT_EQ(status->health, Health::kFailing);
  EXPECT_NE(status->message.find("NOSPACE"), std::string::npos) << status->message;
  EXPECT_TRUE(engine_->Gauges().etcd_no_space);
  // The alarm is disarmed: the next put goes through and the capability recovers, on the
  // lease it kept all along (keep-alives are not refused by the alarm).
  Run(absl::Seconds(20));
  EXPECT_TRUE(engine_->Gauges().etcd_no_space) << "still refused after 20 s";
  etcd_.ClearFailures(FakeEtcd::Op::kPut);
  Run(absl::Seconds(3));
  EXPECT_EQ(engine_->GetStatus("a.b")->health, Health::kHealthy);
  EXPECT_FALSE(engine_->Gauges().etcd_no_space);
  EXPECT_EQ(etcd_.Get(Key("a.b"))->lease, lease);
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
}

TEST_F(EngineFixture, GrantFailuresBackOffAndReportFailing) {
  Start();
  etcd_.FailNext(FakeEtcd::Op::kGrant, absl::PermissionDeniedError("etcdserver: permission denied"),
                 4);
  ASSERT_TRUE(engine_->Upsert(Spec("a.b")).ok());
  Run(absl::Milliseconds(300));
  auto status = engine_->GetStatus("a.b");
  EXPECT_EQ(status->health, Health::kFailing);
  EXPECT_NE(status->message.find("permission denied"), std::string::npos);
  Run(absl::Seconds(10));
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 5) << "retried with backoff, not in a hot loop";
  EXPECT_EQ(engine_->GetStatus("a.b")->health, Health::kHealthy);
}

TEST_F(EngineFixture, AdoptsALiveLeaseInsteadOfGrantingOne) {
  int64_t lease = etcd_.SeedLease(30);
  HealthValue old;
  old.timestamp = clock_.Now();
  old.identifier = "a.b";
  old.heartbeat_count = 41;
  etcd_.Seed(Key("a.b"), RenderHealthValue(old), lease);
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(2), 30)).ok());
  Run(absl::Seconds(5));
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 0);
  auto kv = etcd_.Get(Key("a.b"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->lease, lease);
  EXPECT_GT(Count("a.b"), 41u) << "the count carries on";
  EXPECT_EQ(etcd_.deletes_of(Key("a.b")), 0);
  EXPECT_EQ(engine_->stats().leases_adopted.load(), 1u);
}

TEST_F(EngineFixture, AnAdoptedKeyIsRewrittenAtOnceNotAtItsNextBeat) {
  int64_t lease = etcd_.SeedLease(60);
  HealthValue old;
  old.timestamp = clock_.WallNow() - absl::Seconds(40);
  old.identifier = "a.b";
  old.heartbeat_count = 7;
  etcd_.Seed(Key("a.b"), RenderHealthValue(old), lease);
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(50), 60)).ok());
  Run(absl::Seconds(1));  // the beat's own phase lies anywhere in the next 50 s
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 0);
  EXPECT_EQ(Count("a.b"), 8u) << "the former writer's value is replaced at adoption";
  auto value = ParseHealthValue(etcd_.Get(Key("a.b"))->value);
  ASSERT_TRUE(value.ok());
  EXPECT_GE(value->timestamp, clock_.WallNow() - absl::Seconds(1));
  EXPECT_EQ(etcd_.Get(Key("a.b"))->lease, lease);
}

TEST_F(EngineFixture, AdoptionProbesSentTogetherWaitLongerTheLaterTheyAreSent) {
  // etcd answers each keep-alive 6 s late, past the 5 s a single probe waits. A probe waits
  // 1 ms more for every probe ahead of it (a queue answered at 1,000/s or faster), so of 2,000
  // sent together the first 1,000 give up and grant anew and the rest are adopted; with a
  // flat timeout all 2,000 would be replaced.
  for (int i = 0; i < 2000; ++i) {
    std::string id = absl::StrCat("a.n", i);
    HealthValue old;
    old.timestamp = clock_.WallNow();
    old.identifier = id;
    etcd_.Seed(Key(id), RenderHealthValue(old), etcd_.SeedLease(60));
  }
  etcd_.SetKeepAliveLatency(absl::Seconds(6));
  Start();
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(engine_->Upsert(Spec(absl::StrCat("a.n", i), absl::Seconds(10), 60)).ok());
  }
  Run(absl::Seconds(9));
  EXPECT_NEAR(etcd_.calls(FakeEtcd::Op::kGrant), 1000, 5);
  EXPECT_NEAR(static_cast<double>(engine_->stats().leases_adopted.load()), 1000, 5);
}

TEST_F(EngineFixture, AdoptionOfAnExpiredLeaseGrantsANewOne) {
  int64_t lease = etcd_.SeedLease(3);
  HealthValue old;
  old.timestamp = clock_.Now();
  old.identifier = "a.b";
  etcd_.Seed(Key("a.b"), RenderHealthValue(old), lease);
  // A key whose lease is gone but which a watcher still saw: it expires now.
  clock_.Advance(absl::Seconds(4));
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b")).ok());
  Run(absl::Seconds(2));
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 1);
  EXPECT_TRUE(etcd_.Get(Key("a.b")).has_value());
}

TEST_F(EngineFixture, AdoptionWithADifferentTtlMovesToANewLeaseWithoutDeleting) {
  int64_t lease = etcd_.SeedLease(60);
  HealthValue old;
  old.timestamp = clock_.Now();
  old.identifier = "a.b";
  etcd_.Seed(Key("a.b"), RenderHealthValue(old), lease);
  Start();
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(10), 30)).ok());
  Run(absl::Seconds(2));
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 1);
  EXPECT_NE(etcd_.Get(Key("a.b"))->lease, lease);
  EXPECT_FALSE(etcd_.LeaseAlive(lease));
  EXPECT_EQ(etcd_.deletes_of(Key("a.b")), 0);
}

TEST_F(EngineFixture, AdoptionWaitsForEtcdAndScansInPages) {
  for (int i = 0; i < 2500; ++i) {
    etcd_.Seed(
        Key(absl::StrCat("p.n", i)),
        R"({"status":"healthy","timestamp":"2025-11-15T22:30:00Z","namespace":"x","heartbeat_count":3})",
        etcd_.SeedLease(30));
  }
  etcd_.SetDown(true);
  Start();
  for (int i = 0; i < 2500; ++i) ASSERT_TRUE(engine_->Upsert(Spec(absl::StrCat("p.n", i))).ok());
  Run(absl::Seconds(3));
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 0) << "no grant before the scan";
  etcd_.SetDown(false);
  Run(absl::Seconds(10));
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 0);
  EXPECT_EQ(engine_->stats().leases_adopted.load(), 2500u);
  EXPECT_GE(etcd_.calls(FakeEtcd::Op::kRange), 3);
}

TEST_F(EngineFixture, InFlightCapQueuesBeatsAndReportsLag) {
  EngineOptions options;
  options.max_in_flight = 4;
  Start(options);
  etcd_.SetLatency(absl::Milliseconds(100));  // at most 40 requests/s get through
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(engine_->Upsert(Spec(absl::StrCat("q.n", i))).ok());
  Run(absl::Seconds(3));
  EngineGauges gauges = engine_->Gauges();
  EXPECT_LE(gauges.in_flight, 4);
  EXPECT_GT(gauges.waiting_for_slot, 0);
  EXPECT_GT(gauges.lag, absl::Seconds(2));
  EXPECT_TRUE(gauges.falling_behind);
  // Keep-alives are not held back: no lease granted so far is lost.
  Run(absl::Seconds(60));
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
}

}  // namespace
}  // namespace hb::heartbeat

namespace hb::heartbeat {
namespace {

TEST_F(EngineFixture, PutsDueTogetherShareTransactions) {
  Start();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(engine_->Upsert(Spec(absl::StrCat("b.n", i))).ok());
  Run(absl::Seconds(25), /*step=*/absl::Milliseconds(500));  // a driver waking twice a second
  int64_t rpcs = etcd_.calls(etcd::FakeEtcd::Op::kPutBatch) + etcd_.calls(etcd::FakeEtcd::Op::kPut);
  EXPECT_GT(etcd_.calls(etcd::FakeEtcd::Op::kPutBatch), 0);
  EXPECT_GE(etcd_.keys_written(), 600) << "three rounds of beats";
  EXPECT_LT(rpcs * 2, etcd_.keys_written()) << "puts due in the same instant travel together";
}

TEST_F(EngineFixture, ARefusedBatchFallsBackToSinglePutsWithoutLosingLeases) {
  Start();
  for (const char* id : {"b.one", "b.two"}) ASSERT_TRUE(engine_->Upsert(Spec(id)).ok());
  etcd_.FailNext(etcd::FakeEtcd::Op::kPutBatch,
                 absl::NotFoundError("etcdserver: requested lease not found"));
  Run(absl::Seconds(2), /*step=*/absl::Seconds(1));  // both first puts fall due together
  EXPECT_EQ(etcd_.calls(etcd::FakeEtcd::Op::kPutBatch), 1);
  // The refused batch wrote nothing; each put was retried alone (and a routine put that fell
  // due meanwhile went alone too).
  EXPECT_GE(etcd_.calls(etcd::FakeEtcd::Op::kPut), 2);
  EXPECT_EQ(etcd_.calls(etcd::FakeEtcd::Op::kPut), etcd_.keys_written()) << "each put alone";
  EXPECT_TRUE(etcd_.Get(Key("b.one")).has_value());
  EXPECT_TRUE(etcd_.Get(Key("b.two")).has_value());
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
}

TEST_F(EngineFixture, BatchingCanBeTurnedOff) {
  EngineOptions options;
  options.max_batch = 1;
  Start(options);
  for (const char* id : {"b.one", "b.two"}) ASSERT_TRUE(engine_->Upsert(Spec(id)).ok());
  Run(absl::Seconds(2), /*step=*/absl::Seconds(1));
  EXPECT_EQ(etcd_.calls(etcd::FakeEtcd::Op::kPutBatch), 0);
  EXPECT_GE(etcd_.calls(etcd::FakeEtcd::Op::kPut), 2);
  EXPECT_EQ(etcd_.calls(etcd::FakeEtcd::Op::kPut), etcd_.keys_written()) << "each put alone";
}

}  // namespace
}  // namespace hb::heartbeat

namespace hb::heartbeat {
namespace {

TEST_F(EngineFixture, SlowKeepAlivesHoldBackRoutinePutsUntilTheyRecover) {
  Start();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(engine_->Upsert(Spec(absl::StrCat("c.n", i), absl::Seconds(1), 30)).ok());
  }
  Run(absl::Seconds(12));
  EXPECT_FALSE(engine_->Gauges().keepalives_congested);
  etcd_.SetKeepAliveLatency(absl::Seconds(9));  // renewals take 30% of the TTL; puts are fast
  Run(absl::Seconds(20));
  EngineGauges congested = engine_->Gauges();
  EXPECT_TRUE(congested.keepalives_congested);
  EXPECT_GT(congested.keepalive_latency, absl::Seconds(7));
  int64_t written = etcd_.keys_written();
  Run(absl::Seconds(5));
  EXPECT_EQ(etcd_.keys_written() - written, 0) << "routine puts are held back";
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
  etcd_.SetKeepAliveLatency(absl::ZeroDuration());
  Run(absl::Seconds(30));
  EXPECT_FALSE(engine_->Gauges().keepalives_congested);
  written = etcd_.keys_written();
  Run(absl::Seconds(5));
  EXPECT_GE(etcd_.keys_written() - written, 80) << "20 capabilities beating every second again";
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
}

}  // namespace
}  // namespace hb::heartbeat
