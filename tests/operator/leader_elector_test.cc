// LeaderElector on virtual time against the in-memory Kubernetes client.
#include "leader/leader_elector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "kubefake/fake_kube_client.h"

namespace hb::leader {
namespace {

// Candidates share a FakeClock; each sleep advances it a little at a time and yields, so
// several candidates interleave on virtual time.
class Harness {
 public:
  LeaderElectionOptions Options(const std::string& identity) {
    LeaderElectionOptions o;
    o.identity = identity;
    o.lease_duration = absl::Seconds(15);
    o.renew_deadline = absl::Seconds(10);
    o.retry_period = absl::Seconds(2);
    o.sleep = [this](absl::Duration d, const kube::CancelToken& cancel) {
      absl::Time until = clock.Now() + d;
      while (clock.Now() < until && !cancel.IsCancelled()) {
        {
          absl::MutexLock lock(&mu);
          if (clock.Now() < until) clock.Advance(absl::Milliseconds(100));
        }
        cancel.WaitForCancel(absl::Microseconds(200));
      }
    };
    return o;
  }
  FakeClock clock{absl::FromUnixSeconds(1800000000)};
  absl::Mutex mu;
  kubefake::FakeKubeClient kube{clock};
};

struct Candidate {
  Candidate(Harness& h, const std::string& id)
      : elector(h.kube, h.clock, h.Options(id),
                LeaderCallbacks{[this] { started.fetch_add(1); }, [this] { stopped.fetch_add(1); },
                                nullptr}) {}
  void Start() {
    thread = std::thread([this] { elector.Run(cancel); });
  }
  void Stop() {
    cancel.Cancel();
    if (thread.joinable()) thread.join();
  }
  ~Candidate() { Stop(); }
  LeaderElector elector;
  kube::CancelToken cancel;
  std::thread thread;
  std::atomic<int> started{0}, stopped{0};
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

  Candidate b(h, "b");
  b.Start();
  absl::Time standby_since = h.clock.Now();
  ASSERT_TRUE(Eventually([&] { return h.clock.Now() - standby_since > absl::Seconds(30); }));
  EXPECT_FALSE(b.elector.IsLeader()) << "a renews, so b never takes over";
  EXPECT_EQ(b.elector.Leader(), "a");

  // a dies without releasing: b takes over once a's renewals stop for the lease duration.
  a.cancel.Cancel();
  a.thread.join();
  absl::Time died = h.clock.Now();
  ASSERT_TRUE(Eventually([&] { return b.elector.IsLeader(); }));
  // a's last renewal was at most one retry period (2 s) before it died, so the lease runs
  // out 13 s after the death at the earliest. b notices the last renewal up to one jittered
  // retry (2.4 s) after it, waits the lease duration from then, and takes over at its next
  // attempt (another 2.4 s at most): 15 + 2.4 + 2.4 s, plus the harness's 100 ms steps.
  EXPECT_GE(h.clock.Now() - died, absl::Seconds(13));
  EXPECT_LE(h.clock.Now() - died, absl::Seconds(15) + absl::Milliseconds(2 * 2400 + 200));
  EXPECT_EQ(h.kube.Object(kLeases, "heartbeat-operator").value()["spec"]["leaseTransitions"], 1);
}

TEST(LeaderElectorTest, ReleaseHandsOverAtOnce) {
  Harness h;
  Candidate a(h, "a");
  a.Start();
  ASSERT_TRUE(Eventually([&] { return a.elector.IsLeader(); }));
  Candidate b(h, "b");
  b.Start();
  a.Stop();
  a.elector.Release();
  absl::Time released = h.clock.Now();
  ASSERT_TRUE(Eventually([&] { return b.elector.IsLeader(); }));
  EXPECT_LE(h.clock.Now() - released, absl::Seconds(3));
}

TEST(LeaderElectorTest, ALeaderThatCannotRenewStopsLeading) {
  Harness h;
  Candidate a(h, "a");
  a.Start();
  ASSERT_TRUE(Eventually([&] { return a.elector.IsLeader(); }));
  h.kube.FailNext(kubefake::Verb::kGet, absl::UnavailableError("connection refused"), 1000);
  ASSERT_TRUE(Eventually([&] { return a.stopped.load() == 1; }));
  EXPECT_FALSE(a.elector.IsLeader());
  EXPECT_EQ(a.started.load(), 1);
}

}  // namespace
}  // namespace hb::leader
