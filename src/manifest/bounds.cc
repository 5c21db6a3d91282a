#include "manifest/bounds.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace hb::manifest {
namespace {

absl::Status Bad(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

}  // namespace

absl::Status ValidateTiming(int64_t interval, int64_t ttl, absl::string_view interval_field,
                            absl::string_view ttl_field, absl::string_view order_field) {
  if (ttl < kMinTtlSeconds || ttl > kMaxTtlSeconds) {
    return Bad(ttl_field, absl::StrCat("TTL must be ", kMinTtlSeconds, " to ", kMaxTtlSeconds,
                                       " seconds, got ", ttl));
  }
  if (interval < kMinIntervalSeconds || interval > kMaxIntervalSeconds) {
    return Bad(interval_field, absl::StrCat("interval must be ", kMinIntervalSeconds, " to ",
                                            kMaxIntervalSeconds, " seconds, got ", interval));
  }
  if (interval >= ttl) {
    return Bad(order_field, absl::StrCat("interval (", interval, " s) must be below the TTL (", ttl,
                                         " s), or the key expires between heartbeats"));
  }
  return absl::OkStatus();
}

absl::Status ValidateLength(absl::string_view value, size_t max, absl::string_view field) {
  if (value.size() <= max) return absl::OkStatus();
  return Bad(field, absl::StrCat("longer than ", max, " characters (", value.size(), ")"));
}

absl::Status ValidateTimeoutSeconds(int64_t seconds, absl::string_view field) {
  if (seconds >= 1 && seconds <= kMaxTimeoutSeconds) return absl::OkStatus();
  return Bad(field, absl::StrCat("must be 1 to ", kMaxTimeoutSeconds, " seconds, got ", seconds));
}

std::string QuoteForMessage(absl::string_view text, size_t max) {
  bool cut = text.size() > max;
  std::string escaped = absl::CHexEscape(cut ? text.substr(0, max) : text);
  return absl::StrCat("\"", escaped, cut ? "...\"" : "\"");
}

}  // namespace hb::manifest
