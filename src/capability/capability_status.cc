#include "capability/capability_status.h"

#include <tuple>

#include "absl/strings/str_cat.h"
#include "capability/declaration.h"
#include "capability/json_fields.h"

namespace hb::capability {

using internal::Field;
using internal::IntField;
using internal::StringField;

namespace {

Condition MakeCondition(std::string type, bool status, std::string reason, std::string message,
                        int64_t generation, const CapabilityStatus& current, absl::Time now) {
  Condition c{std::move(type),    status,     std::move(reason),
              std::move(message), generation, KubeTime(now)};
  const Condition* previous = current.FindCondition(c.type);
  if (previous != nullptr && previous->status == status &&
      !previous->last_transition_time.empty()) {
    c.last_transition_time = previous->last_transition_time;
  }
  return c;
}

std::string Message(const StatusInputs& in, Phase phase) {
  const Declaration& d = *in.declaration;
  switch (phase) {
    case Phase::kTerminating:
      return "revoking the lease and removing the health key";
    case Phase::kInvalid:
      return d.invalid;
    case Phase::kConflict:
      return absl::StrCat("identifier ", d.identifier, " is also declared by ", in.winner->source,
                          ", which takes precedence; this declaration is not heartbeated");
    case Phase::kNotApplicable:
      return "Pattern-type capabilities get no heartbeat";
    case Phase::kPaused:
      return "heartbeat paused (spec.heartbeat.paused); the health key is removed";
    default:
      break;
  }
  if (in.heartbeat && !in.heartbeat->message.empty()) return in.heartbeat->message;
  if (phase == Phase::kPending) return "waiting for the first heartbeat";
  return absl::StrCat("lease held; the health key is renewed every ", d.interval_seconds, "s");
}

auto Fields(const Condition& c) {
  return std::tie(c.type, c.status, c.reason, c.message, c.observed_generation,
                  c.last_transition_time);
}

auto Fields(const CapabilityStatus& s) {
  return std::tie(s.phase, s.message, s.identifier, s.observed_generation, s.source, s.etcd_key,
                  s.ttl_seconds, s.interval_seconds, s.lease_id, s.heartbeat_count,
                  s.last_heartbeat_time, s.conditions);
}

}  // namespace

bool Condition::operator==(const Condition& o) const { return Fields(*this) == Fields(o); }

const Condition* CapabilityStatus::FindCondition(const std::string& type) const {
  for (const Condition& c : conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

bool CapabilityStatus::operator==(const CapabilityStatus& o) const {
  return Fields(*this) == Fields(o);
}

std::string KubeTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

CapabilityStatus ParseStatus(const nlohmann::json& status) {
  CapabilityStatus s;
  if (!status.is_object()) return s;
  s.phase = ParsePhase(StringField(status, "phase"));
  s.message = StringField(status, "message");
  s.identifier = StringField(status, "identifier");
  s.observed_generation = IntField(status, "observedGeneration").value_or(0);
  s.source = StringField(status, "source");
  s.etcd_key = StringField(status, "etcdKey");
  s.ttl_seconds = IntField(status, "ttlSeconds").value_or(0);
  s.interval_seconds = IntField(status, "intervalSeconds").value_or(0);
  s.lease_id = StringField(status, "leaseID");
  if (auto count = IntField(status, "heartbeatCount"); count && *count >= 0) {
    s.heartbeat_count = static_cast<uint64_t>(*count);
  }
  s.last_heartbeat_time = StringField(status, "lastHeartbeatTime");
  if (const nlohmann::json* conditions = Field(status, "conditions");
      conditions != nullptr && conditions->is_array()) {
    for (const nlohmann::json& c : *conditions) {
      if (!c.is_object()) continue;
      s.conditions.push_back(Condition{StringField(c, "type"), StringField(c, "status") == "True",
                                       StringField(c, "reason"), StringField(c, "message"),
                                       IntField(c, "observedGeneration").value_or(0),
                                       StringField(c, "lastTransitionTime")});
    }
  }
  return s;
}

nlohmann::json RenderStatus(const CapabilityStatus& s) {
  nlohmann::json j = {{"phase", PhaseName(s.phase.value_or(Phase::kPending))},
                      {"message", s.message},
                      {"identifier", s.identifier},
                      {"observedGeneration", s.observed_generation},
                      {"source", s.source},
                      {"etcdKey", s.etcd_key},
                      {"ttlSeconds", s.ttl_seconds},
                      {"intervalSeconds", s.interval_seconds}};
  if (!s.lease_id.empty()) j["leaseID"] = s.lease_id;
  if (s.heartbeat_count) j["heartbeatCount"] = *s.heartbeat_count;
  if (!s.last_heartbeat_time.empty()) j["lastHeartbeatTime"] = s.last_heartbeat_time;
  nlohmann::json conditions = nlohmann::json::array();
  for (const Condition& c : s.conditions) {
    conditions.push_back({{"type", c.type},
                          {"status", c.status ? "True" : "False"},
                          {"reason", c.reason},
                          {"message", c.message},
                          {"observedGeneration", c.observed_generation},
                          {"lastTransitionTime", c.last_transition_time}});
  }
  j["conditions"] = std::move(conditions);
  return j;
}

Phase PhaseOf(const StatusInputs& in) {
  const Declaration& d = *in.declaration;
  if (d.deleting) return Phase::kTerminating;
  if (!d.invalid.empty()) return Phase::kInvalid;
  if (in.winner != nullptr && in.winner != in.declaration) return Phase::kConflict;
  if (!d.service) return Phase::kNotApplicable;
  if (d.paused) return Phase::kPaused;
  if (!in.heartbeat) return Phase::kPending;
  return in.heartbeat->phase;
}

CapabilityStatus DesiredStatus(const StatusInputs& in, const CapabilityStatus& current) {
  const Declaration& d = *in.declaration;
  Phase phase = PhaseOf(in);
  CapabilityStatus s;
  s.phase = phase;
  s.message = Message(in, phase);
  s.identifier = d.identifier;
  s.observed_generation = in.generation;
  s.source = d.source;
  s.etcd_key = in.etcd_key;
  s.ttl_seconds = d.ttl_seconds;
  s.interval_seconds = d.interval_seconds;
  bool running = IsRunning(phase);
  if (running && in.heartbeat) {
    s.lease_id = in.heartbeat->lease_id;
    s.heartbeat_count = in.heartbeat->heartbeat_count;
    if (in.heartbeat->last_heartbeat)
      s.last_heartbeat_time = KubeTime(*in.heartbeat->last_heartbeat);
  }
  bool lease_held = running && !s.lease_id.empty();
  s.conditions.push_back(MakeCondition("Ready", phase == Phase::kHealthy, PhaseName(phase),
                                       s.message, in.generation, current, in.now));
  s.conditions.push_back(MakeCondition(
      "LeaseHeld", lease_held, lease_held ? "LeaseGranted" : "NoLease",
      lease_held ? absl::StrCat("lease ", s.lease_id, " held with TTL ", d.ttl_seconds, "s")
                 : "no etcd lease is held for this declaration",
      in.generation, current, in.now));
  return s;
}

bool IsTransition(const CapabilityStatus& current, const CapabilityStatus& desired) {
  CapabilityStatus a = current, b = desired;
  for (CapabilityStatus* s : {&a, &b}) {
    s->heartbeat_count.reset();
    s->last_heartbeat_time.clear();
  }
  return a != b;
}

}  // namespace hb::capability
