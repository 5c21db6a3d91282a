// The status heartbeat-operator writes on a Capability (see crds/capabilities.chora.dev.yaml),
// as a typed struct: phase, message, conditions Ready, LeaseHeld, Checked and Flapping (with
// reason, message, observedGeneration and lastTransitionTime), observedGeneration,
// identifier, leaseID, etcdKey, heartbeatCount, lastHeartbeatTime, ttlSeconds,
// intervalSeconds, source, and the health check's check, checkSince, flapping,
// lastCheckTime, lastCheckResult and consecutiveFailures.
// JSON appears only at the edges: ParseStatus() reads what an object carries, RenderStatus()
// writes the patch.
//
// Writes are split in two kinds: a transition (any field but the counters changed) is
// written at once; counters alone (heartbeatCount, lastHeartbeatTime, lastCheckTime,
// lastCheckResult, consecutiveFailures) at most once per status-sync period, so that large
// fleets do not flood the API server. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "capability/phase.h"
#include "check/check_state.h"
#include "nlohmann/json.hpp"

namespace hb::capability {

struct Declaration;

struct Condition {
  std::string type;  // "Ready", "LeaseHeld"
  bool status = false;
  std::string reason;
  std::string message;
  int64_t observed_generation = 0;
  std::string last_transition_time;  // Kubernetes time (KubeTime)

  bool operator==(const Condition& o) const;
  bool operator!=(const Condition& o) const { return !(*this == o); }
};

struct CapabilityStatus {
  std::optional<Phase> phase;  // nullopt: no status written yet (or an unknown phase)
  std::string message;
  std::string identifier;
  int64_t observed_generation = 0;
  std::string source;
  std::string etcd_key;
  int64_t ttl_seconds = 0;
  int64_t interval_seconds = 0;
  std::string lease_id;  // hexadecimal; empty: none held
  std::optional<uint64_t> heartbeat_count;
  std::string last_heartbeat_time;  // Kubernetes time; empty: none yet
  std::string check;                // the check's kind; empty: not reported
  std::string check_since;          // Kubernetes time the check's verdict began
  bool flapping = false;
  std::string last_check_time;  // Kubernetes time; empty: none yet
  std::string last_check_result;
  std::optional<int64_t> consecutive_failures;
  std::string shard;  // the replica that owns the identifier (--shards auto); empty: none
  std::vector<Condition> conditions;

  const Condition* FindCondition(const std::string& type) const;
  bool operator==(const CapabilityStatus& o) const;
  bool operator!=(const CapabilityStatus& o) const { return !(*this == o); }
};

// Reads `.status` as stored on an object (null or absent: an empty status). Never throws:
// fields of the wrong type read as absent.
CapabilityStatus ParseStatus(const nlohmann::json& status);
// The status as JSON, for a merge patch of the /status subresource.
nlohmann::json RenderStatus(const CapabilityStatus& status);
// RenderStatus() for a merge patch: every optional field the status lacks is an explicit
// null, so a field that no longer applies (a Paused object's leaseID, heartbeatCount and
// lastHeartbeatTime, a check result after checks are turned off) is removed, not kept.
nlohmann::json RenderStatusPatch(const CapabilityStatus& status);

// What the heartbeat engine reports for the identifier a declaration runs.
struct HeartbeatObservation {
  Phase phase = Phase::kPending;  // kPending, kHealthy, kFailing or kLeaseLost
  std::string message;            // why it is not healthy
  std::string lease_id;           // hexadecimal; empty: none held
  uint64_t heartbeat_count = 0;
  std::optional<absl::Time> last_heartbeat;  // wall time of the last successful put
  std::optional<check::CheckReport> check;   // the health check's last report
};

struct StatusInputs {
  // The object's own declaration (for a mirror: its ConfigMap entry).
  const Declaration* declaration = nullptr;
  // The declaration that runs the identifier's heartbeat; equal to `declaration` unless
  // this one lost (phase Conflict).
  const Declaration* winner = nullptr;
  // The engine's view of the heartbeat when one runs for the identifier.
  std::optional<HeartbeatObservation> heartbeat;
  std::string etcd_key;
  std::string shard;       // this replica's member name with --shards auto; empty: none
  int64_t generation = 0;  // the object's metadata.generation
  absl::Time now;          // wall time, for lastTransitionTime
};

// The status to write, keeping lastTransitionTime of conditions that did not change in
// `current` (the object's status now).
CapabilityStatus DesiredStatus(const StatusInputs& inputs, const CapabilityStatus& current);

// The phase the inputs give (Healthy, Paused, Conflict, ...).
Phase PhaseOf(const StatusInputs& inputs);

// Whether `desired` differs from `current` in anything but the heartbeat counters.
bool IsTransition(const CapabilityStatus& current, const CapabilityStatus& desired);

// Kubernetes time format (RFC 3339, seconds, UTC).
std::string KubeTime(absl::Time t);

}  // namespace hb::capability
