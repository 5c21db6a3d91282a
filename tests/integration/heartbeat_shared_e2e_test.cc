// `heartbeat --lease-mode shared` against a real etcd, audited on an etcd watch: the keys
// ride on a few leases, a lost shared lease brings its keys back on its successor, a restart
// adopts the shared leases (no DELETE, the same lease ids), and after a SIGKILL every key
// expires within its TTL.
#include <signal.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "e2e_fixture.h"

namespace hb::testing {
namespace {

constexpr int kCapabilities = 40;

class SharedLeaseE2E : public HeartbeatE2E {
 protected:
  static std::string Id(int i) { return absl::StrCat("shared.cap", i); }
  static std::vector<std::string> Args(int ttl, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--lease-mode", "shared", "--shared-leases", "4",
        "--interval",   "1",      "--ttl",           std::to_string(ttl)};
    for (int i = 0; i < kCapabilities; ++i) {
      args.push_back("--namespace");
      args.push_back(Id(i));
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  // Lease of each capability's key (0: absent).
  std::map<std::string, int64_t> Leases() {
    std::map<std::string, int64_t> leases;
    for (int i = 0; i < kCapabilities; ++i) leases[Id(i)] = etcd_->Meta(Key(Id(i))).lease;
    return leases;
  }
  static std::set<int64_t> Distinct(const std::map<std::string, int64_t>& leases) {
    std::set<int64_t> distinct;
    for (const auto& [id, lease] : leases) distinct.insert(lease);
    return distinct;
  }
  bool AllPresent() {
    for (int i = 0; i < kCapabilities; ++i) {
      if (!Present(Id(i))) return false;
    }
    return true;
  }
  int AllDeletes() {
    int n = 0;
    for (int i = 0; i < kCapabilities; ++i) n += Deletes(Id(i));
    return n;
  }
};

TEST_F(SharedLeaseE2E, KeysRideOnFourLeasesAndALostOneComesBackOnItsSuccessor) {
  etcd_->StartWatch("/chora/capabilities/");
  Process& hb = StartHeartbeat(Args(6));
  ASSERT_TRUE(WaitFor([&] { return AllPresent(); }, absl::Seconds(5))) << hb.Output();
  std::map<std::string, int64_t> leases = Leases();
  std::set<int64_t> distinct = Distinct(leases);
  EXPECT_EQ(distinct.size(), 4u) << "40 keys on the 4 shared leases";
  EXPECT_EQ(distinct.count(0), 0u);

  // The lease of the first key goes (revoked behind the operator's back): etcd deletes its
  // keys; the operator finds out by the next keep-alive or refused put and re-puts them all.
  int64_t lost = leases[Id(0)];
  std::vector<std::string> on_lost;
  for (const auto& [id, lease] : leases) {
    if (lease == lost) on_lost.push_back(id);
  }
  absl::Time revoked = absl::Now();
  CommandResult revoke = etcd_->Etcdctl({"lease", "revoke", absl::StrFormat("%x", lost)});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.output;
  ASSERT_TRUE(WaitFor([&] { return AllPresent(); }, absl::Seconds(6))) << hb.Output();
  absl::Duration back = absl::Now() - revoked;
  std::printf("# figure: %zu keys of a revoked shared lease all back in %.2f s (interval 1 s)\n",
              on_lost.size(), absl::ToDoubleSeconds(back));
  std::map<std::string, int64_t> after = Leases();
  int64_t successor = after[on_lost[0]];
  EXPECT_NE(successor, lost);
  for (const std::string& id : on_lost) {
    EXPECT_EQ(after[id], successor) << id << " is on the successor";
    EXPECT_EQ(Deletes(id), 1) << id << ": deleted once, by the revocation";
  }
  for (const auto& [id, lease] : leases) {
    if (lease == lost) continue;
    EXPECT_EQ(after[id], lease) << id << " stays on its lease";
    EXPECT_EQ(Deletes(id), 0) << id;
  }
  // One writer per key: every PUT the watch saw named one of the engine's leases.
  std::set<int64_t> writers;
  for (const auto& record : etcd_->WatchEvents()) {
    if (!record.deleted && record.key.rfind("/chora/capabilities/shared.", 0) == 0) {
      writers.insert(record.lease);
    }
  }
  EXPECT_EQ(writers.size(), 5u) << "the 4 leases and the successor";
  EXPECT_TRUE(hb.Running());
}

TEST_F(SharedLeaseE2E, ARestartAdoptsTheSharedLeasesWithoutDeletingAKey) {
  etcd_->StartWatch("/chora/capabilities/");
  Process& first = StartHeartbeat(Args(10, {"--keep-leases-on-exit"}));
  ASSERT_TRUE(WaitFor([&] { return AllPresent(); }, absl::Seconds(5))) << first.Output();
  std::map<std::string, int64_t> leases = Leases();
  first.Signal(SIGTERM);
  ASSERT_EQ(first.Wait(absl::Seconds(10)), 0) << first.Output();
  int64_t count_at_stop = Count(Id(0));

  Process& second = StartHeartbeat(Args(10));
  ASSERT_TRUE(WaitFor([&] { return Count(Id(0)) > count_at_stop + 2; }, absl::Seconds(8)))
      << second.Output();
  EXPECT_EQ(Leases(), leases) << "every key kept its lease";
  EXPECT_EQ(AllDeletes(), 0);
  EXPECT_NE(second.Output().find("Adopted live lease"), std::string::npos) << second.Output();
  EXPECT_EQ(second.Output().find("Created lease"), std::string::npos) << second.Output();

  // Graceful stop: the 4 shared leases are revoked, which removes every key at once.
  second.Signal(SIGTERM);
  EXPECT_EQ(second.Wait(absl::Seconds(10)), 0);
  EXPECT_FALSE(Present(Id(0)));
  EXPECT_NE(second.Output().find("leases_revoked=4"), std::string::npos) << second.Output();
}

TEST_F(SharedLeaseE2E, AfterKill9EveryKeyExpiresWithinItsTtl) {
  Process& hb = StartHeartbeat(Args(3));
  ASSERT_TRUE(WaitFor([&] { return AllPresent() && Count(Id(0)) >= 3; }, absl::Seconds(6)))
      << hb.Output();
  hb.Signal(SIGKILL);
  hb.Wait(absl::Seconds(5));
  absl::Time killed = absl::Now();
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < kCapabilities; ++i) {
          if (Present(Id(i))) return false;
        }
        return true;
      },
      absl::Seconds(6)));
  EXPECT_LE(absl::Now() - killed, absl::Seconds(5)) << "TTL 3 s and etcd's expiry check";
}

}  // namespace
}  // namespace hb::testing
