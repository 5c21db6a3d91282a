// CheckSpec: how one capability's service is checked, whichever source declared it
// (a Capability's spec.health, a manifest's chora_service.health, a ConfigMap entry).
//
// One kind per capability:
//   kHttp        GET `url` (scheme, host, port and path): 2xx passes; a JSON body's
//                "status" decides when present; anything else, a timeout, a refused or
//                reset connection fails with the reason.
//   kTcp         connect to host:port within the timeout.
//   kGrpc        grpc.health.v1.Health/Check on host:port for `grpc_service`; SERVING passes.
//   kServiceRef  (controller mode) the Service's EndpointSlices have at least `min_ready`
//                ready endpoints; no probe traffic.
//   kNone        nothing verifies the service: the key then says "check":"none", and
//                `none_reason` says why (no target known, checks disabled).
// Timing follows Kubernetes probes: a result every `period`, answers bounded by `timeout`,
// `failure_threshold` consecutive failures to turn unhealthy and `success_threshold`
// passes to turn back, nothing during `initial_delay`; `deregister_after` > 0 removes the
// key after that long unhealthy. Flapping: more than `flap_threshold` changes of state
// within `flap_window`. Plain data plus pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace hb::check {

enum class CheckKind { kNone, kHttp, kTcp, kGrpc, kServiceRef };
// "none", "http", "tcp", "grpc", "serviceRef": the value's "check" field and status.check.
const char* CheckKindName(CheckKind kind);

struct TlsOptions {
  std::string ca_file;    // PEM bundle to verify the server with (empty: the system's)
  std::string cert_file;  // client certificate (PEM), with key_file
  std::string key_file;
  std::string server_name;  // SNI and the name verified (empty: the URL's host)
  bool insecure_skip_verify = false;

  bool operator==(const TlsOptions& o) const;
};

struct CheckSpec {
  CheckKind kind = CheckKind::kNone;
  std::string none_reason;  // kNone: why nothing is checked

  std::string url;                                           // kHttp: the full URL probed
  std::vector<std::pair<std::string, std::string>> headers;  // kHttp: extra request headers
  std::string bearer_token_file;  // kHttp: "Authorization: Bearer <file>" (never logged)
  TlsOptions tls;                 // kHttp with an https URL, and kGrpc with grpc_tls
  bool grpc_tls = false;          // kGrpc: connect with TLS (tls options apply)

  std::string host;          // kTcp, kGrpc
  int port = 0;              // kTcp, kGrpc
  std::string grpc_service;  // kGrpc: the service name asked about ("" = the server)

  std::string service_namespace;  // kServiceRef
  std::string service_name;       // kServiceRef
  std::string service_port;       // kServiceRef: port name or number ("" = any)
  int min_ready = 1;              // kServiceRef

  absl::Duration period = absl::Seconds(10);
  absl::Duration timeout = absl::Seconds(5);
  absl::Duration initial_delay = absl::ZeroDuration();
  int failure_threshold = 3;
  int success_threshold = 1;
  absl::Duration deregister_after = absl::ZeroDuration();  // 0: never
  int flap_threshold = 5;
  absl::Duration flap_window = absl::Minutes(5);

  bool Active() const { return kind != CheckKind::kNone; }
  // Where it probes, for logs and status: the URL, host:port, grpc://host:port/service or
  // service ns/name. Never includes header values.
  std::string Target() const;
  bool operator==(const CheckSpec& o) const;
  bool operator!=(const CheckSpec& o) const { return !(*this == o); }
};

// How a source names the fields in messages: the CRD's (failureThreshold, timeoutSeconds)
// or the manifest's (failure_threshold, timeout).
enum class FieldNames { kCrd, kManifest };

// The bounds every source shares (the CRD's limits). InvalidArgument naming the field in
// `field_prefix` terms, e.g. "spec.health.failureThreshold: must be 1-100, got 0".
absl::Status ValidateCheckSpec(const CheckSpec& spec, const std::string& field_prefix,
                               FieldNames names = FieldNames::kCrd);

// `base` (a URL) followed by `path` ("/health"), with exactly one slash between them;
// `base` alone when `path` is empty.
std::string JoinUrl(std::string base, const std::string& path);

// A spec that checks nothing, saying why.
CheckSpec NoCheck(std::string reason);

// Whether the files a spec reads (bearer token, CA, client certificate and key) lie inside
// `dir` (empty: anywhere). A Capability's author must not be able to make the operator send
// its own credentials (its service account token) to a URL of their choosing: in controller
// mode only files under --check-files-dir are read. PermissionDenied naming the file.
absl::Status CheckFilesAllowed(const CheckSpec& spec, const std::string& dir);

}  // namespace hb::check
