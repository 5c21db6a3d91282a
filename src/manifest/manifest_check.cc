// Durations as the chora format writes them, and the health check a manifest asks for.
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "manifest/manifest.h"

namespace hb::manifest {
namespace {

bool IsAnyAddress(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text) {
  std::string t(absl::StripAsciiWhitespace(text));
  double seconds = 0;
  absl::Duration d;
  if (absl::SimpleAtod(t, &seconds)) {
    if (!std::isfinite(seconds)) return absl::InvalidArgumentError("not a finite duration");
    d = absl::Seconds(seconds);
  } else if (t.empty() || !absl::ascii_isdigit(t.front()) || !absl::ParseDuration(t, &d) ||
             d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", t, "\" is not a duration: write seconds (10) or a number with s, m or h (10s, 1m)"));
  }
  if (d < absl::ZeroDuration()) return absl::InvalidArgumentError("must not be negative");
  return d;
}

absl::StatusOr<check::CheckSpec> ResolveCheck(const Manifest& m, const HeartbeatTiming& timing,
                                              const CheckDefaults& defaults) {
  if (!defaults.enabled) return check::NoCheck("health checks are turned off");
  check::CheckSpec spec;
  std::string h = m.service_path + ".health";
  if (!m.url.empty()) {
    spec.kind = check::CheckKind::kHttp;
    spec.url = check::JoinUrl(m.url, m.endpoint);
  } else if (m.tcp_port != 0) {
    spec.kind = check::CheckKind::kTcp;
    spec.host = m.tcp_host;
    spec.port = m.tcp_port;
  } else if (m.grpc_port != 0) {
    spec.kind = check::CheckKind::kGrpc;
    spec.host = m.grpc_host;
    spec.port = m.grpc_port;
    spec.grpc_service = m.grpc_service;
  } else if (m.rest_port == 0) {
    return check::NoCheck(
        "no target: no rest interface with a port, and health has no url, tcp or grpc");
  } else if (m.endpoint.empty()) {
    return check::NoCheck(absl::StrCat("the rest interface has no ", h, ".endpoint to probe"));
  } else if (IsAnyAddress(m.rest_host) && defaults.any_host.empty()) {
    return check::NoCheck(absl::StrCat("the rest interface binds ",
                                       m.rest_host.empty() ? "0.0.0.0" : m.rest_host,
                                       ", whose address is not known here; give ", h, ".url"));
  } else {
    std::string host = IsAnyAddress(m.rest_host) ? defaults.any_host : m.rest_host;
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
    spec.kind = check::CheckKind::kHttp;
    spec.url = check::JoinUrl(absl::StrCat("http://", host, ":", m.rest_port), m.endpoint);
  }
  // The check holds thresholds as int: a value beyond int is refused here, never cut down
  // to one that passes the bounds below (4294967299 is 3 as an int).
  for (const auto& [value, key] : {std::make_pair(&m.failure_threshold, "failure_threshold"),
                                   std::make_pair(&m.success_threshold, "success_threshold"),
                                   std::make_pair(&m.flap_threshold, "flap_threshold")}) {
    if (value->has_value() && **value != static_cast<int>(**value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(m.source, ": ", h, ".", key, ": out of range, got ", **value));
    }
  }
  spec.period = absl::Seconds(timing.interval_seconds);
  spec.timeout = m.timeout.value_or(spec.period / 2);
  spec.failure_threshold = static_cast<int>(m.failure_threshold.value_or(3));
  spec.success_threshold = static_cast<int>(m.success_threshold.value_or(1));
  spec.flap_threshold = static_cast<int>(m.flap_threshold.value_or(5));
  spec.initial_delay = m.initial_delay.value_or(absl::ZeroDuration());
  spec.deregister_after = m.deregister_after.value_or(absl::ZeroDuration());
  spec.flap_window = m.flap_window.value_or(absl::Minutes(5));
  absl::Status valid = check::ValidateCheckSpec(spec, h + ".", check::FieldNames::kManifest);
  if (!valid.ok()) return absl::InvalidArgumentError(absl::StrCat(m.source, ": ", valid.message()));
  return spec;
}

}  // namespace hb::manifest
