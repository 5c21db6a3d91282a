// The JSON value stored under <prefix><identifier>/health.
//
// Keeps the original service's schema and adds fields:
//   {"status":"healthy","timestamp":"2025-11-15T22:30:00.123456Z",
//    "namespace":"chora.devex.registry","heartbeat_count":42,
//    "lease_id":"694d77aa1e7f2e04","ttl":30,"interval":10,"mode":"every-beat",
//    "writer":"heartbeat-operator-7d9f-abcde",
//    "check":"http","since":"2025-11-15T22:29:40Z","consecutive_failures":0,
//    "latency_ms":3.2,"dependencies":{"database":"healthy"}}
// With a health check (check/), "status" is the check's verdict ("pending", "healthy",
// "unhealthy"), "check" its kind ("none" when nothing verifies the service), "reason" why it
// fails, "since" when the verdict began, "flapping" true while it keeps changing.
// `lease_id` is hexadecimal (as etcdctl prints it) because lease ids exceed the integers
// JSON readers such as JavaScript can hold exactly. Pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hb::heartbeat {

// HeartbeatEngine reuses one value for every beat and sets each field before rendering
// (engine_eval.cc, RenderValue): a new field must be set there too.
struct HealthValue {
  std::string status = "healthy";
  absl::Time timestamp;
  std::string identifier;  // written as "namespace", the original's name for it
  uint64_t heartbeat_count = 0;
  int64_t lease_id = 0;
  int64_t ttl_seconds = 0;
  absl::Duration interval;
  std::string mode;    // "every-beat" or "on-change"
  std::string source;  // optional: where the capability was declared
  std::string writer;  // optional: the process (replica) that wrote the value

  // Health check fields; `check` empty: none written (a value without a checker).
  std::string check;   // "none", "http", "tcp", "grpc", "serviceRef"
  std::string reason;  // why the check fails (or, for "none", why nothing is checked)
  absl::Time since = absl::InfinitePast();
  int consecutive_failures = 0;
  absl::Duration latency = -absl::InfiniteDuration();  // the last probe's; negative: none
  std::string dependencies;  // a JSON object's text, copied from the service's answer
  bool flapping = false;
};

std::string RenderHealthValue(const HealthValue& value);
// The same into `out` (replaced; its capacity is reused).
void RenderHealthValue(const HealthValue& value, std::string& out);
// Reads a value written by this project or by the original service (extra fields and
// missing optional fields are fine; status, timestamp and namespace are required).
absl::StatusOr<HealthValue> ParseHealthValue(absl::string_view json);

// "694d77aa1e7f2e04" <-> 0x694d77aa1e7f2e04.
std::string LeaseIdHex(int64_t lease_id);
absl::StatusOr<int64_t> ParseLeaseIdHex(absl::string_view hex);

}  // namespace hb::heartbeat
