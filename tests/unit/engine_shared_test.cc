// HeartbeatEngine in LeaseMode::kShared on virtual time against FakeEtcd: keys on a few
// leases, and everything that relied on a lease per key keeping its meaning (removal,
// deregistration, a TTL change, a lost lease, adoption, shutdown).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "heartbeat/engine.h"
#include "heartbeat/health_value.h"
#include "support/engine_fixture.h"

namespace hb::heartbeat {
namespace {

using etcd::FakeEtcd;

class SharedLeases : public EngineFixture {
 protected:
  static EngineOptions Shared(int leases) {
    EngineOptions options;
    options.lease_mode = LeaseMode::kShared;
    options.shared_leases = leases;
    return options;
  }
  static std::string Id(int i) { return absl::StrCat("fleet.cap", i); }
  void UpsertFleet(int n, absl::Duration interval = absl::Seconds(10), int64_t ttl = 30,
                   int from = 0) {
    for (int i = from; i < from + n; ++i) {
      ASSERT_TRUE(engine_->Upsert(Spec(Id(i), interval, ttl)).ok());
    }
  }
  // The leases the keys of capabilities [from, from + n) are on; 0 stands for a missing key.
  std::set<int64_t> LeasesOf(int n, int from = 0) {
    std::set<int64_t> leases;
    for (int i = from; i < from + n; ++i) {
      auto kv = etcd_.Get(Key(Id(i)));
      leases.insert(kv ? kv->lease : 0);
    }
    return leases;
  }
  int64_t DeletesOf(int n, int from = 0) {
    int64_t deletes = 0;
    for (int i = from; i < from + n; ++i) deletes += etcd_.deletes_of(Key(Id(i)));
    return deletes;
  }
  // Stops the engine leaving its leases to expire, and destroys it (a restart follows).
  void StopWithoutRevoking() {
    engine_->BeginShutdown(/*revoke=*/false);
    Run(absl::Seconds(1));
    ASSERT_TRUE(engine_->Drained());
    engine_.reset();
    etcd_.SetKeepAliveListener(nullptr);
  }
  int64_t LeaseOf(const std::string& id) {
    auto kv = etcd_.Get(Key(id));
    return kv ? kv->lease : 0;
  }
};

TEST_F(SharedLeases, AHundredKeysRideOnFourLeasesRenewedAtAThirdOfTheTtl) {
  Start(Shared(4));
  UpsertFleet(100);
  Run(absl::Seconds(2));
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 4);
  EXPECT_EQ(etcd_.live_leases(), 4);
  std::set<int64_t> leases = LeasesOf(100);
  EXPECT_EQ(leases.size(), 4u);
  EXPECT_EQ(leases.count(0), 0u) << "every key is written";
  auto value = ParseHealthValue(etcd_.Get(Key(Id(7)))->value);
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->lease_id, LeaseOf(Id(7))) << "the value names the lease its key is on";
  auto status = engine_->GetStatus(Id(7));
  EXPECT_EQ(status->health, Health::kHealthy);
  EXPECT_EQ(status->lease_id, LeaseOf(Id(7)));
  EXPECT_TRUE(status->lease_deadline.has_value());
  EXPECT_EQ(engine_->Gauges().leases_held, 4);
  EXPECT_EQ(engine_->Gauges().capabilities, 100);
  EXPECT_EQ(engine_->AllStatuses().size(), 100u) << "shared leases are not capabilities";

  int64_t keepalives = etcd_.keepalives();
  uint64_t count = Count(Id(7));
  Run(absl::Seconds(60));
  // Four leases renewed every 10 s (+/- 5 %), not a hundred.
  EXPECT_GE(etcd_.keepalives() - keepalives, 20);
  EXPECT_LE(etcd_.keepalives() - keepalives, 28);
  EXPECT_GE(Count(Id(7)), count + 5) << "every key still beats every interval";
  EXPECT_EQ(DeletesOf(100), 0);
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
}

TEST_F(SharedLeases, EachTtlHasLeasesOfItsOwn) {
  Start(Shared(2));
  UpsertFleet(20, absl::Seconds(5), 30);
  UpsertFleet(20, absl::Seconds(5), 20, 20);
  Run(absl::Seconds(2));
  std::set<int64_t> ttl30 = LeasesOf(20);
  std::set<int64_t> ttl20 = LeasesOf(20, 20);
  EXPECT_EQ(ttl30.size(), 2u);
  EXPECT_EQ(ttl20.size(), 2u);
  for (int64_t lease : ttl30) EXPECT_EQ(ttl20.count(lease), 0u);
  EXPECT_EQ(etcd_.live_leases(), 4);
}

TEST_F(SharedLeases, ALostLeaseBringsBackAllItsKeysAtOnceAndTouchesNoOther) {
  EngineOptions options = Shared(2);
  options.max_batch = 128;
  Start(options);
  std::set<std::string> reported_lost;  // capabilities whose status said LeaseLost
  engine_->AddChangeHook([&](const std::string& id) {
    auto status = engine_->GetStatus(id);
    if (status && status->health == Health::kLeaseLost) reported_lost.insert(id);
  });
  UpsertFleet(400, absl::Seconds(10), 30);
  Run(absl::Seconds(2));
  int64_t lost = LeaseOf(Id(0));
  std::vector<std::string> on_lost;
  std::vector<std::string> others;
  for (int i = 0; i < 400; ++i) (LeaseOf(Id(i)) == lost ? on_lost : others).push_back(Id(i));
  ASSERT_GT(on_lost.size(), 100u);
  ASSERT_GT(others.size(), 100u);

  bool revoked = false;
  etcd_.LeaseRevoke(lost, [&](absl::Status s) { revoked = s.ok(); });  // from outside
  etcd_.Deliver();
  ASSERT_TRUE(revoked);
  ASSERT_FALSE(etcd_.Get(Key(on_lost[0])).has_value()) << "etcd deleted its keys";
  int64_t batches = etcd_.calls(FakeEtcd::Op::kPutBatch);
  int64_t singles = etcd_.calls(FakeEtcd::Op::kPut);

  // Found by the next keep-alive (at most TTL/3) or put refused (at most an interval).
  absl::Duration took;
  for (took = absl::ZeroDuration(); took < absl::Seconds(12); took += absl::Milliseconds(100)) {
    Run(absl::Milliseconds(100));
    bool all = true;
    for (const std::string& id : on_lost) all = all && etcd_.Get(Key(id)).has_value();
    if (all) break;
  }
  ASSERT_LT(took, absl::Seconds(12)) << "the keys did not come back";
  int64_t successor = LeaseOf(on_lost[0]);
  EXPECT_NE(successor, lost);
  for (const std::string& id : on_lost) EXPECT_EQ(LeaseOf(id), successor) << id;
  for (const std::string& id : others) EXPECT_EQ(etcd_.deletes_of(Key(id)), 0) << id;
  // Each capability of the lost lease said so in its status until its key was back; no other.
  EXPECT_EQ(reported_lost, std::set<std::string>(on_lost.begin(), on_lost.end()));
  EXPECT_EQ(engine_->stats().leases_lost.load(), 1u);
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 3);
  // The re-puts went in batches of up to 128 (the routine beats of the others beside them),
  // not one call per key.
  EXPECT_LT(
      etcd_.calls(FakeEtcd::Op::kPutBatch) - batches + etcd_.calls(FakeEtcd::Op::kPut) - singles,
      static_cast<int64_t>(on_lost.size()) / 4);
  for (const std::string& id : on_lost) {
    EXPECT_EQ(engine_->GetStatus(id)->health, Health::kHealthy) << id;
  }
}

TEST_F(SharedLeases, ATtlChangeMovesTheKeyToALeaseOfThatTtlWithoutDeletingIt) {
  Start(Shared(1));
  UpsertFleet(3, absl::Seconds(5), 30);
  Run(absl::Seconds(2));
  int64_t old = LeaseOf(Id(0));
  ASSERT_TRUE(engine_->Upsert(Spec(Id(0), absl::Seconds(5), 20)).ok());
  Run(absl::Seconds(2));
  EXPECT_NE(LeaseOf(Id(0)), old);
  EXPECT_EQ(ParseHealthValue(etcd_.Get(Key(Id(0)))->value)->ttl_seconds, 20);
  EXPECT_EQ(LeaseOf(Id(1)), old) << "the others stay";
  EXPECT_TRUE(etcd_.LeaseAlive(old));
  EXPECT_EQ(DeletesOf(3), 0);
  EXPECT_EQ(engine_->stats().leases_lost.load(), 0u);
}

TEST_F(SharedLeases, RemovalDeletesTheKeyAndTheLeaseLivesOnForTheOthers) {
  Start(Shared(1));
  UpsertFleet(3);
  Run(absl::Seconds(2));
  int64_t lease = LeaseOf(Id(0));
  absl::Status removed = absl::UnknownError("not called");
  engine_->Remove(Id(0), HeartbeatEngine::Removal::kDeleteKey,
                  [&](absl::Status s) { removed = std::move(s); });
  // A removal that would leave the key to expire cannot: the lease is renewed for the others.
  engine_->Remove(Id(1), HeartbeatEngine::Removal::kLetExpire);
  Run(absl::Seconds(1));
  EXPECT_TRUE(removed.ok()) << removed;
  EXPECT_FALSE(etcd_.Get(Key(Id(0))).has_value());
  EXPECT_FALSE(etcd_.Get(Key(Id(1))).has_value());
  EXPECT_EQ(LeaseOf(Id(2)), lease);
  EXPECT_TRUE(etcd_.LeaseAlive(lease));
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kRevoke), 0);
  Run(absl::Seconds(40));
  EXPECT_FALSE(etcd_.Get(Key(Id(0))).has_value()) << "no put brought it back";
  EXPECT_EQ(etcd_.deletes_of(Key(Id(2))), 0);
}

TEST_F(SharedLeases, ARemovalWhileAPutIsInFlightDeletesAgainAfterItsAnswer) {
  Start(Shared(1));
  UpsertFleet(2, absl::Seconds(1), 5);
  Run(absl::Seconds(2));
  etcd_.SetLatency(absl::Milliseconds(300));
  for (int i = 0; i < 200 && engine_->Gauges().in_flight == 0; ++i) {
    Run(absl::Milliseconds(10), absl::Milliseconds(10));
  }
  ASSERT_GT(engine_->Gauges().in_flight, 0) << "no put in flight to race with";
  int64_t deletes = etcd_.calls(FakeEtcd::Op::kDelete);
  int done = 0;
  engine_->Remove(Id(0), HeartbeatEngine::Removal::kDeleteKey, [&](absl::Status s) {
    EXPECT_TRUE(s.ok()) << s;
    ++done;
  });
  engine_->Remove(Id(1), HeartbeatEngine::Removal::kDeleteKey, [&](absl::Status s) {
    EXPECT_TRUE(s.ok()) << s;
    ++done;
  });
  Run(absl::Seconds(2));
  EXPECT_EQ(done, 2);
  // One deletion each, and one more for whichever put was in flight.
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kDelete) - deletes, 3);
  EXPECT_FALSE(etcd_.Get(Key(Id(0))).has_value());
  EXPECT_FALSE(etcd_.Get(Key(Id(1))).has_value());
}

TEST_F(SharedLeases, DeregistrationDeletesTheKeyAndRegistrationPutsItBackOnTheSameLease) {
  Start(Shared(1));
  UpsertFleet(2);
  Run(absl::Seconds(2));
  int64_t lease = LeaseOf(Id(0));
  check::CheckReport failing;
  failing.kind = check::CheckKind::kHttp;
  failing.status = check::CheckStatus::kFailing;
  failing.checks = 5;
  failing.deregistered = true;
  engine_->SetCheck(Id(0), failing);
  Run(absl::Seconds(1));
  EXPECT_FALSE(etcd_.Get(Key(Id(0))).has_value());
  EXPECT_EQ(engine_->GetStatus(Id(0))->health, Health::kDeregistered);
  EXPECT_TRUE(etcd_.LeaseAlive(lease));
  EXPECT_EQ(LeaseOf(Id(1)), lease);

  check::CheckReport passing = failing;
  passing.status = check::CheckStatus::kPassing;
  passing.deregistered = false;
  engine_->SetCheck(Id(0), passing);
  Run(absl::Seconds(1));
  EXPECT_EQ(LeaseOf(Id(0)), lease);
  EXPECT_EQ(engine_->GetStatus(Id(0))->health, Health::kHealthy);
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 1);
}

TEST_F(SharedLeases, ARestartedEngineAdoptsTheSharedLeasesFromTheKeys) {
  Start(Shared(4));
  UpsertFleet(60);
  Run(absl::Seconds(2));
  std::vector<int64_t> before;
  for (int i = 0; i < 60; ++i) before.push_back(LeaseOf(Id(i)));
  StopWithoutRevoking();
  int64_t grants = etcd_.calls(FakeEtcd::Op::kGrant);

  Start(Shared(4));
  UpsertFleet(60);
  Run(absl::Seconds(3));
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), grants) << "nothing granted";
  for (int i = 0; i < 60; ++i) EXPECT_EQ(LeaseOf(Id(i)), before[i]) << Id(i);
  EXPECT_EQ(engine_->stats().leases_adopted.load(), 4u);
  EXPECT_EQ(DeletesOf(60), 0);
  Run(absl::Seconds(60));
  EXPECT_EQ(DeletesOf(60), 0) << "the adopted leases are renewed";
  EXPECT_EQ(etcd_.live_leases(), 4);
}

TEST_F(SharedLeases, KeysFoundOnLeasesOfTheirOwnMoveOntoTheSharedOnesWithoutAGap) {
  Start();  // a lease per capability
  UpsertFleet(12);
  Run(absl::Seconds(2));
  ASSERT_EQ(LeasesOf(12).size(), 12u);
  StopWithoutRevoking();

  Start(Shared(2));
  UpsertFleet(12);
  Run(absl::Seconds(5));
  EXPECT_EQ(LeasesOf(12).size(), 2u) << "two shared leases carry every key";
  EXPECT_EQ(LeasesOf(12).count(0), 0u);
  EXPECT_EQ(etcd_.live_leases(), 2) << "the leases left behind are revoked";
  EXPECT_EQ(DeletesOf(12), 0);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(engine_->GetStatus(Id(i))->health, Health::kHealthy);
}

TEST_F(SharedLeases, KeysOnASharedLeaseMoveToLeasesOfTheirOwnWithoutAGap) {
  Start(Shared(1));
  UpsertFleet(5);
  Run(absl::Seconds(2));
  ASSERT_EQ(LeasesOf(5).size(), 1u);
  StopWithoutRevoking();

  Start();  // back to a lease per capability
  UpsertFleet(5);
  Run(absl::Seconds(5));
  EXPECT_EQ(LeasesOf(5).size(), 5u);
  EXPECT_EQ(LeasesOf(5).count(0), 0u);
  EXPECT_EQ(DeletesOf(5), 0);
}

TEST_F(SharedLeases, ShutdownRevokesTheSharedLeasesOnly) {
  Start(Shared(4));
  UpsertFleet(50);
  Run(absl::Seconds(2));
  engine_->BeginShutdown(/*revoke=*/true);
  Run(absl::Seconds(1));
  EXPECT_TRUE(engine_->Drained());
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kRevoke), 4);
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kDelete), 0);
  EXPECT_EQ(etcd_.live_leases(), 0);
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(etcd_.Get(Key(Id(i))).has_value());
}

TEST_F(SharedLeases, WhenTheProcessStopsRenewingEveryKeyExpiresWithinItsTtl) {
  Start(Shared(2));
  UpsertFleet(20, absl::Seconds(2), 6);
  Run(absl::Seconds(2));
  StopWithoutRevoking();  // then nothing renews the leases, as if the process were killed
  clock_.Advance(absl::Seconds(6));
  etcd_.Deliver();
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(etcd_.Get(Key(Id(i))).has_value()) << Id(i);
}

}  // namespace
}  // namespace hb::heartbeat
