#include "heartbeat/health_value.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/time_format.h"
#include "nlohmann/json.hpp"

namespace hb::heartbeat {

std::string LeaseIdHex(int64_t lease_id) {
  return absl::StrCat(absl::Hex(static_cast<uint64_t>(lease_id)));
}

absl::StatusOr<int64_t> ParseLeaseIdHex(absl::string_view hex) {
  uint64_t value = 0;
  if (hex.empty() || !absl::SimpleHexAtoi(hex, &value)) {
    return absl::InvalidArgumentError(absl::StrCat("not a hexadecimal lease id: \"", hex, "\""));
  }
  return static_cast<int64_t>(value);
}

namespace {

// Appends `name` (a JSON member name with its colon, e.g. ",\"mode\":") and the JSON string
// literal for `s`.
void AppendQuoted(std::string& out, absl::string_view name, const std::string& s) {
  out.append(name.data(), name.size());
  bool plain = true;
  for (char c : s) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) plain = false;
  }
  if (!plain) {
    out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out.push_back('"');
  out += s;
  out.push_back('"');
}

void RenderCheck(const HealthValue& v, std::string& out) {
  AppendQuoted(out, ",\"check\":", v.check);
  if (!v.reason.empty()) AppendQuoted(out, ",\"reason\":", v.reason);
  if (v.check == "none") return;
  if (v.since != absl::InfinitePast()) {
    out += ",\"since\":\"";
    AppendRfc3339(v.since, out);
    out.push_back('"');
  }
  absl::StrAppend(&out, ",\"consecutive_failures\":", v.consecutive_failures);
  if (v.latency >= absl::ZeroDuration()) {
    absl::StrAppend(&out, ",\"latency_ms\":", absl::ToInt64Microseconds(v.latency) / 1000, ".",
                    absl::Dec(absl::ToInt64Microseconds(v.latency) % 1000 / 100));
  }
  if (!v.dependencies.empty()) absl::StrAppend(&out, ",\"dependencies\":", v.dependencies);
  if (v.flapping) absl::StrAppend(&out, ",\"flapping\":true");
}

}  // namespace

std::string RenderHealthValue(const HealthValue& v) {
  std::string out;
  RenderHealthValue(v, out);
  return out;
}

// Written field by field into one buffer rather than through a JSON document: this runs for
// every beat.
void RenderHealthValue(const HealthValue& v, std::string& out) {
  out.clear();
  out.reserve(256 + v.identifier.size() + v.source.size() + v.writer.size() + v.reason.size() +
              v.dependencies.size());
  AppendQuoted(out, "{\"status\":", v.status);
  out += ",\"timestamp\":\"";
  AppendRfc3339(v.timestamp, out);
  out.push_back('"');
  AppendQuoted(out, ",\"namespace\":", v.identifier);
  absl::StrAppend(&out, ",\"heartbeat_count\":", v.heartbeat_count);
  if (v.lease_id != 0) {
    absl::StrAppend(&out, ",\"lease_id\":\"", absl::Hex(static_cast<uint64_t>(v.lease_id)), "\"");
  }
  if (v.ttl_seconds > 0) absl::StrAppend(&out, ",\"ttl\":", v.ttl_seconds);
  if (v.interval > absl::ZeroDuration()) {
    // Seconds with up to six decimals: exact for the microsecond intervals a parse yields.
    const int64_t us = absl::ToInt64Microseconds(v.interval);
    absl::StrAppend(&out, ",\"interval\":", us / 1000000);
    if (us % 1000000 != 0) {
      std::string fraction = absl::StrFormat("%06d", us % 1000000);
      fraction.erase(fraction.find_last_not_of('0') + 1);
      absl::StrAppend(&out, ".", fraction);
    }
  }
  if (!v.mode.empty()) AppendQuoted(out, ",\"mode\":", v.mode);
  if (!v.source.empty()) AppendQuoted(out, ",\"source\":", v.source);
  if (!v.writer.empty()) AppendQuoted(out, ",\"writer\":", v.writer);
  if (!v.check.empty()) RenderCheck(v, out);
  out.push_back('}');
}

namespace {

void ParseCheck(const nlohmann::json& j, HealthValue& v) {
  auto check = j.find("check");
  if (check == j.end() || !check->is_string()) return;
  v.check = check->get<std::string>();
  if (auto reason = j.find("reason"); reason != j.end() && reason->is_string()) {
    v.reason = reason->get<std::string>();
  }
  if (auto since = j.find("since"); since != j.end() && since->is_string()) {
    auto when = ParseRfc3339(since->get<std::string>());
    if (when.ok()) v.since = *when;
  }
  if (auto n = j.find("consecutive_failures"); n != j.end() && n->is_number_integer()) {
    v.consecutive_failures = n->get<int>();
  }
  if (auto ms = j.find("latency_ms"); ms != j.end() && ms->is_number()) {
    // Rounded, not truncated, so that a rendered value reads back as written (32.3 ms is
    // 32299.99... us as a double). A probe's latency is at most its timeout (10 min): beyond
    // a day it reads as a day, which keeps the conversion defined (a huge double cast to
    // int64 is not) and the value exact through a round trip.
    constexpr double kMaxLatencyMs = 24.0 * 3600 * 1000;
    double milliseconds = std::clamp(ms->get<double>(), -kMaxLatencyMs, kMaxLatencyMs);
    v.latency = absl::Microseconds(std::llround(milliseconds * 1000));
  }
  if (auto deps = j.find("dependencies"); deps != j.end() && deps->is_object()) {
    v.dependencies = deps->dump();
  }
  if (auto f = j.find("flapping"); f != j.end() && f->is_boolean()) v.flapping = f->get<bool>();
}

}  // namespace

absl::StatusOr<HealthValue> ParseHealthValue(absl::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("health value is not a JSON object");
  }
  HealthValue v;
  auto status = j.find("status");
  auto timestamp = j.find("timestamp");
  auto ns = j.find("namespace");
  if (status == j.end() || !status->is_string() || timestamp == j.end() ||
      !timestamp->is_string() || ns == j.end() || !ns->is_string()) {
    return absl::InvalidArgumentError(
        "health value lacks one of the string fields status, timestamp, namespace");
  }
  v.status = status->get<std::string>();
  v.identifier = ns->get<std::string>();
  auto when = ParseRfc3339(timestamp->get<std::string>());
  if (!when.ok()) return when.status();
  v.timestamp = *when;
  if (auto count = j.find("heartbeat_count"); count != j.end() && count->is_number_unsigned()) {
    v.heartbeat_count = count->get<uint64_t>();
  }
  if (auto lease = j.find("lease_id"); lease != j.end() && lease->is_string()) {
    auto id = ParseLeaseIdHex(lease->get<std::string>());
    if (id.ok()) v.lease_id = *id;
  }
  if (auto ttl = j.find("ttl"); ttl != j.end() && ttl->is_number_integer()) {
    v.ttl_seconds = ttl->get<int64_t>();
  }
  if (auto interval = j.find("interval"); interval != j.end() && interval->is_number()) {
    // Read to the microsecond and at most a day (the CRD allows 3,600 s), so that a
    // rendered value reads back as written and a huge or non-finite number stays defined.
    constexpr double kMaxIntervalSeconds = 24.0 * 3600;
    const double seconds = interval->get<double>();
    if (std::isfinite(seconds) && seconds > 0) {
      v.interval = absl::Microseconds(std::llround(std::min(seconds, kMaxIntervalSeconds) * 1e6));
    }
  }
  if (auto mode = j.find("mode"); mode != j.end() && mode->is_string()) {
    v.mode = mode->get<std::string>();
  }
  if (auto source = j.find("source"); source != j.end() && source->is_string()) {
    v.source = source->get<std::string>();
  }
  if (auto writer = j.find("writer"); writer != j.end() && writer->is_string()) {
    v.writer = writer->get<std::string>();
  }
  ParseCheck(j, v);
  return v;
}

}  // namespace hb::heartbeat
