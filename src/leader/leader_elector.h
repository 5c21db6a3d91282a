// LeaderElector: leader election on a coordination.k8s.io/v1 Lease, as client-go does it.
//
// A candidate reads the Lease; it takes it when it is absent, already its own, or expired
// (no renewal observed for leaseDurationSeconds by this candidate's own clock: clocks of
// different machines are never compared). The leader renews every retry period; when it
// has not renewed within renew_deadline of the start of its last successful attempt it
// stops leading (it may no longer hold the lease), also when it finds the deadline passed
// on waking from a pause. All writes carry the Lease's resourceVersion, so two candidates
// never both win.
//
// After each successful acquisition or renewal, `renewed(valid_until)` says until when this
// replica may act as the leader: the attempt's start + renew_deadline, on the monotonic
// Clock::Now(). A standby observes the renewal no earlier than that start and waits
// lease_duration (> renew_deadline) from then, so a leader acting only before
// `valid_until` never overlaps the next one (clock rates assumed equal within the margin).
// Each attempt is as long as the client's calls: give the elector a client whose request
// timeout is well inside renew_deadline.
//
// Run() blocks until cancelled; callbacks run on its thread and must not block for long.
// Release() (after cancelling Run) gives the lease up at once so that another replica
// takes over without waiting for it to expire. Timing and sleeps use the injected Clock
// (expiry on its monotonic Now(), Lease timestamps from WallNow()), so tests run on
// virtual time. Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/jitter.h"
#include "kube/client.h"

namespace hb::leader {

struct LeaderElectionOptions {
  std::string lease_namespace = "default";
  std::string lease_name = "heartbeat-operator";
  std::string identity;  // unique per replica (pod name + random suffix)
  absl::Duration lease_duration = absl::Seconds(15);
  absl::Duration renew_deadline = absl::Seconds(10);
  absl::Duration retry_period = absl::Seconds(2);
  uint64_t jitter_seed = 0;  // retry jitter; 0: random
  // Set on the Lease object at each write (a shard member's group label and name).
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

struct LeaderCallbacks {
  std::function<void(absl::Time valid_until)> renewed;  // before started_leading, then each renewal
  std::function<void()> started_leading;
  std::function<void()> stopped_leading;
  std::function<void(const std::string& leader)> new_leader;  // someone (maybe us) leads
};

class LeaderElector {
 public:
  LeaderElector(kube::KubeClient& client, Clock& clock, LeaderElectionOptions options,
                LeaderCallbacks callbacks);

  // Campaigns, leads and renews until `cancel`; returns after stopped_leading if it led.
  void Run(const CancelToken& cancel);
  bool IsLeader() const { return leading_.load(); }
  std::string Leader() const;
  // Empties the Lease's holder if this replica still holds it.
  void Release();

 private:
  enum class Attempt { kAcquired, kHeldByOther, kFailed };
  Attempt TryAcquireOrRenew();
  // Renews until cancelled or the renew deadline passes.
  void Lead(absl::Time last_renewal, const CancelToken& cancel);
  nlohmann::json LeaseObject(const nlohmann::json& previous, bool take_over) const;
  void ObserveHolder(const std::string& holder);

  kube::KubeClient& client_;
  Clock& clock_;
  const LeaderElectionOptions options_;
  const LeaderCallbacks callbacks_;
  const kube::ResourceRef ref_;
  Jitter jitter_;
  std::atomic<bool> leading_{false};

  mutable absl::Mutex mu_;
  std::string observed_holder_ ABSL_GUARDED_BY(mu_);
  std::string observed_record_ ABSL_GUARDED_BY(mu_);  // holder+renewTime last seen
  absl::Time observed_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t observed_duration_ ABSL_GUARDED_BY(mu_) = 0;
};

// "2026-11-28T00:40:00.123456Z": the MicroTime format Lease timestamps require.
std::string MicroTime(absl::Time t);

}  // namespace hb::leader
