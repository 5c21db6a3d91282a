#include "leader/shard_membership.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"

namespace hb::leader {

std::optional<LeaseSighting> SightingOf(const nlohmann::json& lease) {
  if (!lease.is_object()) return std::nullopt;
  const nlohmann::json& meta = lease.value("metadata", nlohmann::json::object());
  const nlohmann::json& annotations = meta.value("annotations", nlohmann::json::object());
  if (!annotations.is_object()) return std::nullopt;
  auto member = annotations.find(kShardMemberAnnotation);
  if (member == annotations.end() || !member->is_string() || member->get<std::string>().empty()) {
    return std::nullopt;
  }
  const nlohmann::json& spec = lease.value("spec", nlohmann::json::object());
  if (!spec.is_object()) return std::nullopt;
  LeaseSighting s;
  s.member = member->get<std::string>();
  auto text = [&](const char* field) {
    auto it = spec.find(field);
    return it != spec.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string holder = text("holderIdentity");
  s.held = !holder.empty();
  s.record = absl::StrCat(holder, "|", text("renewTime"));
  auto duration = spec.find("leaseDurationSeconds");
  if (duration != spec.end() && duration->is_number_integer() && duration->get<int64_t>() > 0) {
    s.lease_duration = absl::Seconds(duration->get<int64_t>());
  }
  return s;
}

std::vector<std::string> MemberTracker::Observe(absl::Time now,
                                                const std::vector<LeaseSighting>& leases) {
  std::map<std::string, Seen> next;
  std::vector<std::string> live;
  for (const LeaseSighting& lease : leases) {
    Seen seen{lease.record, now};
    auto before = seen_.find(lease.member);
    if (before != seen_.end() && before->second.record == lease.record) seen = before->second;
    if (lease.held && now < seen.changed_at + lease.lease_duration) live.push_back(lease.member);
    next[lease.member] = std::move(seen);
  }
  seen_ = std::move(next);  // deleted Leases are forgotten: seen again, they count as new
  std::sort(live.begin(), live.end());
  live.erase(std::unique(live.begin(), live.end()), live.end());
  return live;
}

ShardMembership::ShardMembership(kube::KubeClient& client, Clock& clock,
                                 ShardMembershipOptions options, ViewHook hook)
    : client_(client),
      clock_(clock),
      options_(std::move(options)),
      hook_(std::move(hook)),
      jitter_(options_.jitter_seed != 0 ? options_.jitter_seed : Jitter::RandomSeed()) {}

bool ShardMembership::ListOnce() {
  const absl::Time start = clock_.Now();
  kube::ListOptions list;
  list.label_selector = absl::StrCat(kShardGroupLabel, "=", options_.group);
  auto listed =
      client_.List({"coordination.k8s.io", "v1", "leases", options_.lease_namespace}, list);
  if (!listed.ok()) {
    if (!failing_) {
      LogWarning("Cannot list the shard members' Leases; writes stop at the renew deadline",
                 {{"group", options_.group}, {"error", listed.status().message()}});
    }
    failing_ = true;
    return false;
  }
  if (failing_) LogInfo("Shard members' Leases listed again", {{"group", options_.group}});
  failing_ = false;
  std::vector<LeaseSighting> sightings;
  for (const nlohmann::json& item : listed->items) {
    if (auto s = SightingOf(item)) sightings.push_back(*std::move(s));
  }
  std::vector<std::string> live = tracker_.Observe(start, sightings);
  live.erase(std::remove(live.begin(), live.end(), options_.self), live.end());
  hook_(live, start + options_.renew_deadline);
  return true;
}

void ShardMembership::Run(const CancelToken& cancel) {
  LogInfo("Watching the shard members", {{"group", options_.group},
                                         {"namespace", options_.lease_namespace},
                                         {"self", options_.self}});
  while (!cancel.IsCancelled()) {
    ListOnce();
    clock_.SleepFor(jitter_.Spread(options_.retry_period, 0.2), cancel);
  }
}

}  // namespace hb::leader
