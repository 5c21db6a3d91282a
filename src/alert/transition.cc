#include "alert/transition.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "check/check_spec.h"
#include "check/check_state.h"
#include "common/time_format.h"
#include "heartbeat/health_value.h"

namespace hb::alert {

const char* AlertLevelName(AlertLevel level) {
  switch (level) {
    case AlertLevel::kPending:
      return "pending";
    case AlertLevel::kHealthy:
      return "healthy";
    case AlertLevel::kUnhealthy:
      return "unhealthy";
    case AlertLevel::kDown:
      return "down";
    case AlertLevel::kRemoved:
      return "removed";
  }
  return "unknown";
}

bool IsFailing(AlertLevel level) {
  return level == AlertLevel::kUnhealthy || level == AlertLevel::kDown;
}

AlertLevel LevelOf(const heartbeat::HeartbeatStatus& status, std::string* reason) {
  std::string why;
  AlertLevel level = AlertLevel::kHealthy;
  using heartbeat::Health;
  switch (status.health) {
    case Health::kPending:
      level = AlertLevel::kPending;
      break;
    case Health::kLeaseLost:
    case Health::kDeregistered:
      level = AlertLevel::kDown;
      why = status.message;
      break;
    case Health::kFailing:
      level = AlertLevel::kUnhealthy;
      why = status.message;
      break;
    case Health::kHealthy:
      if (status.check && status.check->status == check::CheckStatus::kFailing) {
        level = AlertLevel::kUnhealthy;
        why = status.check->reason.empty() ? "the health check fails" : status.check->reason;
      } else if (status.check && status.check->status == check::CheckStatus::kPending) {
        level = AlertLevel::kPending;
      }
      break;
  }
  if (why.empty() && level == AlertLevel::kDown) why = "the health key is gone";
  if (reason != nullptr) *reason = why;
  return level;
}

namespace {

nlohmann::json StatusJson(const heartbeat::HeartbeatStatus& s) {
  nlohmann::json v = {{"health", heartbeat::HealthName(s.health)},
                      {"key", s.key},
                      {"lease_id", s.lease_id != 0 ? heartbeat::LeaseIdHex(s.lease_id) : ""},
                      {"ttl", s.ttl_seconds},
                      {"interval", absl::ToDoubleSeconds(s.interval)},
                      {"heartbeat_count", s.heartbeat_count}};
  if (s.last_heartbeat) v["last_heartbeat"] = FormatRfc3339(*s.last_heartbeat);
  if (s.check) {
    v["check"] = check::CheckKindName(s.check->kind);
    v["check_status"] = check::CheckStatusValue(s.check->status);
    v["consecutive_failures"] = s.check->consecutive_failures;
    if (!s.check->last_result.empty()) v["last_check"] = s.check->last_result;
  }
  return v;
}

}  // namespace

std::string TransitionJson(const Transition& t, const std::string& instance) {
  nlohmann::json body = {{"type", "transition"},
                         {"id", t.id},
                         {"identifier", t.identifier},
                         {"source", t.source},
                         {"from", AlertLevelName(t.from)},
                         {"to", AlertLevelName(t.to)},
                         {"reason", t.reason},
                         {"time", FormatRfc3339(t.time)},
                         {"instance", instance}};
  body["value"] = t.status ? StatusJson(*t.status) : nlohmann::json(nullptr);
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string StormJson(const StormSummary& s, const std::string& instance) {
  nlohmann::json body = {{"type", "storm"},
                         {"id", s.id},
                         {"state", s.active ? "started" : "ended"},
                         {"failing", s.failing},
                         {"total", s.total},
                         {"held", s.held},
                         {"share", s.share},
                         {"time", FormatRfc3339(s.time)},
                         {"instance", instance}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace hb::alert
