// LeaderElector on virtual time against the in-memory Kubernetes client.
#include "leader/leader_elector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "kubefake/fake_kube_client.h"
#include "support/clock_driver.h"

namespace hb::leader {
namespace {

// Candidates share a FakeClock that a ClockDriver moves from one wake-up to the next once
// every running candidate sleeps: pure virtual time, no step is skipped or blurred.
class Harness {
 public:
  LeaderElectionOptions Options(const std::string& identity) {
    LeaderElectionOptions o;
    o.identity = identity;
    o.lease_duration = absl::Seconds(15);
    o.renew_deadline = absl::Seconds(10);
    o.retry_period = absl::Seconds(2);
    o.jitter_seed = 1000 + static_cast<unsigned char>(identity[0]);
    return o;
  }
  FakeClock clock{absl::FromUnixSeconds(1800000000)};
  kubefake::FakeKubeClient kube{clock};
  testing::ClockDriver driver{clock, 1};
};

struct Candidate {
  Candidate(Harness& h, const std::string& id)
      : elector(h.kube, h.clock, h.Options(id),
                LeaderCallbacks{[this](absl::Time until) { Renewed(until); },
                                [this, &h] { Started(h.clock.Now()); },
                                [this] { stopped.fetch_add(1); }, nullptr}) {}
  void Renewed(absl::Time until) {
    absl::MutexLock lock(&mu);
    valid_until = until;
  }
  absl::Time ValidUntil() {
    absl::MutexLock lock(&mu);
    return valid_until;
  }
  void Started(absl::Time at) {
    absl::MutexLock lock(&mu);
    led_at = at;
    started.fetch_add(1);
  }
  // When it last became the leader, by the virtual clock (time runs on meanwhile).
  absl::Time LedAt() {
    absl::MutexLock lock(&mu);
    return led_at;
  }
  void Start() {
    thread = std::thread([this] { elector.Run(cancel); });
  }
  void Stop() {
    cancel.Cancel();
    if (thread.joinable()) thread.join();
  }
  ~Candidate() { Stop(); }
  LeaderElector elector;
  CancelToken cancel;
  std::thread thread;
  std::atomic<int> started{0}, stopped{0};
  absl::Mutex mu;
  absl::Time led_at ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  absl::Time valid_until ABSL_GUARDED_BY(mu) = absl::InfinitePast();
};

bool Eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 5000; ++i) {
    if (f()) return true;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return false;
}

const kube::ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", "default"};

TEST(LeaderElectorTest, OneLeaderAtATimeAndTheStandbyWaitsForTheLeaseToExpire) {
  Harness h;
  Candidate a(h, "a");
  a.Start();
  ASSERT_TRUE(Eventually([&] { return a.elector.IsLeader(); }));
  auto lease = h.kube.Object(kLeases, "heartbeat-operator");
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "a");
  EXPECT_EQ((*lease)["spec"]["leaseDurationSeconds"], 15);
  EXPECT_EQ((*lease)["spec"]["renewTime"].get<std::string>().size(), 27u) << "MicroTime";

  h.driver.SetParticipants(2);
  Candidate b(h, "b");
  b.Start();
  absl::Time standby_since = h.clock.Now();
  ASSERT_TRUE(Eventually([&] { return h.clock.Now() - standby_since > absl::Seconds(30); }));
  EXPECT_FALSE(b.elector.IsLeader()) << "a renews, so b never takes over";
  EXPECT_EQ(b.elector.Leader(), "a");

  // a dies without releasing: b takes over once a's renewals stop for the lease duration.
  h.driver.Pause();
  a.Stop();
  h.driver.SetParticipants(1);
  absl::Time died = h.clock.Now();
  h.driver.Resume();
  ASSERT_TRUE(Eventually([&] { return b.elector.IsLeader(); }));
  // a's last renewal was at most one retry period (2 s) before it died, so the lease runs
  // out 13 s after the death at the earliest. b notices the last renewal up to one jittered
  // retry (2.4 s) after it, waits the lease duration from then, and takes over at its next
  // attempt (another 2.4 s at most): 15 + 2.4 + 2.4 s.
  EXPECT_GE(b.LedAt() - died, absl::Seconds(13));
  EXPECT_LE(b.LedAt() - died, absl::Seconds(15) + absl::Milliseconds(2 * 2400));
  EXPECT_EQ(h.kube.Object(kLeases, "heartbeat-operator").value()["spec"]["leaseTransitions"], 1);
}

TEST(LeaderElectorTest, ReleaseHandsOverAtOnce) {
  Harness h;
  Candidate a(h, "a");
  a.Start();
  ASSERT_TRUE(Eventually([&] { return a.elector.IsLeader(); }));
  h.driver.SetParticipants(2);
  Candidate b(h, "b");
  b.Start();
  h.driver.Pause();
  a.Stop();
  a.elector.Release();
  h.driver.SetParticipants(1);
  absl::Time released = h.clock.Now();
  h.driver.Resume();
  ASSERT_TRUE(Eventually([&] { return b.elector.IsLeader(); }));
  EXPECT_LE(b.LedAt() - released, absl::Milliseconds(2400)) << "at b's next attempt";
}

TEST(LeaderElectorTest, ALeaderThatCannotRenewStopsLeading) {
  Harness h;
  Candidate a(h, "a");
  a.Start();
  ASSERT_TRUE(Eventually([&] { return a.elector.IsLeader(); }));
  h.driver.Pause();  // the failures begin at a defined virtual instant
  // a may be in the middle of an attempt that the last move of the clock woke: wait until
  // it sleeps again, so no attempt straddles the instant.
  ASSERT_TRUE(h.clock.AwaitSleepers(1, absl::Seconds(10)));
  absl::Time failing_since = h.clock.Now();
  h.kube.FailNext(kubefake::Verb::kGet, absl::UnavailableError("connection refused"), 1000);
  h.driver.Resume();
  ASSERT_TRUE(Eventually([&] { return a.stopped.load() == 1; }));
  // The last renewal was at most one retry period before the failures began; leadership
  // ends at the first failed attempt past the renew deadline. a's thread has ended, so
  // time stood still since.
  EXPECT_LE(h.clock.Now() - failing_since, absl::Seconds(10));
  EXPECT_GE(h.clock.Now() - failing_since, absl::Seconds(10) - absl::Seconds(2));
  EXPECT_FALSE(a.elector.IsLeader());
  EXPECT_EQ(a.started.load(), 1);
  // It may act only until the renew deadline of its last successful attempt, which began
  // at most one retry period before the failures: never as late as it stopped.
  EXPECT_LE(a.ValidUntil(), failing_since + absl::Seconds(10));
  EXPECT_GE(a.ValidUntil(), failing_since + absl::Seconds(8));
  EXPECT_LE(a.ValidUntil(), h.clock.Now());
}

TEST(LeaderElectorTest, ALeaderWokenPastItsRenewDeadlineStopsWithoutRenewing) {
  Harness h;
  Candidate a(h, "a");
  a.Start();
  ASSERT_TRUE(Eventually([&] { return a.elector.IsLeader(); }));
  ASSERT_TRUE(Eventually([&] { return a.ValidUntil() > h.clock.Now() + absl::Seconds(8); }));
  h.driver.Pause();
  // A renewal the last move of the clock woke may still be under way: read the permit and
  // the Lease only once a sleeps again (time stands still meanwhile).
  ASSERT_TRUE(h.clock.AwaitSleepers(1, absl::Seconds(10)));
  absl::Time until = a.ValidUntil();
  std::string renewed = h.kube.Object(kLeases, "heartbeat-operator").value()["spec"]["renewTime"];
  // The process is frozen for 20 s (SIGSTOP): its monotonic clock runs on meanwhile.
  h.clock.Advance(absl::Seconds(20));
  h.driver.Resume();
  ASSERT_TRUE(Eventually([&] { return a.stopped.load() == 1; }));
  EXPECT_EQ(h.kube.Object(kLeases, "heartbeat-operator").value()["spec"]["renewTime"], renewed)
      << "no renewal after the deadline passed";
  EXPECT_EQ(a.ValidUntil(), until) << "the permit was not extended";
}

}  // namespace
}  // namespace hb::leader
