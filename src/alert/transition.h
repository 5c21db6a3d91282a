// Transitions: what the operator notifies about a capability (alert/notifier.h).
//
// A heartbeat's state (heartbeat::HeartbeatStatus) is reduced to an alert level:
//   pending    nothing known yet (first grant or first check under way): never notified;
//   healthy    the key is held and the check (if any) passes;
//   unhealthy  the check fails, or the operator cannot write the key (etcd refuses puts);
//   down       the lease was lost or the key was removed because the check kept failing;
//   removed    the capability is no longer declared (only notified when it was failing).
// A Transition is one change of the notified level, with a process-unique id that every
// delivery of it carries, so that a receiver can drop a repeated delivery. Pure functions;
// the types are plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "heartbeat/engine.h"

namespace hb::alert {

enum class AlertLevel { kPending, kHealthy, kUnhealthy, kDown, kRemoved };
// "pending", "healthy", "unhealthy", "down", "removed".
const char* AlertLevelName(AlertLevel level);
bool IsFailing(AlertLevel level);  // unhealthy or down

// The level of one heartbeat, and why it is not healthy ("" when it is).
AlertLevel LevelOf(const heartbeat::HeartbeatStatus& status, std::string* reason = nullptr);

struct Transition {
  std::string id;  // "<run>-<sequence>": the same for every delivery of this transition
  std::string identifier;
  std::string source;  // where the capability is declared ("" when unknown)
  AlertLevel from = AlertLevel::kPending;
  AlertLevel to = AlertLevel::kPending;
  std::string reason;  // why it is not healthy; "" for a recovery
  absl::Time time;     // wall time of the change
  // The heartbeat as it stood when the transition was sent (absent for a removal).
  std::optional<heartbeat::HeartbeatStatus> status;
};

// Many capabilities failing at once (an outage of etcd or of the operator's own network):
// one summary instead of one notification each (alert/tracker.h).
struct StormSummary {
  std::string id;
  bool active = false;  // started (true) or ended (false)
  int64_t failing = 0;
  int64_t total = 0;
  int64_t held = 0;  // transitions held back while it lasts
  absl::Time time;
  double share = 0;  // the configured share that starts a storm
};

// The generic webhook's JSON bodies (README "Alerts": the schema).
std::string TransitionJson(const Transition& t, const std::string& instance);
std::string StormJson(const StormSummary& s, const std::string& instance);

}  // namespace hb::alert
