#include "leader/leader_elector.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace hb::leader {

std::string MicroTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

LeaderElector::LeaderElector(kube::KubeClient& client, Clock& clock, LeaderElectionOptions options,
                             LeaderCallbacks callbacks)
    : client_(client),
      clock_(clock),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      ref_{"coordination.k8s.io", "v1", "leases", options_.lease_namespace},
      jitter_(options_.jitter_seed != 0 ? options_.jitter_seed : Jitter::RandomSeed()) {}

std::string LeaderElector::Leader() const {
  absl::MutexLock lock(&mu_);
  return observed_holder_;
}

void LeaderElector::ObserveHolder(const std::string& holder) {
  std::string previous;
  {
    absl::MutexLock lock(&mu_);
    previous = observed_holder_;
    observed_holder_ = holder;
  }
  if (holder != previous && !holder.empty()) {
    LogInfo("Leader elected", {{"leader", holder}, {"lease", options_.lease_name}});
    if (callbacks_.new_leader) callbacks_.new_leader(holder);
  }
}

nlohmann::json LeaderElector::LeaseObject(const nlohmann::json& previous, bool take_over) const {
  std::string now = MicroTime(clock_.WallNow());
  nlohmann::json lease = previous.is_object() ? previous : nlohmann::json::object();
  lease["apiVersion"] = "coordination.k8s.io/v1";
  lease["kind"] = "Lease";
  lease["metadata"]["name"] = options_.lease_name;
  lease["metadata"]["namespace"] = options_.lease_namespace;
  for (const auto& [k, v] : options_.labels) lease["metadata"]["labels"][k] = v;
  for (const auto& [k, v] : options_.annotations) lease["metadata"]["annotations"][k] = v;
  nlohmann::json& spec = lease["spec"];
  if (!spec.is_object()) spec = nlohmann::json::object();
  if (take_over || !spec.contains("acquireTime")) {
    spec["acquireTime"] = now;
    if (previous.is_object()) spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
  }
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = absl::ToInt64Seconds(options_.lease_duration);
  spec["renewTime"] = now;
  return lease;
}

LeaderElector::Attempt LeaderElector::TryAcquireOrRenew() {
  auto current = client_.Get(ref_, options_.lease_name);
  if (!current.ok() && kube::IsNotFound(current.status())) {
    auto created = client_.Create(ref_, LeaseObject(nullptr, true));
    if (!created.ok()) return Attempt::kFailed;
    ObserveHolder(options_.identity);
    return Attempt::kAcquired;
  }
  if (!current.ok()) return Attempt::kFailed;
  const nlohmann::json& spec = (*current).value("spec", nlohmann::json::object());
  std::string holder = spec.value("holderIdentity", "");
  std::string record = absl::StrCat(holder, "|", spec.value("renewTime", ""));
  absl::Time now = clock_.Now();
  bool expired;
  {
    absl::MutexLock lock(&mu_);
    if (record != observed_record_) {
      observed_record_ = record;
      observed_at_ = now;
      observed_duration_ = spec.value("leaseDurationSeconds", int64_t{15});
    }
    expired = now >= observed_at_ + absl::Seconds(observed_duration_);
  }
  bool mine = holder == options_.identity;
  if (!mine && !holder.empty() && !expired) {
    ObserveHolder(holder);
    return Attempt::kHeldByOther;
  }
  auto updated = client_.Update(ref_, LeaseObject(*current, !mine));
  if (!updated.ok()) return Attempt::kFailed;
  ObserveHolder(options_.identity);
  return Attempt::kAcquired;
}

void LeaderElector::Run(const CancelToken& cancel) {
  LogInfo("Campaigning for leadership",
          {{"lease", absl::StrCat(options_.lease_namespace, "/", options_.lease_name)},
           {"identity", options_.identity}});
  while (!cancel.IsCancelled()) {
    // Candidate: try every retry period (jittered) until the lease is ours.
    absl::Time attempt = clock_.Now();
    if (TryAcquireOrRenew() != Attempt::kAcquired) {
      clock_.SleepFor(jitter_.Spread(options_.retry_period, 0.2), cancel);
      continue;
    }
    if (callbacks_.renewed) callbacks_.renewed(attempt + options_.renew_deadline);
    leading_.store(true);
    LogInfo("Became the leader", {{"identity", options_.identity}});
    if (callbacks_.started_leading) callbacks_.started_leading();
    Lead(attempt, cancel);
    leading_.store(false);
    if (callbacks_.stopped_leading) callbacks_.stopped_leading();
    return;
  }
}

void LeaderElector::Lead(absl::Time last_renewal, const CancelToken& cancel) {
  // Renew every retry period; give up once renew_deadline has passed since the start of
  // the last successful attempt.
  const std::string deadline = absl::FormatDuration(options_.renew_deadline);
  while (!cancel.IsCancelled()) {
    clock_.SleepFor(options_.retry_period, cancel);
    if (cancel.IsCancelled()) return;
    absl::Time attempt = clock_.Now();
    if (attempt - last_renewal >= options_.renew_deadline) {
      // Failed attempts until the deadline, or a process that did not run (paused,
      // starved): a standby may lead already, so never renew late.
      LogError("Leadership lost: the Lease was not renewed within the renew deadline",
               {{"renew_deadline", deadline},
                {"since_renewal", absl::FormatDuration(attempt - last_renewal)}});
      return;
    }
    if (TryAcquireOrRenew() == Attempt::kAcquired) {
      last_renewal = attempt;
      if (callbacks_.renewed) callbacks_.renewed(attempt + options_.renew_deadline);
    } else if (clock_.Now() - last_renewal >= options_.renew_deadline) {
      LogError("Leadership lost: the lease could not be renewed in time",
               {{"renew_deadline", deadline}});
      return;
    }
  }
}

void LeaderElector::Release() {
  auto current = client_.Get(ref_, options_.lease_name);
  if (!current.ok()) return;
  const nlohmann::json& spec = (*current).value("spec", nlohmann::json::object());
  if (spec.value("holderIdentity", "") != options_.identity) return;
  nlohmann::json lease = *current;
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] = MicroTime(clock_.WallNow());
  auto released = client_.Update(ref_, lease);
  if (released.ok()) {
    LogInfo("Leadership released", {{"identity", options_.identity}});
  } else {
    LogWarning("Could not release the leader lease; it expires by itself",
               {{"error", released.status().message()}});
  }
}

}  // namespace hb::leader
