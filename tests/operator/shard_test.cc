// Rendezvous hashing and shard membership: balance, minimal movement, liveness on the
// replica's own clock, and the views listed from member Leases (in-memory API server).
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "kubefake/fake_kube_client.h"
#include "leader/leader_elector.h"
#include "leader/rendezvous.h"
#include "leader/shard_membership.h"

namespace hb::leader {
namespace {

std::string Id(int i) { return absl::StrCat("chora.svc.n", i); }

std::map<std::string, std::string> Owners(const std::vector<std::string>& members, int n) {
  std::map<std::string, std::string> owners;
  for (int i = 0; i < n; ++i) owners[Id(i)] = *RendezvousOwner(Id(i), members);
  return owners;
}

TEST(Rendezvous, SpreadsKeysEvenlyAndAgreesWhateverTheOrderOfMembers) {
  std::vector<std::string> members = {"hb-0", "hb-1", "hb-2"};
  std::vector<std::string> reversed = {"hb-2", "hb-1", "hb-0"};
  std::map<std::string, int> counts;
  for (int i = 0; i < 30000; ++i) {
    const std::string* owner = RendezvousOwner(Id(i), members);
    ASSERT_NE(owner, nullptr);
    EXPECT_EQ(*owner, *RendezvousOwner(Id(i), reversed));
    ++counts[*owner];
  }
  for (const auto& [member, count] : counts) {
    EXPECT_NEAR(count, 10000, 400) << member;  // 4 standard deviations
  }
  EXPECT_EQ(RendezvousOwner("x", {}), nullptr);
}

TEST(Rendezvous, AMemberLeavingOrJoiningMovesOnlyItsShare) {
  const int n = 30000;
  auto three = Owners({"hb-0", "hb-1", "hb-2"}, n);
  auto two = Owners({"hb-0", "hb-2"}, n);
  int moved = 0;
  for (const auto& [id, owner] : three) {
    if (owner == "hb-1") {
      ++moved;
      EXPECT_NE(two[id], "hb-1");
    } else {
      EXPECT_EQ(two[id], owner) << id << " moved though its owner stayed";
    }
  }
  EXPECT_NEAR(moved, n / 3, 400);
  auto four = Owners({"hb-0", "hb-1", "hb-2", "hb-3"}, n);
  int joined = 0;
  for (const auto& [id, owner] : four) {
    if (owner == "hb-3") {
      ++joined;
    } else {
      EXPECT_EQ(three[id], owner) << id << " moved between members that stayed";
    }
  }
  EXPECT_NEAR(joined, n / 4, 400);
}

LeaseSighting Sighting(const std::string& member, const std::string& record, bool held = true) {
  return LeaseSighting{member, record, held, absl::Seconds(15)};
}

TEST(MemberTracker, AMemberIsLiveUntilItsLeaseGoesUnrenewedForTheLeaseDuration) {
  MemberTracker tracker;
  absl::Time t0 = absl::FromUnixSeconds(1000);
  using V = std::vector<std::string>;
  EXPECT_EQ(tracker.Observe(t0, {Sighting("b", "b1|1"), Sighting("a", "a1|1")}), (V{"a", "b"}));
  // b renews, a does not: a is gone lease duration after its record was first seen.
  EXPECT_EQ(tracker.Observe(t0 + absl::Seconds(10), {Sighting("a", "a1|1"), Sighting("b", "b1|2")}),
            (V{"a", "b"}));
  EXPECT_EQ(tracker.Observe(t0 + absl::Seconds(15), {Sighting("a", "a1|1"), Sighting("b", "b1|2")}),
            (V{"b"}));
  // a comes back with a new holder: live again at once.
  EXPECT_EQ(tracker.Observe(t0 + absl::Seconds(16), {Sighting("a", "a2|3"), Sighting("b", "b1|3")}),
            (V{"a", "b"}));
  // Released (no holder): gone at once; deleted: gone too.
  EXPECT_EQ(
      tracker.Observe(t0 + absl::Seconds(17), {Sighting("a", "|4", false), Sighting("b", "b1|4")}),
      (V{"b"}));
  EXPECT_EQ(tracker.Observe(t0 + absl::Seconds(18), {}), V{});
}

TEST(ShardMembership, ListsTheGroupsLeasesAndLeavesItselfAndOtherGroupsOut) {
  FakeClock clock{absl::FromUnixSeconds(1800000000)};
  kubefake::FakeKubeClient kube{clock};
  // One attempt each takes the Lease (Run() would go on renewing).
  for (auto [member, group] : std::vector<std::pair<std::string, std::string>>{
           {"hb-0", "hb"}, {"hb-1", "hb"}, {"hb-2", "hb"}, {"other-0", "other"}}) {
    ASSERT_TRUE(kube.Create({"coordination.k8s.io", "v1", "leases", "default"},
                            nlohmann::json{{"apiVersion", "coordination.k8s.io/v1"},
                                           {"kind", "Lease"},
                                           {"metadata",
                                            {{"name", absl::StrCat(group, "-", member)},
                                             {"namespace", "default"},
                                             {"labels", {{kShardGroupLabel, group}}},
                                             {"annotations", {{kShardMemberAnnotation, member}}}}},
                                           {"spec",
                                            {{"holderIdentity", member + "_1"},
                                             {"leaseDurationSeconds", 15},
                                             {"renewTime", MicroTime(clock.WallNow())}}}})
                    .ok());
  }
  std::vector<std::string> view;
  absl::Time valid_until;
  ShardMembershipOptions options;
  options.group = "hb";
  options.self = "hb-1";
  ShardMembership membership(kube, clock, options, [&](const auto& others, absl::Time until) {
    view = others;
    valid_until = until;
  });
  ASSERT_TRUE(membership.ListOnce());
  EXPECT_EQ(view, (std::vector<std::string>{"hb-0", "hb-2"}));
  EXPECT_EQ(valid_until, clock.Now() + options.renew_deadline);

  kube.FailNext(kubefake::Verb::kList, absl::UnavailableError("down"));
  view.clear();
  EXPECT_FALSE(membership.ListOnce());
  EXPECT_TRUE(view.empty()) << "no view from a failed list";

  clock.Advance(absl::Seconds(16));  // nobody renewed
  ASSERT_TRUE(membership.ListOnce());
  EXPECT_TRUE(view.empty());
}

TEST(LeaderElector, WritesItsLabelsAndAnnotationsOnTheLease) {
  FakeClock clock{absl::FromUnixSeconds(1800000000)};
  kubefake::FakeKubeClient kube{clock};
  LeaderElectionOptions o;
  o.lease_name = "hb-hb-0";
  o.identity = "hb-0_1";
  o.labels[kShardGroupLabel] = "hb";
  o.annotations[kShardMemberAnnotation] = "hb-0";
  LeaderElector elector(kube, clock, o, LeaderCallbacks{});
  CancelToken cancel;
  std::thread run([&] { elector.Run(cancel); });
  while (!elector.IsLeader()) std::this_thread::yield();
  cancel.Cancel();
  clock.Advance(absl::Seconds(5));
  run.join();
  auto lease = kube.Get({"coordination.k8s.io", "v1", "leases", "default"}, "hb-hb-0");
  ASSERT_TRUE(lease.ok());
  auto sighting = SightingOf(*lease);
  ASSERT_TRUE(sighting.has_value());
  EXPECT_EQ(sighting->member, "hb-0");
  EXPECT_TRUE(sighting->held);
  EXPECT_EQ((*lease)["metadata"]["labels"][kShardGroupLabel], "hb");
}

}  // namespace
}  // namespace hb::leader
