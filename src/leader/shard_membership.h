// ShardMembership: who the live members of a shard group are, read from their Leases.
//
// Each replica of `--shards auto` holds a coordination.k8s.io/v1 Lease of its own (a
// LeaderElector on the name `<group>-<member>`, labelled kShardGroupLabel=<group>, the
// member's name in the kShardMemberAnnotation). ShardMembership lists the group's Leases
// every retry period and tells which other members are live: a Lease with a holder whose
// record (holder and renewTime) this replica saw change within lease_duration, by its own
// monotonic clock; clocks of different machines are never compared, as in leader
// election. A Lease seen for the first time counts as just renewed; a released Lease (no
// holder) or a deleted one ends its member at once.
//
// After every successful list the hook gets the live members other than this one and
// `valid_until` = the list's start + renew_deadline: a replica may act on that view only
// until then (a member joining after a list began is not in it), so a replica that cannot
// list stops writing by the same deadline as one that cannot renew.
//
// MemberTracker is the pure part (virtual time in tests). ShardMembership::Run() blocks
// until cancelled; the hook runs on its thread. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/cancel.h"
#include "common/clock.h"
#include "common/jitter.h"
#include "kube/client.h"
#include "nlohmann/json.hpp"

namespace hb::leader {

inline constexpr char kShardGroupLabel[] = "heartbeat.chora.dev/shard-group";
inline constexpr char kShardMemberAnnotation[] = "heartbeat.chora.dev/shard-member";

// One member's Lease as listed.
struct LeaseSighting {
  std::string member;
  std::string record;  // holder|renewTime: changes at every renewal
  bool held = false;   // a holder is set
  absl::Duration lease_duration = absl::Seconds(15);
};
// The member Lease `lease` describes; nullopt when it names no member.
std::optional<LeaseSighting> SightingOf(const nlohmann::json& lease);

// Not thread-safe.
class MemberTracker {
 public:
  // The live members at `now` (sorted) given every Lease of the group listed at `now`.
  std::vector<std::string> Observe(absl::Time now, const std::vector<LeaseSighting>& leases);

 private:
  struct Seen {
    std::string record;
    absl::Time changed_at;
  };
  std::map<std::string, Seen> seen_;
};

struct ShardMembershipOptions {
  std::string lease_namespace = "default";
  std::string group = "heartbeat-operator";
  std::string self;  // this replica's member name (left out of the views)
  absl::Duration renew_deadline = absl::Seconds(10);
  absl::Duration retry_period = absl::Seconds(2);
  uint64_t jitter_seed = 0;
};

class ShardMembership {
 public:
  using ViewHook =
      std::function<void(const std::vector<std::string>& others, absl::Time valid_until)>;
  ShardMembership(kube::KubeClient& client, Clock& clock, ShardMembershipOptions options,
                  ViewHook hook);

  void Run(const CancelToken& cancel);
  // Lists once; false when the list failed (the hook is not called).
  bool ListOnce();

 private:
  kube::KubeClient& client_;
  Clock& clock_;
  const ShardMembershipOptions options_;
  const ViewHook hook_;
  Jitter jitter_;
  MemberTracker tracker_;  // only on the Run()/ListOnce() thread
  bool failing_ = false;
};

}  // namespace hb::leader
