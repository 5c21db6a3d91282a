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
  const check::CheckReport* check =
      in.heartbeat && in.heartbeat->check ? &*in.heartbeat->check : nullptr;
  if (phase == Phase::kUnhealthy) {
    return absl::StrCat(check::CheckKindName(check->kind), " check failing: ", check->reason,
                        "; the key says unhealthy, its lease is kept");
  }
  if (in.heartbeat && !in.heartbeat->message.empty()) return in.heartbeat->message;
  if (phase == Phase::kPending && check != nullptr && check->kind != check::CheckKind::kNone &&
      check->status == check::CheckStatus::kPending && in.heartbeat->phase == Phase::kHealthy) {
    return absl::StrCat("heartbeating; waiting for the first ", check::CheckKindName(check->kind),
                        " check");
  }
  if (phase == Phase::kPending) return "waiting for the first heartbeat";
  std::string held =
      absl::StrCat("lease held; the health key is renewed every ", d.interval_seconds, "s");
  if (check != nullptr && check->kind == check::CheckKind::kNone) {
    return absl::StrCat(held, "; nothing checks the service (", check->reason, ")");
  }
  if (check != nullptr && check->status == check::CheckStatus::kPending) {
    return absl::StrCat(held, "; waiting for the first ", check::CheckKindName(check->kind),
                        " check");
  }
  return held;
}

// The Checked condition: True while a probe verifies the service and passes.
Condition CheckedCondition(const check::CheckReport* r, int64_t generation,
                           const CapabilityStatus& current, absl::Time now) {
  if (r == nullptr) {
    return MakeCondition("Checked", false, "NotRunning", "no health check runs", generation,
                         current, now);
  }
  if (r->kind == check::CheckKind::kNone) {
    return MakeCondition("Checked", false, "NoCheck",
                         absl::StrCat("nothing verifies the service: ", r->reason), generation,
                         current, now);
  }
  const char* kind = check::CheckKindName(r->kind);
  switch (r->status) {
    case check::CheckStatus::kPending:
      return MakeCondition("Checked", false, "Pending", absl::StrCat(kind, " check not run yet"),
                           generation, current, now);
    case check::CheckStatus::kPassing:
      return MakeCondition("Checked", true, "Passing", absl::StrCat(kind, " check passes"),
                           generation, current, now);
    case check::CheckStatus::kFailing:
      break;
  }
  return MakeCondition("Checked", false, "Failing", absl::StrCat(kind, " check fails: ", r->reason),
                       generation, current, now);
}

auto Fields(const Condition& c) {
  return std::tie(c.type, c.status, c.reason, c.message, c.observed_generation,
                  c.last_transition_time);
}

auto Fields(const CapabilityStatus& s) {
  return std::tie(s.phase, s.message, s.identifier, s.observed_generation, s.source, s.etcd_key,
                  s.ttl_seconds, s.interval_seconds, s.lease_id, s.heartbeat_count,
                  s.last_heartbeat_time, s.check, s.check_since, s.flapping, s.last_check_time,
                  s.last_check_result, s.consecutive_failures, s.shard, s.conditions);
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
  s.shard = StringField(status, "shard");
  if (auto count = IntField(status, "heartbeatCount"); count && *count >= 0) {
    s.heartbeat_count = static_cast<uint64_t>(*count);
  }
  s.last_heartbeat_time = StringField(status, "lastHeartbeatTime");
  s.check = StringField(status, "check");
  s.check_since = StringField(status, "checkSince");
  if (const nlohmann::json* f = Field(status, "flapping"); f != nullptr && f->is_boolean()) {
    s.flapping = f->get<bool>();
  }
  s.last_check_time = StringField(status, "lastCheckTime");
  s.last_check_result = StringField(status, "lastCheckResult");
  s.consecutive_failures = IntField(status, "consecutiveFailures");
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
  if (!s.shard.empty()) j["shard"] = s.shard;
  if (s.heartbeat_count) j["heartbeatCount"] = *s.heartbeat_count;
  if (!s.last_heartbeat_time.empty()) j["lastHeartbeatTime"] = s.last_heartbeat_time;
  if (!s.check.empty()) j["check"] = s.check;
  if (!s.check_since.empty()) j["checkSince"] = s.check_since;
  if (!s.check.empty() && s.check != "none") j["flapping"] = s.flapping;
  if (!s.last_check_time.empty()) j["lastCheckTime"] = s.last_check_time;
  if (!s.last_check_result.empty()) j["lastCheckResult"] = s.last_check_result;
  if (s.consecutive_failures) j["consecutiveFailures"] = *s.consecutive_failures;
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

nlohmann::json RenderStatusPatch(const CapabilityStatus& s) {
  nlohmann::json j = RenderStatus(s);
  for (const char* optional :
       {"leaseID", "heartbeatCount", "lastHeartbeatTime", "check", "checkSince", "flapping",
        "lastCheckTime", "lastCheckResult", "consecutiveFailures", "shard"}) {
    if (!j.contains(optional)) j[optional] = nullptr;
  }
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
  // The operator's side first (etcd unreachable, lease lost): then it is not the service.
  const auto& check = in.heartbeat->check;
  if (in.heartbeat->phase == Phase::kHealthy && check && check->kind != check::CheckKind::kNone) {
    if (check->status == check::CheckStatus::kFailing) return Phase::kUnhealthy;
    if (check->status == check::CheckStatus::kPending) return Phase::kPending;
  }
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
  s.shard = in.shard;
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
  const check::CheckReport* check =
      running && in.heartbeat && in.heartbeat->check ? &*in.heartbeat->check : nullptr;
  if (check != nullptr) {
    s.check = check::CheckKindName(check->kind);
    if (check->since != absl::InfinitePast()) s.check_since = KubeTime(check->since);
    s.flapping = check->flapping;
    if (check->last_check != absl::InfinitePast()) s.last_check_time = KubeTime(check->last_check);
    s.last_check_result = check->kind == check::CheckKind::kNone ? "none" : check->last_result;
    if (check->kind != check::CheckKind::kNone)
      s.consecutive_failures = check->consecutive_failures;
  }
  s.conditions.push_back(CheckedCondition(check, in.generation, current, in.now));
  if (check != nullptr && check->kind != check::CheckKind::kNone) {
    s.conditions.push_back(MakeCondition(
        "Flapping", check->flapping, check->flapping ? "Flapping" : "Stable",
        check->flapping ? "the check keeps changing state; Events are held back until it is stable"
                        : "the check's state is stable",
        in.generation, current, in.now));
  }
  return s;
}

bool IsTransition(const CapabilityStatus& current, const CapabilityStatus& desired) {
  CapabilityStatus a = current, b = desired;
  for (CapabilityStatus* s : {&a, &b}) {
    s->heartbeat_count.reset();
    s->last_heartbeat_time.clear();
    s->last_check_time.clear();
    s->last_check_result.clear();
    s->consecutive_failures.reset();
  }
  return a != b;
}

}  // namespace hb::capability
