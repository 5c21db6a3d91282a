// The status heartbeat-operator writes on a Capability (see crds/capabilities.chora.dev.yaml):
// phase, message, conditions Ready and LeaseHeld (with reason, message, observedGeneration
// and lastTransitionTime), observedGeneration, identifier, leaseID, etcdKey,
// heartbeatCount, lastHeartbeatTime, ttlSeconds, intervalSeconds and source.
//
// Writes are split in two kinds: a transition (any field but the counters changed) is
// written at once; counters alone (heartbeatCount, lastHeartbeatTime) at most once per
// status-sync period, so that large fleets do not flood the API server. Pure functions.
#pragma once

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "capability/declaration.h"
#include "heartbeat/engine.h"
#include "nlohmann/json.hpp"

namespace hb::capability {

struct StatusInputs {
  // The object's own declaration (for a mirror: its ConfigMap entry).
  const Declaration* declaration = nullptr;
  // The declaration that runs the identifier's heartbeat; equal to `declaration` unless
  // this one lost (phase Conflict).
  const Declaration* winner = nullptr;
  // The engine's view of the heartbeat when one runs for the identifier.
  std::optional<heartbeat::CapabilityStatus> engine;
  std::string etcd_key;
  absl::Time now;
};

// The status to write, keeping lastTransitionTime of conditions that did not change in
// `current` (the object's status now; null or {} when it has none).
nlohmann::json DesiredStatus(const StatusInputs& inputs, const nlohmann::json& current);

// The phase the inputs give (Healthy, Paused, Conflict, ...).
std::string PhaseOf(const StatusInputs& inputs);

// Whether `desired` differs from `current` in anything but the heartbeat counters.
bool IsTransition(const nlohmann::json& current, const nlohmann::json& desired);

// Kubernetes time format (RFC 3339, seconds, UTC).
std::string KubeTime(absl::Time t);

}  // namespace hb::capability
