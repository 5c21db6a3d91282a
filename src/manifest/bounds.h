// The bounds of a capability declaration, the same for every source.
//
// They are the Capability CRD's limits (crds/capabilities.chora.dev.yaml), so a ConfigMap
// entry or a standalone manifest that passes here is also a Capability the API server
// accepts: a mirror is never refused. Each check returns InvalidArgument "<field>: <what>"
// naming the field in the caller's words (the caller adds the source). Pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace hb::manifest {

inline constexpr int64_t kMinIntervalSeconds = 1;
inline constexpr int64_t kMaxIntervalSeconds = 3600;
inline constexpr int64_t kMinTtlSeconds = 2;  // etcd's minimum lease TTL
inline constexpr int64_t kMaxTtlSeconds = 86400;
inline constexpr size_t kMaxTitleLength = 256;
inline constexpr size_t kMaxVersionLength = 64;
inline constexpr size_t kMaxEndpointLength = 2048;
inline constexpr int64_t kMaxTimeoutSeconds = 600;

// Interval 1-3600 s, TTL 2-86400 s, interval below the TTL. When the order is wrong the
// message names `order_field` (the one the user wrote, for a clear hint).
absl::Status ValidateTiming(int64_t interval_seconds, int64_t ttl_seconds,
                            absl::string_view interval_field, absl::string_view ttl_field,
                            absl::string_view order_field);

// A text field of at most `max` bytes.
absl::Status ValidateLength(absl::string_view value, size_t max, absl::string_view field);

// A health timeout in whole seconds (rounded up): 1-600 s.
absl::Status ValidateTimeoutSeconds(int64_t seconds, absl::string_view field);

// `text` shortened to `max` bytes and with every byte that is not printable ASCII escaped
// (\n, \x01, ...), quoted: safe in a log line or a status message.
std::string QuoteForMessage(absl::string_view text, size_t max = 80);

}  // namespace hb::manifest
