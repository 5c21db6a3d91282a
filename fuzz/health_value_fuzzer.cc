// Fuzz target: the health value (heartbeat/health_value.h).
//
// The input is the JSON text of a value. For a value ParseHealthValue() accepts, the round
// trip RenderHealthValue() -> ParseHealthValue() must succeed and give back every field the
// rendering keeps exactly (strings, counters, the lease id, the timestamp to the
// microsecond). Short inputs are also lease ids: ParseLeaseIdHex() -> LeaseIdHex() ->
// ParseLeaseIdHex() must give the same id.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/time_format.h"
#include "fuzz_support.h"
#include "heartbeat/health_value.h"

namespace hb::heartbeat {
namespace {

template <typename T>
void Same(const T& first, const T& second, const char* field, const std::string& rendered) {
  if (!(first == second)) {
    fuzz::Fail(absl::StrCat("the round trip changed ", field), rendered);
  }
}

void RoundTrip(const HealthValue& v) {
  const std::string rendered = RenderHealthValue(v);
  auto again = ParseHealthValue(rendered);
  if (!again.ok()) {
    fuzz::Fail("a rendered value does not parse",
               absl::StrCat(again.status().ToString(), " in ", rendered));
  }
  const HealthValue& w = *again;
  Same(v.status, w.status, "status", rendered);
  Same(FormatRfc3339(v.timestamp), FormatRfc3339(w.timestamp), "timestamp", rendered);
  Same(v.identifier, w.identifier, "namespace", rendered);
  Same(v.heartbeat_count, w.heartbeat_count, "heartbeat_count", rendered);
  Same(v.lease_id, w.lease_id, "lease_id", rendered);
  if (v.ttl_seconds > 0) Same(v.ttl_seconds, w.ttl_seconds, "ttl", rendered);
  Same(v.interval, w.interval, "interval", rendered);
  Same(v.mode, w.mode, "mode", rendered);
  Same(v.source, w.source, "source", rendered);
  Same(v.writer, w.writer, "writer", rendered);
  Same(v.check, w.check, "check", rendered);
  if (v.check.empty()) return;
  Same(v.reason, w.reason, "reason", rendered);
  if (v.check == "none") return;
  Same(v.consecutive_failures, w.consecutive_failures, "consecutive_failures", rendered);
  Same(v.dependencies, w.dependencies, "dependencies", rendered);
  Same(v.flapping, w.flapping, "flapping", rendered);
  if (v.since != absl::InfinitePast()) {
    Same(FormatRfc3339(v.since), FormatRfc3339(w.since), "since", rendered);
  }
  // A second rendering of what was read back is stable.
  Same(rendered, RenderHealthValue(w), "the rendering", rendered);
}

void LeaseId(absl::string_view text) {
  auto id = ParseLeaseIdHex(text);
  if (!id.ok()) return;
  auto again = ParseLeaseIdHex(LeaseIdHex(*id));
  if (!again.ok() || *again != *id) fuzz::Fail("a lease id does not round-trip", text);
}

}  // namespace
}  // namespace hb::heartbeat

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text = hb::fuzz::AsText(data, size);
  auto value = hb::heartbeat::ParseHealthValue(text);
  if (value.ok()) hb::heartbeat::RoundTrip(*value);
  if (size <= 40) hb::heartbeat::LeaseId(text);
  return 0;
}
