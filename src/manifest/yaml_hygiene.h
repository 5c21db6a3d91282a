// Checks a manifest's text and YAML tree before its fields are read: what yaml-cpp
// accepts silently but a manifest must not contain.
//
// Internal to hb_manifest (ParseManifest runs both). Errors are InvalidArgument
// "<source>: <where>: <what>", never carrying raw bytes of the input. Pure functions.
#pragma once

#include <yaml-cpp/yaml.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace hb::manifest::internal {

inline constexpr size_t kMaxManifestBytes = 1 << 20;  // a ConfigMap's own limit
inline constexpr int kMaxYamlDepth = 64;
inline constexpr int kMaxYamlNodes = 100'000;  // aliases expand: bounds the walk too

// At most 1 MiB of UTF-8 text without NUL bytes (a binary file is reported as such).
absl::Status CheckManifestText(absl::string_view text, absl::string_view source);

// No mapping with the same key twice (yaml-cpp keeps the first, silently), at most
// kMaxYamlDepth levels and kMaxYamlNodes nodes (counting each alias use).
absl::Status CheckYamlTree(const YAML::Node& doc, absl::string_view source);

}  // namespace hb::manifest::internal
