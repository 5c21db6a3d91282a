// Removal::kHandOver: a capability passed to another process stops being written at once,
// keeps its lease renewed through the grace, and is then forgotten without a revoke.
#include <gtest/gtest.h>

#include "support/engine_fixture.h"

namespace hb::heartbeat {
namespace {

using Removal = HeartbeatEngine::Removal;

class HandOver : public EngineFixture {
 protected:
  void StartWithGrace(absl::Duration grace) {
    EngineOptions options;
    options.hand_over_grace = grace;
    Start(options);
  }
  int64_t LeaseOf(const std::string& id) {
    auto kv = etcd_.Get(Key(id));
    return kv ? kv->lease : 0;
  }
};

TEST_F(HandOver, StopsThePutsAtOnceAndRenewsTheLeaseThroughTheGrace) {
  StartWithGrace(absl::Seconds(20));
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(1), 6)).ok());
  Run(absl::Seconds(3));
  const int64_t lease = LeaseOf("a.b");
  ASSERT_NE(lease, 0);
  int done = 0;
  engine_->Remove("a.b", Removal::kHandOver, [&](absl::Status s) {
    EXPECT_TRUE(s.ok()) << s;
    ++done;
  });
  Run(absl::Milliseconds(100));
  EXPECT_EQ(done, 1);
  const int64_t written = etcd_.keys_written();
  const uint64_t count = Count("a.b");
  EXPECT_FALSE(engine_->GetStatus("a.b").has_value()) << "the new owner reports it";
  EXPECT_TRUE(engine_->AllStatuses().empty());

  Run(absl::Seconds(15));  // 2.5 TTLs: only keep-alives keep the key
  EXPECT_EQ(etcd_.keys_written(), written) << "no put after the hand-over";
  EXPECT_EQ(Count("a.b"), count);
  EXPECT_EQ(LeaseOf("a.b"), lease);
  EXPECT_TRUE(etcd_.LeaseAlive(lease));

  Run(absl::Seconds(5 + 7));  // grace over: forgotten, the lease runs out on its own
  EXPECT_FALSE(etcd_.Get(Key("a.b")).has_value());
  EXPECT_EQ(etcd_.calls(etcd::FakeEtcd::Op::kRevoke), 0);
  EXPECT_EQ(engine_->Gauges().capabilities, 0);
}

TEST_F(HandOver, AnUpsertDuringTheGraceTakesTheCapabilityBackOnTheSameLease) {
  StartWithGrace(absl::Seconds(30));
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(1), 6)).ok());
  Run(absl::Seconds(2));
  const int64_t lease = LeaseOf("a.b");
  engine_->Remove("a.b", Removal::kHandOver);
  Run(absl::Seconds(8));
  const uint64_t count = Count("a.b");
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(1), 6)).ok());
  Run(absl::Milliseconds(200));
  EXPECT_GT(Count("a.b"), count) << "written again at once";
  Run(absl::Seconds(40));
  EXPECT_EQ(LeaseOf("a.b"), lease);
  EXPECT_GT(Count("a.b"), count + 30);
  auto status = engine_->GetStatus("a.b");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->health, Health::kHealthy);
  EXPECT_EQ(etcd_.deletes_of(Key("a.b")), 0);
}

TEST_F(HandOver, CompletesOnlyOnceThePutInFlightIsAnswered) {
  StartWithGrace(absl::Seconds(30));
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(1), 6)).ok());
  Run(absl::Seconds(2));
  etcd_.SetLatency(absl::Milliseconds(500));
  // Step to the moment a beat is sent and not yet answered.
  auto sent = [&] {
    return etcd_.calls(etcd::FakeEtcd::Op::kPut) + etcd_.calls(etcd::FakeEtcd::Op::kPutBatch);
  };
  const int64_t before = sent();
  for (int i = 0; i < 200 && sent() == before; ++i) {
    clock_.Advance(absl::Milliseconds(10));
    engine_->RunDue();
    etcd_.Deliver();
  }
  ASSERT_EQ(sent(), before + 1) << "a put is in flight";
  bool done = false;
  engine_->Remove("a.b", Removal::kHandOver, [&](absl::Status) { done = true; });
  engine_->RunDue();
  EXPECT_FALSE(done) << "its answer has not arrived";
  Run(absl::Seconds(1));
  EXPECT_TRUE(done);
  Run(absl::Seconds(5));
  EXPECT_EQ(sent(), before + 1) << "no put after the one in flight";
}

TEST_F(HandOver, ShutdownWithRevokeLeavesAHandedOverLeaseToItsNewOwner) {
  StartWithGrace(absl::Seconds(30));
  ASSERT_TRUE(engine_->Upsert(Spec("a.kept")).ok());
  ASSERT_TRUE(engine_->Upsert(Spec("a.gone")).ok());
  Run(absl::Seconds(2));
  engine_->Remove("a.kept", Removal::kHandOver);
  Run(absl::Milliseconds(100));
  engine_->BeginShutdown(/*revoke=*/true);
  Run(absl::Milliseconds(200));
  EXPECT_TRUE(engine_->Drained());
  EXPECT_TRUE(etcd_.Get(Key("a.kept")).has_value());
  EXPECT_FALSE(etcd_.Get(Key("a.gone")).has_value());
}

TEST_F(HandOver, IsRefusedForASharedLeaseMember) {
  EngineOptions options;
  options.lease_mode = LeaseMode::kShared;
  Start(options);
  ASSERT_TRUE(engine_->Upsert(Spec("a.b", absl::Seconds(1), 6)).ok());
  Run(absl::Seconds(2));
  absl::Status result;
  engine_->Remove("a.b", Removal::kHandOver, [&](absl::Status s) { result = s; });
  EXPECT_EQ(result.code(), absl::StatusCode::kFailedPrecondition);
  const uint64_t count = Count("a.b");
  Run(absl::Seconds(3));
  EXPECT_GT(Count("a.b"), count) << "the heartbeat runs on";
}

}  // namespace
}  // namespace hb::heartbeat
