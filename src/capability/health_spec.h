// Reading a Capability's spec.health into a CheckSpec (check/check_spec.h).
//
//   spec.health: {url | tcp {host, port} | grpc {host, port, service, tls} |
//                 serviceRef {name, port, minReady}, endpoint, timeoutSeconds,
//                 periodSeconds, failureThreshold, successThreshold, initialDelaySeconds,
//                 deregisterAfterSeconds, flapThreshold, flapWindowSeconds,
//                 tls {caFile, certFile, keyFile, serverName, insecureSkipVerify},
//                 headers [{name, value}], bearerTokenFile, disabled}
// At most one target; none gives kind kNone with the reason. The period defaults to the
// heartbeat interval, the timeout to half the period. Pure; never throws.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "check/check_spec.h"
#include "nlohmann/json.hpp"

namespace hb::capability {

// `health` is spec.health (an object, or null/absent); `ns` the Capability's namespace
// (serviceRef's); `interval_seconds` the heartbeat interval. InvalidArgument naming the
// field ("spec.health.tcp.port: must be an integer") for a spec that cannot run.
absl::StatusOr<check::CheckSpec> HealthSpecFromJson(const nlohmann::json& health,
                                                    const std::string& ns,
                                                    int64_t interval_seconds);

}  // namespace hb::capability
