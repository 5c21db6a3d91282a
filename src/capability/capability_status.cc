#include "capability/capability_status.h"

#include "absl/strings/str_cat.h"
#include "heartbeat/health_value.h"

namespace hb::capability {
namespace {

using heartbeat::Health;

struct Condition {
  std::string type;
  bool status;
  std::string reason;
  std::string message;
};

nlohmann::json FindCondition(const nlohmann::json& current, const std::string& type) {
  if (!current.is_object()) return nullptr;
  auto conditions = current.find("conditions");
  if (conditions == current.end() || !conditions->is_array()) return nullptr;
  for (const auto& c : *conditions) {
    if (c.is_object() && c.value("type", "") == type) return c;
  }
  return nullptr;
}

nlohmann::json MakeCondition(const Condition& c, int64_t generation, const nlohmann::json& current,
                             absl::Time now) {
  std::string status = c.status ? "True" : "False";
  nlohmann::json previous = FindCondition(current, c.type);
  std::string since = KubeTime(now);
  if (previous.is_object() && previous.value("status", "") == status &&
      previous.contains("lastTransitionTime")) {
    since = previous["lastTransitionTime"].get<std::string>();
  }
  return {{"type", c.type},
          {"status", status},
          {"reason", c.reason},
          {"message", c.message},
          {"observedGeneration", generation},
          {"lastTransitionTime", since}};
}

std::string Message(const StatusInputs& in, const std::string& phase) {
  const Declaration& d = *in.declaration;
  if (phase == "Terminating") return "revoking the lease and removing the health key";
  if (phase == "Invalid") return d.invalid;
  if (phase == "Conflict") {
    return absl::StrCat("identifier ", d.identifier, " is also declared by ", in.winner->source,
                        ", which takes precedence; this declaration is not heartbeated");
  }
  if (phase == "NotApplicable") return "Pattern-type capabilities get no heartbeat";
  if (phase == "Paused")
    return "heartbeat paused (spec.heartbeat.paused); the health key is removed";
  if (in.engine && !in.engine->message.empty()) return in.engine->message;
  if (phase == "Pending") return "waiting for the first heartbeat";
  return absl::StrCat("lease held; the health key is renewed every ", d.interval_seconds, "s");
}

}  // namespace

std::string KubeTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string PhaseOf(const StatusInputs& in) {
  const Declaration& d = *in.declaration;
  if (d.deleting) return "Terminating";
  if (!d.invalid.empty()) return "Invalid";
  if (in.winner != nullptr && in.winner != in.declaration) return "Conflict";
  if (!d.service) return "NotApplicable";
  if (d.paused) return "Paused";
  if (!in.engine) return "Pending";
  return heartbeat::HealthName(in.engine->health);
}

nlohmann::json DesiredStatus(const StatusInputs& in, const nlohmann::json& current) {
  const Declaration& d = *in.declaration;
  std::string phase = PhaseOf(in);
  std::string message = Message(in, phase);
  bool running =
      phase == "Healthy" || phase == "Failing" || phase == "LeaseLost" || phase == "Pending";
  bool lease_held = running && in.engine && in.engine->lease_id != 0;
  nlohmann::json status = {{"phase", phase},
                           {"message", message},
                           {"identifier", d.identifier},
                           {"observedGeneration", d.generation},
                           {"source", d.source},
                           {"etcdKey", in.etcd_key},
                           {"ttlSeconds", d.ttl_seconds},
                           {"intervalSeconds", d.interval_seconds}};
  if (running && in.engine) {
    if (in.engine->lease_id != 0) status["leaseID"] = heartbeat::LeaseIdHex(in.engine->lease_id);
    status["heartbeatCount"] = in.engine->heartbeat_count;
    if (in.engine->last_heartbeat)
      status["lastHeartbeatTime"] = KubeTime(*in.engine->last_heartbeat);
  }
  Condition ready{"Ready", phase == "Healthy", phase, message};
  Condition lease{"LeaseHeld", lease_held, lease_held ? "LeaseGranted" : "NoLease",
                  lease_held ? absl::StrCat("lease ", status["leaseID"].get<std::string>(),
                                            " held with TTL ", d.ttl_seconds, "s")
                             : "no etcd lease is held for this declaration"};
  status["conditions"] =
      nlohmann::json::array({MakeCondition(ready, d.generation, current, in.now),
                             MakeCondition(lease, d.generation, current, in.now)});
  return status;
}

bool IsTransition(const nlohmann::json& current, const nlohmann::json& desired) {
  if (!current.is_object()) return true;
  nlohmann::json a = current, b = desired;
  for (auto* s : {&a, &b}) {
    s->erase("heartbeatCount");
    s->erase("lastHeartbeatTime");
  }
  return a != b;
}

}  // namespace hb::capability
