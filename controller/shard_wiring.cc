#include "shard_wiring.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "leader/rendezvous.h"

namespace hb::cli {

std::string ShardLeaseName(const std::string& group, const std::string& instance) {
  std::string name = absl::StrCat(group, "-", instance);
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') c = '-';
  }
  if (name.size() > 253) name.resize(253);
  while (!name.empty() && !std::isalnum(static_cast<unsigned char>(name.back()))) name.pop_back();
  return name;
}

ShardCoordinator::ShardCoordinator(heartbeat::HeartbeatEngine& engine, Clock& clock,
                                   Options options)
    : engine_(engine), clock_(clock), options_(std::move(options)) {}

void ShardCoordinator::SetResync(std::function<void()> resync) { resync_ = std::move(resync); }

void ShardCoordinator::Joined() {
  absl::MutexLock lock(&mu_);
  if (active_ || active_at_ != absl::InfiniteFuture()) return;
  active_at_ = clock_.Now() + options_.join_wait;
  LogInfo("Shard member joined; owning its share after the join wait",
          {{"member", options_.member}, {"join_wait", absl::FormatDuration(options_.join_wait)}});
}

bool ShardCoordinator::OwnsLocked(const std::string& identifier) const {
  if (!active_) return false;
  const std::string* owner = leader::RendezvousOwner(identifier, members_);
  return owner != nullptr && *owner == options_.member;
}

bool ShardCoordinator::RunIfOwned(const std::string& identifier, absl::FunctionRef<void()> act) {
  absl::ReaderMutexLock lock(&mu_);
  if (!OwnsLocked(identifier)) return false;
  act();
  return true;
}

void ShardCoordinator::OnView(const std::vector<std::string>& others) {
  bool changed = false;
  bool gained = false;
  size_t handed_over = 0;
  std::vector<std::string> members;
  {
    absl::MutexLock lock(&mu_);
    bool activated = !active_ && clock_.Now() >= active_at_;
    if (activated) active_ = true;
    members = others;
    if (active_) members.push_back(options_.member);
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    changed = members != members_ || activated;
    if (changed) {
      // A member that left gives its identifiers to the others; one that joined takes some.
      gained = activated ||
               !std::includes(members.begin(), members.end(), members_.begin(), members_.end());
      members_ = members;
      // Handed over inside the change: no put of these after the view that moved them.
      for (const heartbeat::HeartbeatStatus& s : engine_.AllStatuses()) {
        if (OwnsLocked(s.identifier)) continue;
        engine_.Remove(s.identifier, heartbeat::HeartbeatEngine::Removal::kHandOver);
        ++handed_over;
      }
    }
  }
  if (!changed) return;
  LogInfo("Shard members changed", {{"member", options_.member},
                                    {"members", absl::StrJoin(members, ",")},
                                    {"handed_over", static_cast<int64_t>(handed_over)},
                                    {"adopting", gained}});
  if (gained) engine_.RescanExistingKeys();  // adopt the leases the former owners renewed
  if (resync_) resync_();
}

ShardMembershipThread::ShardMembershipThread(kube::KubeClient& kube,
                                             leader::ShardMembershipOptions options,
                                             ShardCoordinator& coordinator,
                                             std::function<void(absl::Time)> permit_cap) {
  membership_ = std::make_unique<leader::ShardMembership>(
      kube, RealClock::Get(), std::move(options),
      [&coordinator, permit_cap = std::move(permit_cap)](const std::vector<std::string>& others,
                                                         absl::Time valid_until) {
        coordinator.OnView(others);
        permit_cap(valid_until);
      });
  thread_ = std::thread([this] { membership_->Run(cancel_); });
}

ShardMembershipThread::~ShardMembershipThread() {
  cancel_.Cancel();
  if (thread_.joinable()) thread_.join();
}

}  // namespace hb::cli
