// Two controller replicas under faults of the leader or the API server: the leader frozen
// and woken, the API server frozen, the leader cut off from the API server. An etcd watch of
// /chora/ sees every health write and every take of the leader fence; the audit asserts that
// no key was deleted, no lease replaced, and every write came from the fence's holder.
#include <signal.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_replace.h"
#include "controller_fixture.h"
#include "support/fault_proxy.h"
#include "support/watch_audit.h"

namespace hb::testing {
namespace {

constexpr int kCapabilities = 8;
constexpr char kFenceKey[] = "/chora/leader/default/heartbeat-operator";
constexpr absl::Duration kRenewDeadline = absl::Seconds(3);  // the fixture's replicas

class LeaderFaults : public ControllerE2E {
 protected:
  void SetUp() override {
    ControllerE2E::SetUp();
    if (HasFatalFailure()) return;
    etcd_->StartWatch("/chora/");
  }

  // kCapabilities Capabilities at interval 1 s, TTL 20 s; waits until every key is written.
  void ApplyCapabilities() {
    std::string yaml;
    for (int i = 0; i < kCapabilities; ++i) {
      absl::StrAppend(&yaml, i > 0 ? "---\n" : "",
                      Capability(absl::StrCat("lf-", i),
                                 absl::StrCat("  identifier: chora.lf.n", i,
                                              "\n  heartbeat: {intervalSeconds: 1, ttlSeconds: "
                                              "20}\n")));
    }
    Apply(yaml);
    ASSERT_TRUE(WaitFor([&] { return static_cast<int>(HealthKeys().size()) == kCapabilities; },
                        absl::Seconds(30)));
    for (int i = 0; i < kCapabilities; ++i) {
      leases_[Id(i)] = etcd_->Meta(Key(Id(i))).lease;
    }
  }
  static std::string Id(int i) { return absl::StrCat("chora.lf.n", i); }

  // Starts two replicas and returns {leader, standby} once one leads and writes.
  std::pair<std::string, std::string> StartPair(const std::string& a_kubeconfig = "") {
    replicas_["lf-a"] = StartReplica("lf-a", {}, a_kubeconfig);
    EXPECT_TRUE(WaitFor([&] { return LeaseHolder().rfind("lf-a_", 0) == 0; }, absl::Seconds(15)))
        << replicas_["lf-a"].process->Output();
    replicas_["lf-b"] = StartReplica("lf-b");
    EXPECT_TRUE(
        WaitFor([&] { return HttpGet(replicas_["lf-b"].health_port, "/readyz").first == 200; },
                absl::Seconds(15)));
    return {"lf-a", "lf-b"};
  }

  // Every key is written by `writer` again (it leads and adopted).
  bool AllWrittenBy(const std::string& writer, absl::Duration timeout) {
    return WaitFor(
        [&] {
          WatchAudit audit =
              WatchAudit::Of(etcd_->WatchEvents(), "/chora/capabilities/", kFenceKey);
          for (int i = 0; i < kCapabilities; ++i) {
            if (audit.last_writer[Key(Id(i))] != writer) return false;
          }
          return true;
        },
        timeout);
  }

  // The audit of the whole run; records the summary row and checks what must always hold.
  WatchAudit Audit(const std::string& scenario) {
    WatchAudit audit = WatchAudit::Of(etcd_->WatchEvents(), "/chora/capabilities/", kFenceKey);
    int lost = 0;
    for (int i = 0; i < kCapabilities; ++i) lost += Present(Id(i)) ? 0 : 1;
    RecordFaultSummary(scenario, lost, audit);
    EXPECT_EQ(lost, 0);
    EXPECT_EQ(audit.deletes, 0);
    EXPECT_EQ(audit.foreign_writes, 0) << audit.first_foreign;
    EXPECT_EQ(audit.lease_changes, 0) << "the new leader adopts every live key";
    for (int i = 0; i < kCapabilities; ++i) {
      EXPECT_EQ(etcd_->Meta(Key(Id(i))).lease, leases_[Id(i)]) << Id(i);
    }
    return audit;
  }

  std::string Logs() {
    std::string out;
    for (auto& [name, r] : replicas_) {
      absl::StrAppend(&out, "--- ", name, "\n", r.process->Output());
    }
    return out;
  }

  std::map<std::string, Replica> replicas_;
  std::map<std::string, int64_t> leases_;
};

TEST_F(LeaderFaults, ALeaderFrozenPastItsLeaseNeitherWritesOnWakingNorLosesAKey) {
  auto [leader, standby] = StartPair();
  ApplyCapabilities();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(AllWrittenBy(leader, absl::Seconds(10))) << Logs();

  replicas_[leader].process->Signal(SIGSTOP);
  ASSERT_TRUE(AllWrittenBy(standby, absl::Seconds(20))) << Logs();
  absl::SleepFor(absl::Seconds(10) - absl::Seconds(6));  // frozen 10 s in all, at least
  size_t events_before_wake = etcd_->WatchEvents().size();
  replicas_[leader].process->Signal(SIGCONT);

  // Woken, it finds its permit over and its fence taken: it exits without writing.
  EXPECT_EQ(replicas_[leader].process->Wait(absl::Seconds(15)), 1) << Logs();
  auto after = etcd_->WatchEvents();
  for (size_t i = events_before_wake; i < after.size(); ++i) {
    EXPECT_EQ(after[i].value.find("\"writer\":\"" + leader + "\""), std::string::npos)
        << "a write by the woken leader: " << after[i].key;
  }
  int64_t count = Count(Id(0));
  ASSERT_TRUE(WaitFor([&] { return Count(Id(0)) > count + 2; }, absl::Seconds(10)));
  WatchAudit audit = Audit("leader SIGSTOP 10 s, SIGCONT (2 replicas)");
  EXPECT_EQ(audit.fence_holders, (std::vector<std::string>{leader, standby}));
}

TEST_F(LeaderFaults, AnApiServerFrozenAndThawedLeavesOneWriterAndEveryKey) {
  auto [leader, standby] = StartPair();
  ApplyCapabilities();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(AllWrittenBy(leader, absl::Seconds(10))) << Logs();

  kube_->Signal(SIGSTOP);
  // The leader cannot renew: it stops writing at its renew deadline and exits.
  absl::Time frozen = absl::Now();
  EXPECT_EQ(replicas_[leader].process->Wait(absl::Seconds(15)), 1) << Logs();
  WatchAudit during = WatchAudit::Of(etcd_->WatchEvents(), "/chora/capabilities/", kFenceKey);
  for (const auto& [key, beat] : during.last_beat) {
    EXPECT_LE(beat - frozen, kRenewDeadline + absl::Milliseconds(500))
        << key << ": written after the permit ended";
  }
  absl::SleepFor(absl::Seconds(8) - (absl::Now() - frozen));
  kube_->Signal(SIGCONT);

  ASSERT_TRUE(AllWrittenBy(standby, absl::Seconds(20))) << Logs();
  WatchAudit audit = Audit("API server SIGSTOP 8 s, SIGCONT (2 replicas)");
  EXPECT_EQ(audit.fence_holders, (std::vector<std::string>{leader, standby}));
}

TEST_F(LeaderFaults, ALeaderCutOffFromTheApiServerStopsWritingAtItsRenewDeadline) {
  // lf-a reaches the API server through a proxy that will swallow everything.
  auto proxy = FaultProxy::Start(absl::StrCat("127.0.0.1:", kube_->port()), dir_);
  ASSERT_NE(proxy, nullptr);
  std::ifstream in(kube_->kubeconfig_path());
  std::stringstream text;
  text << in.rdbuf();
  std::string proxied = dir_ + "/kubeconfig-proxied";
  std::ofstream(proxied) << absl::StrReplaceAll(
      text.str(), {{kube_->server_url(), "http://" + proxy->endpoint()}});
  auto [leader, standby] = StartPair(proxied);
  ApplyCapabilities();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(AllWrittenBy(leader, absl::Seconds(10))) << Logs();

  ASSERT_TRUE(proxy->Blackhole());
  absl::Time cut = absl::Now();
  ASSERT_TRUE(AllWrittenBy(standby, absl::Seconds(20))) << Logs();
  EXPECT_EQ(replicas_[leader].process->Wait(absl::Seconds(15)), 1) << Logs();
  // etcd stayed reachable for the old leader all along: only its permit stopped it.
  WatchAudit audit = Audit("leader cut off from the API server (proxy blackhole)");
  EXPECT_EQ(audit.fence_holders, (std::vector<std::string>{leader, standby}));
  auto events = etcd_->WatchEvents();
  absl::Time last_by_leader = absl::InfinitePast();
  for (const auto& e : events) {
    auto value = heartbeat::ParseHealthValue(e.value);
    if (!e.deleted && value.ok() && value->writer == leader) {
      last_by_leader = std::max(last_by_leader, value->timestamp);
    }
  }
  EXPECT_LE(last_by_leader - cut, kRenewDeadline + absl::Milliseconds(500))
      << "the leader wrote after its renew deadline";
}

}  // namespace
}  // namespace hb::testing
