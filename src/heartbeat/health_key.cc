#include "heartbeat/health_key.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace hb::heartbeat {

std::string HealthKey(absl::string_view prefix, absl::string_view identifier) {
  return absl::StrCat(prefix, identifier, "/health");
}

std::optional<std::string> ParseHealthKey(absl::string_view prefix, absl::string_view key) {
  absl::string_view id = key;
  if (!absl::ConsumePrefix(&id, prefix) || !absl::ConsumeSuffix(&id, "/health") || id.empty() ||
      id.find('/') != absl::string_view::npos) {
    return std::nullopt;
  }
  return std::string(id);
}

}  // namespace hb::heartbeat
