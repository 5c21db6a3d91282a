// CheckState: the state machine that turns probe results into a capability's check
// state, as a Kubernetes probe or a Consul check does, plus flap detection and
// deregistration.
//
//              pass x success_threshold
//   kPending ----------------------------> kPassing
//      |  fail (no evidence it ever worked)  ^   |  fail x failure_threshold
//      v                                     |   v
//      +------------------------------> kFailing --- failing >= deregister_after --> deregistered
//                    pass x success_threshold          (until the next pass)
//
// A new check starts kPending unless seeded (a restarted process carries on from the
// state its key or status shows, so a restart never makes the key flap). Every transition
// is recorded; more than `flap_threshold` of them within `flap_window` sets `flapping`,
// which clears once the window passes without a transition. Pure: the caller passes the
// times (monotonic for windows, wall for the values written). Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "check/check_spec.h"

namespace hb::check {

enum class CheckStatus { kPending, kPassing, kFailing };
// "pending", "healthy", "unhealthy": the health value's "status".
const char* CheckStatusValue(CheckStatus status);

// One probe's outcome.
struct ProbeResult {
  bool pass = false;
  std::string reason;  // a failure's cause ("HTTP 503", "connection refused", ...); "" on pass
  absl::Duration latency;
  std::string dependencies;  // a JSON object from the answer's body, "" when none
};

// What a check reports: the state after a result, with what changed.
struct CheckReport {
  CheckKind kind = CheckKind::kNone;
  CheckStatus status = CheckStatus::kPending;
  std::string reason;  // kFailing: the last failure's cause; kNone spec: none_reason
  absl::Time since;    // wall time the current status began (InfinitePast: unknown)
  int consecutive_failures = 0;
  int consecutive_successes = 0;
  absl::Duration last_latency;
  std::string dependencies;  // JSON object text, "" when none
  bool flapping = false;
  bool deregistered = false;  // failing for deregister_after: the key should be removed
  absl::Time last_check;      // wall time of the last result (InfinitePast: none yet)
  std::string last_result;    // "pass (12 ms)", "fail: HTTP 503 (3 ms)"
  uint64_t checks = 0;
  // What the last result changed: status, flapping or deregistered.
  bool transition = false;

  // The fields a health value carries that matter to readers (status, reason, flapping,
  // dependencies, deregistered): a change of any is written at once.
  bool SameVerdict(const CheckReport& o) const;
};

// Where a restarted process carries on from (a key's or a status's last check state).
struct CheckSeed {
  CheckStatus status = CheckStatus::kPending;
  absl::Time since = absl::InfinitePast();
  int consecutive_failures = 0;
  std::string reason;
  bool deregistered = false;
};

class CheckState {
 public:
  explicit CheckState(const CheckSpec& spec);
  // Changes thresholds or windows without losing the state.
  void SetSpec(const CheckSpec& spec);
  // Carries on from `seed` (before the first result only; later seeds are ignored). The
  // time already spent failing counts towards deregistration.
  void Seed(const CheckSeed& seed, absl::Time now, absl::Time wall);

  // Applies one result at monotonic `now`, wall time `wall`.
  const CheckReport& Apply(const ProbeResult& result, absl::Time now, absl::Time wall);

  const CheckReport& report() const { return report_; }
  uint64_t results() const { return report_.checks; }

 private:
  void Enter(CheckStatus status, absl::Time now, absl::Time wall);
  void UpdateFlapping(absl::Time now);
  void UpdateDeregistered(absl::Time now);

  // What the state machine needs of the spec (a full copy per capability would cost more
  // than the rest of the state).
  struct Limits {
    CheckKind kind = CheckKind::kNone;
    int failure_threshold = 3;
    int success_threshold = 1;
    int flap_threshold = 5;
    absl::Duration flap_window;
    absl::Duration deregister_after;
  };
  static Limits LimitsOf(const CheckSpec& spec);

  Limits spec_;
  CheckReport report_;
  absl::Time failing_since_ = absl::InfiniteFuture();  // monotonic; kFailing only
  // Monotonic times of the changes within flap_window, oldest first (a few at most).
  std::vector<absl::Time> transitions_;
  bool seeded_ = false;
};

}  // namespace hb::check
