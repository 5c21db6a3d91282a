// Phase: the one-word state of a Capability object (status.phase), as `kubectl get
// capabilities` shows it. Pure functions.
#pragma once

#include <optional>

#include "absl/strings/string_view.h"

namespace hb::capability {

enum class Phase {
  kPending,        // runs; no heartbeat has succeeded yet
  kHealthy,        // the key is written and its lease renewed (and the check passes)
  kUnhealthy,      // the service's check fails: the key says "unhealthy", its lease lives
  kDown,           // unhealthy for deregisterAfterSeconds: key and lease removed
  kFailing,        // puts or grants fail (etcd unreachable, permission denied, ...)
  kLeaseLost,      // the lease was lost and is being re-granted
  kPaused,         // spec.heartbeat.paused: no key
  kInvalid,        // the declaration cannot run; the message names the field
  kConflict,       // another declaration of the identifier takes precedence
  kNotApplicable,  // Pattern-type: no heartbeat
  kTerminating,    // being deleted: the key is removed before the finalizer goes
};

// "Healthy", "LeaseLost", ...: the CRD's enum values.
const char* PhaseName(Phase phase);
std::optional<Phase> ParsePhase(absl::string_view name);
// The heartbeat runs (or should) in these phases: Pending, Healthy, Unhealthy, Down,
// Failing, LeaseLost.
bool IsRunning(Phase phase);
// Events about entering these phases are Warnings: Unhealthy, Down, Failing, LeaseLost,
// Invalid, Conflict.
bool IsWarning(Phase phase);

}  // namespace hb::capability
