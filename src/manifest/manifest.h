// Capability manifests: the YAML files of the original registry, one capability each.
//
//   metadata:
//     dc_identifier: chora.devex.registry   # the identifier; the etcd key segment
//     dc_type: Service                      # informative; see below
//     dc_title: ...                         # optional
//     dc_hasVersion: 1.0.0                  # optional
//   chora_service:                          # present (as a top-level key) = Service-type
//     health: {interval: 10, heartbeat_ttl: 30, timeout: 5, endpoint: /health}
//
// A capability is Service-type exactly when the parsed document has a top-level
// `chora_service` key (a comment mentioning it does not count). Pure functions; no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hb::manifest {

struct Manifest {
  std::string source;         // where it came from: a file path, or "ns/configmap[key]"
  std::string identifier;     // metadata.dc_identifier
  std::string declared_type;  // metadata.dc_type as written (may be empty)
  std::string title;
  std::string version;
  bool service = false;  // has a top-level chora_service key
  // chora_service.health overrides; unset means "use the command's default".
  std::optional<int64_t> interval_seconds;
  std::optional<int64_t> ttl_seconds;
  std::optional<int64_t> timeout_seconds;
  std::string endpoint;
};

// Identifier rule shared by manifests, the command line and the CRD: lowercase
// dot-separated segments of [a-z0-9_-], each starting and ending with a letter or digit,
// at most 253 characters. Such a string is safe as an etcd key segment.
bool IsValidIdentifier(absl::string_view identifier);
// The pattern above as a regular expression (for the CRD schema and messages).
extern const char kIdentifierPattern[];

// Parses one manifest. Errors are InvalidArgument with a message naming the source and
// the field: `capabilities/x.yaml: metadata.dc_identifier: missing`.
absl::StatusOr<Manifest> ParseManifest(absl::string_view text, absl::string_view source);

struct HeartbeatTiming {
  int64_t interval_seconds = 10;
  int64_t ttl_seconds = 30;
};

// The manifest's timing with `defaults` filled in, checked: TTL at least 2 s (etcd's
// minimum), interval at least 1 s and below the TTL. Errors name source and field.
absl::StatusOr<HeartbeatTiming> ResolveTiming(const Manifest& manifest,
                                              const HeartbeatTiming& defaults);

}  // namespace hb::manifest
