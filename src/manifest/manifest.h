// Capability manifests: the YAML files of the original registry, one capability each.
//
//   metadata:
//     dc_identifier: chora.devex.registry   # the identifier; the etcd key segment
//     dc_type: Service                      # informative; see below
//     dc_title: ...                         # optional
//     dc_hasVersion: 1.0.0                  # optional
//   chora_service:                          # present = Service-type (top level, or under spec)
//     interfaces: [cli, mcp]                # names, or objects: {type: rest, port: 8080,
//                                           #   host: 0.0.0.0} (a rest one is probed)
//     health:
//       endpoint: /health                   # path probed on the rest interface
//       interval: 10                        # seconds, or "10s", "1m", "1h", "1m30s"
//       heartbeat_ttl: 30s
//       timeout: 5s                         # default: half the interval
//       # extensions: url (base URL), tcp {host, port}, grpc {host, port, service},
//       # failure_threshold, success_threshold, initial_delay, deregister_after,
//       # flap_threshold, flap_window, liveness_probe, readiness_probe, startup_probe
//
// Both layouts of the chora format are read: `chora_service` at the top level (the
// registry's manifests) and under `spec` (the specification's examples). A capability is
// Service-type exactly when the parsed document has that key (a comment mentioning it does
// not count). Pure functions; no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "check/check_spec.h"

namespace hb::manifest {

struct Manifest {
  std::string source;         // where it came from: a file path, or "ns/configmap[key]"
  std::string identifier;     // metadata.dc_identifier
  std::string declared_type;  // metadata.dc_type as written (may be empty)
  std::string title;
  std::string version;
  bool service = false;      // has a top-level chora_service key
  std::string service_path = "chora_service";  // or "spec.chora_service", for messages
  // chora_service.health overrides; unset means "use the command's default".
  std::optional<int64_t> interval_seconds;
  std::optional<int64_t> ttl_seconds;
  std::optional<absl::Duration> timeout;
  std::string endpoint;
  std::string url;  // health.url: base URL the endpoint is appended to
  std::string tcp_host, grpc_host, grpc_service;
  int tcp_port = 0, grpc_port = 0;
  std::optional<int64_t> failure_threshold, success_threshold, flap_threshold;
  std::optional<absl::Duration> initial_delay, deregister_after, flap_window;
  std::string liveness_probe, readiness_probe, startup_probe;  // informative
  // The first `rest` interface given as an object: where the service answers HTTP.
  std::string rest_host;                // as written (default "0.0.0.0": the service's own address)
  int rest_port = 0;                    // 0: no rest interface with a port
  std::vector<std::string> interfaces;  // interface names or types, in order
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

// A duration as the chora format writes it: a bare number of seconds (10, 2.5) or a number
// with units ("10s", "1m", "24h", "1m30s", "500ms"). InvalidArgument otherwise.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);

struct CheckDefaults {
  bool enabled = true;  // false: every capability is checked as "none"
  // The address probed when the rest interface binds 0.0.0.0 (the service's own address):
  // standalone mode's --check-host. Empty: unknown, so such a manifest is checked as none.
  std::string any_host = "127.0.0.1";
};

// How the manifest's service is checked: health.url, tcp or grpc when given, else the rest
// interface's host and port joined with health.endpoint, else kNone saying why. Period:
// the interval; timeout: health.timeout or half the interval. Errors (a bad threshold, a
// timeout not below the interval) name the source and field.
absl::StatusOr<check::CheckSpec> ResolveCheck(const Manifest& manifest,
                                              const HeartbeatTiming& timing,
                                              const CheckDefaults& defaults);

}  // namespace hb::manifest
