// TransitionTracker: decides which level changes of which capabilities are notified, and
// when; with the storm guard. Pure: the caller passes monotonic times. Not thread-safe.
//
// Per capability it keeps the current level (Observe) and the last notified one. A change
// becomes due:
//   - towards a failing level (unhealthy, down): `hold` after it began, so that a failure
//     that heals within the hold (a lease re-granted at once, one failed probe past the
//     threshold) is never notified, and so that the first capabilities of a mass failure
//     are absorbed by the storm guard below instead of each being notified;
//   - towards healthy, or a failing capability's removal: at once.
// Due changes are taken with TakeDue(); a change whose level went back to the notified one
// before it was due is dropped. The first level of a capability is notified only when it is
// failing (pending -> healthy is not news); healthy -> removed is not notified.
//
// Storm guard: while more than `share` of the capabilities (and at least `min_failing`) are
// failing, nothing is due: a storm has begun, the caller sends one summary, and the changes
// wait. It ends once fewer than 80 % of that share (or fewer than min_failing) fail; the
// changes still standing are then due, failures after one more hold (transitions that came and went
// meanwhile are collapsed into the one from the last notified level to the current one). So an
// outage of etcd or of the operator's network produces one summary, not thousands of alerts, and no
// capability's final state goes unnotified.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "alert/transition.h"

namespace hb::alert {

struct TrackerPolicy {
  absl::Duration hold = absl::Seconds(5);
  double share = 0.2;        // of the known capabilities; > 1 turns the storm guard off
  int64_t min_failing = 10;  // a storm needs at least this many failing capabilities
};

// One change to notify: the capability, its last notified level and its current one.
struct DueChange {
  std::string identifier;
  AlertLevel from = AlertLevel::kPending;
  AlertLevel to = AlertLevel::kPending;
};

// A storm began (true) or ended (false) with this Observe/Remove.
struct StormChange {
  bool active = false;
  int64_t failing = 0;
  int64_t total = 0;
  int64_t held = 0;
};

class TransitionTracker {
 public:
  explicit TransitionTracker(TrackerPolicy policy);

  // The capability's level now. Returns a storm change when this observation starts or ends
  // one.
  std::optional<StormChange> Observe(const std::string& identifier, AlertLevel level,
                                     absl::Time now);
  // The capability is no longer declared.
  std::optional<StormChange> Remove(const std::string& identifier, absl::Time now);

  // The changes due at `now` (none during a storm), by identifier; each is then taken as
  // notified.
  std::vector<DueChange> TakeDue(absl::Time now);
  // When the next held change becomes due (InfiniteFuture: none, or a storm holds them).
  absl::Time NextDue() const;

  bool storm() const { return storm_; }
  int64_t failing() const { return failing_; }
  int64_t total() const { return static_cast<int64_t>(entries_.size()); }
  // Changes waiting (for their hold or for a storm to end).
  int64_t held() const { return static_cast<int64_t>(unsettled_.size()); }

 private:
  struct Entry {
    AlertLevel current = AlertLevel::kPending;
    AlertLevel notified = AlertLevel::kPending;
  };
  void Settle(const std::string& identifier, const Entry& entry, absl::Time now);
  std::optional<StormChange> UpdateStorm(absl::Time now);

  const TrackerPolicy policy_;
  absl::flat_hash_map<std::string, Entry> entries_;
  // Capabilities whose current level differs from the notified one -> when it is due.
  absl::flat_hash_map<std::string, absl::Time> unsettled_;
  // Removed capabilities whose removal is still to be notified (they failed).
  absl::flat_hash_map<std::string, AlertLevel> removed_;
  int64_t failing_ = 0;
  bool storm_ = false;
};

}  // namespace hb::alert
