// FencedEtcdClient on a FakeEtcd and a FakeClock: a replica writes only while its permit
// runs and its fencing token is the latest; a replica that was replaced writes nothing.
#include "etcd/fenced_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "common/clock.h"
#include "etcd/fake_etcd.h"

namespace hb::etcd {
namespace {

constexpr char kFenceKey[] = "/chora/leader/default/heartbeat-operator";

PutRequest Beat(const std::string& id, int64_t lease = 0) {
  return PutRequest{"/chora/capabilities/" + id + "/health", "{\"status\":\"healthy\"}", lease};
}

class FencedClientTest : public ::testing::Test {
 protected:
  FencedClientTest() { etcd_.SetAutoDeliver(true); }

  // Takes the fence for `client` with a permit of `permit` from now.
  absl::Status Take(FencedEtcdClient& client, const std::string& holder,
                    absl::Duration permit = absl::Seconds(10)) {
    client.PermitUntil(clock_.Now() + permit);
    absl::Status result = absl::UnknownError("no answer");
    client.Take(kFenceKey, holder, [&](absl::Status s) { result = s; });
    etcd_.Deliver();
    return result;
  }
  absl::Status Revoke(FencedEtcdClient& client, int64_t lease) {
    absl::Status result = absl::UnknownError("no answer");
    client.LeaseRevoke(lease, [&](absl::Status s) { result = s; });
    etcd_.Deliver();
    return result;
  }

  FakeClock clock_;
  FakeEtcd etcd_{clock_};
};

TEST_F(FencedClientTest, NothingIsWrittenBeforeTheFenceIsTakenOrAfterThePermitEnds) {
  FencedEtcdClient a(etcd_, clock_);
  EXPECT_EQ(PutSync(a, Beat("x.y")).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(etcd_.keys_written(), 0);

  ASSERT_TRUE(Take(a, "a").ok());
  EXPECT_EQ(a.state(), FencedEtcdClient::State::kHeld);
  EXPECT_EQ(a.token(), etcd_.Get(kFenceKey)->mod_revision);
  ASSERT_TRUE(PutSync(a, Beat("x.y")).ok());
  EXPECT_TRUE(etcd_.Get(Beat("x.y").key).has_value());

  // The permit ends 10 s after it was given, on the monotonic clock.
  clock_.Advance(absl::Seconds(10));
  int64_t written = etcd_.keys_written();
  auto late = PutSync(a, Beat("x.y"));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition) << late.status();
  EXPECT_FALSE(IsFenced(late.status())) << "refused locally, not by etcd";
  EXPECT_EQ(etcd_.keys_written(), written);
  EXPECT_FALSE(a.Writable());

  a.PermitUntil(clock_.Now() + absl::Seconds(10));  // renewed
  EXPECT_TRUE(PutSync(a, Beat("x.y")).ok());
  a.EndPermit();
  EXPECT_FALSE(PutSync(a, Beat("x.y")).ok());
}

TEST_F(FencedClientTest, AReplicaThatTakesTheFenceMakesEveryWriteOfTheOldOneFailAtomically) {
  FencedEtcdClient a(etcd_, clock_);
  FencedEtcdClient b(etcd_, clock_);
  std::atomic<int> stale{0};
  std::string stale_holder;
  a.SetStaleHook([&](const std::string& holder) {
    stale_holder = holder;
    stale.fetch_add(1);
  });
  ASSERT_TRUE(Take(a, "a").ok());
  int64_t lease = LeaseGrantSync(a, 30)->id;
  ASSERT_TRUE(PutSync(a, Beat("x.y", lease)).ok());

  // a is paused; b becomes the leader and takes the fence (and adopts a's lease).
  ASSERT_TRUE(Take(b, "b").ok());
  ASSERT_TRUE(PutSync(b, Beat("x.y", lease)).ok());
  int64_t written = etcd_.keys_written();

  // a wakes with a permit it still believes in: its batch fails as a whole.
  auto batch = std::vector<PutRequest>{Beat("x.y", lease), Beat("p.q")};
  absl::Status result;
  a.PutBatch(batch, [&](absl::StatusOr<PutResult> r) { result = r.status(); });
  etcd_.Deliver();
  EXPECT_TRUE(IsFenced(result)) << result;
  EXPECT_EQ(etcd_.keys_written(), written);
  EXPECT_FALSE(etcd_.Get(Beat("p.q").key).has_value());
  EXPECT_EQ(stale.load(), 1);
  EXPECT_EQ(stale_holder, "b");
  EXPECT_EQ(a.state(), FencedEtcdClient::State::kStale);

  // From now on a sends nothing: no write, no revoke of the lease b adopted, no keep-alive.
  int64_t fenced_calls = etcd_.calls(FakeEtcd::Op::kFencedWrite);
  int64_t keepalives = etcd_.keepalives();
  EXPECT_TRUE(IsFenced(PutSync(a, Beat("x.y", lease)).status()));
  EXPECT_TRUE(IsFenced(Revoke(a, lease)));
  a.KeepAlive(lease);
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kFencedWrite), fenced_calls);
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kRevoke), 0);
  EXPECT_EQ(etcd_.keepalives(), keepalives);
  EXPECT_TRUE(etcd_.LeaseAlive(lease));
  EXPECT_EQ(stale.load(), 1) << "reported once";
}

TEST_F(FencedClientTest, GrantsAndRevokesWaitForAFenceCheckThatStartedAfterThem) {
  FencedEtcdClient a(etcd_, clock_);
  FencedEtcdClient b(etcd_, clock_);
  ASSERT_TRUE(Take(a, "a").ok());
  int64_t lease = LeaseGrantSync(a, 30)->id;
  etcd_.SetAutoDeliver(false);
  int64_t checks = etcd_.calls(FakeEtcd::Op::kFencedWrite);

  // The first grant starts a check; the next two, asked while it is in flight, wait for a
  // check of their own (one, shared).
  std::atomic<int> granted{0}, refused{0};
  for (int i = 0; i < 3; ++i) {
    a.LeaseGrant(
        30, [&](absl::StatusOr<GrantedLease> g) { (g.ok() ? granted : refused).fetch_add(1); });
  }
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kFencedWrite), checks + 1);
  // While that check is in flight, b takes the fence and a asks for a revoke: the check in
  // flight (made before b took over) vouches only for the first grant; the next check,
  // made after, refuses the other two grants and the revoke.
  etcd_.SetAutoDeliver(true);
  ASSERT_TRUE(Take(b, "b").ok());
  etcd_.SetAutoDeliver(false);
  absl::Status revoked = absl::UnknownError("no answer");
  a.LeaseRevoke(lease, [&](absl::Status s) { revoked = s; });
  for (int i = 0; i < 10 && etcd_.Deliver() > 0; ++i) {
  }
  EXPECT_EQ(granted.load(), 1) << "etcd ordered that check before b's fence";
  EXPECT_EQ(refused.load(), 2);
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kGrant), 2) << "the first lease and the first grant";
  EXPECT_TRUE(IsFenced(revoked)) << revoked;
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kRevoke), 0);
  EXPECT_TRUE(etcd_.LeaseAlive(lease));
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kFencedWrite), checks + 1 + 1 + 1)
      << "a's two checks and b's take";
}

TEST_F(FencedClientTest, AFenceKeyLostWithEtcdsDataIsTakenAgainWhileThePermitRuns) {
  FencedEtcdClient a(etcd_, clock_);
  std::atomic<int> stale{0};
  a.SetStaleHook([&](const std::string&) { stale.fetch_add(1); });
  ASSERT_TRUE(Take(a, "a").ok());
  etcd_.Wipe();  // etcd restarted on an empty data directory
  auto first = PutSync(a, Beat("x.y"));
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable) << first.status();
  etcd_.Deliver();
  EXPECT_EQ(a.state(), FencedEtcdClient::State::kHeld);
  EXPECT_TRUE(PutSync(a, Beat("x.y")).ok());
  EXPECT_EQ(etcd_.Get(kFenceKey)->value, "a");
  EXPECT_EQ(stale.load(), 0);
}

TEST_F(FencedClientTest, APassthroughClientWritesStraightToEtcd) {
  auto client = FencedEtcdClient::Passthrough(etcd_, clock_);
  EXPECT_TRUE(PutSync(*client, Beat("x.y")).ok());
  EXPECT_TRUE(LeaseGrantSync(*client, 10).ok());
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kPut), 1);
  EXPECT_EQ(etcd_.calls(FakeEtcd::Op::kFencedWrite), 0);
  EXPECT_TRUE(client->Writable());
}

}  // namespace
}  // namespace hb::etcd
