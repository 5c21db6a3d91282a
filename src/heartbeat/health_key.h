// The health key of a capability, "<prefix><identifier>/health" (e.g.
// /chora/capabilities/chora.devex.registry/health): the one place it is built and read
// back. The value stored under it is described in health_value.h. Pure functions.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace hb::heartbeat {

// The default prefix, as the original service used it.
inline constexpr absl::string_view kDefaultKeyPrefix = "/chora/capabilities/";

std::string HealthKey(absl::string_view prefix, absl::string_view identifier);

// The identifier whose health key `key` is under `prefix`; nullopt for any other key (a
// different prefix or suffix, an empty identifier, or one with a '/').
std::optional<std::string> ParseHealthKey(absl::string_view prefix, absl::string_view key);

}  // namespace hb::heartbeat
