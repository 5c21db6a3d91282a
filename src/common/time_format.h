// Time formatting shared by the health value, logs and the status command.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hb {

// RFC 3339 in UTC with microseconds and a "Z" suffix, as the original service wrote
// (Python's isoformat() + "Z"): 2025-11-15T22:30:00.123456Z.
std::string FormatRfc3339(absl::Time t);
// The same, appended to `out`: without a time zone lookup for years 1970 to 9999 (the
// health value writes one per beat), through absl::FormatTime otherwise.
void AppendRfc3339(absl::Time t, std::string& out);
// Accepts any RFC 3339 timestamp (fractional seconds and offsets optional).
absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view text);
// A short human age the way kubectl prints it: 45s, 3m12s, 2h5m, 3d4h. Negative → "0s".
std::string HumanDuration(absl::Duration d);

}  // namespace hb
