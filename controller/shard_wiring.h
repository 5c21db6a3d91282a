// --shards auto: every replica is active and owns a share of the identifiers.
//
// Each replica holds a Lease of its own (LeaderElection in shard mode: the Lease
// `<leader-election-id>-<instance>`, the etcd fence /chora/shards/<namespace>/<id>/<instance>)
// and lists the group's Leases every retry period (leader/shard_membership.h). An
// identifier belongs to the member with the highest rendezvous weight among the live ones
// (leader/rendezvous.h), so a member joining or leaving moves only its share.
//
// Handover without a gap and without two writers:
//  - the replica that loses an identifier (a member joined) hands it over at once, inside
//    the membership change: the engine stops writing the key and keeps its lease renewed
//    for the hand-over grace (Removal::kHandOver);
//  - a replica writes only while its own Lease is renewed (renew deadline) and while its
//    last view of the members is younger than the renew deadline (the write permit is the
//    earlier of the two), so a replica that cannot renew or cannot list stops writing;
//  - a replica takes its Lease only once its caches have listed, so a member never appears
//    before it could adopt its share;
//  - a replica that joins (or comes back) owns nothing until renew deadline + etcd call
//    timeout after it took its Lease and fence: by then every other replica has either seen
//    it (and handed over) or lost its permit, and their puts in flight have been answered;
//  - a replica that gains identifiers (a member left, or it became active) reads the health
//    keys again before granting, so that it adopts the leases the former owner renewed.
// A member whose Lease went unrenewed for the lease duration (killed, frozen, cut off) is
// left out; the member itself stopped writing at its renew deadline, before that.
//
// Thread-safe: OnView() runs on the membership thread, RunIfOwned() on reconcile workers.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/cancel.h"
#include "common/clock.h"
#include "heartbeat/engine.h"
#include "kube/client.h"
#include "leader/shard_membership.h"
#include "operator/shard_filter.h"

namespace hb::cli {

// The Lease name of member `instance` of group `group`: lower case, [a-z0-9.-] only.
std::string ShardLeaseName(const std::string& group, const std::string& instance);

class ShardCoordinator final : public op::ShardFilter {
 public:
  struct Options {
    std::string member;        // this replica (--instance)
    absl::Duration join_wait;  // renew deadline + etcd call timeout
  };
  ShardCoordinator(heartbeat::HeartbeatEngine& engine, Clock& clock, Options options);

  // Called after a membership change (the operator's ResyncAll). Set before any view.
  void SetResync(std::function<void()> resync);
  // This replica holds its Lease and fence: it starts owning its share `join_wait` later.
  void Joined();
  // A view of the other live members (the write permit's cap is the caller's business).
  void OnView(const std::vector<std::string>& others);

  // op::ShardFilter
  bool RunIfOwned(const std::string& identifier, absl::FunctionRef<void()> act) override;
  const std::string& member() const override { return options_.member; }

 private:
  bool OwnsLocked(const std::string& identifier) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  heartbeat::HeartbeatEngine& engine_;
  Clock& clock_;
  const Options options_;
  std::function<void()> resync_;

  mutable absl::Mutex mu_;
  std::vector<std::string> members_ ABSL_GUARDED_BY(mu_);
  bool active_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time active_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
};

// The membership list on a thread of its own, feeding a ShardCoordinator and a permit cap.
class ShardMembershipThread {
 public:
  ShardMembershipThread(kube::KubeClient& kube, leader::ShardMembershipOptions options,
                        ShardCoordinator& coordinator,
                        std::function<void(absl::Time valid_until)> permit_cap);
  ~ShardMembershipThread();  // stops and joins

 private:
  std::unique_ptr<leader::ShardMembership> membership_;
  CancelToken cancel_;
  std::thread thread_;
};

}  // namespace hb::cli
