// Client configuration: where etcd is and how to authenticate to it.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/backoff.h"

namespace hb::etcd {

struct Endpoint {
  std::string host_port;  // "host:port", what gRPC dials
  bool https = false;     // given as https://host:port
};

// Parses a comma-separated list such as "10.0.0.1:2379,https://etcd-1:2379". Schemes
// http:// and https:// are accepted (https implies TLS); a port is required.
absl::StatusOr<std::vector<Endpoint>> ParseEndpoints(absl::string_view list);

struct ClientOptions {
  std::vector<Endpoint> endpoints;
  // TLS is used when `tls` is set, when any endpoint is https://, or when a CA or client
  // certificate is given. An empty CA file means the system's trusted roots.
  bool tls = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // etcd username/password authentication (Auth.Authenticate); empty username: none.
  std::string username;
  std::string password;
  // Where the password came from, if a file: read again after a refused authentication,
  // so that a rotated Secret is picked up without a restart.
  std::string password_file;
  absl::Duration call_timeout = absl::Seconds(5);
  // A keep-alive stream that gets no answer at all for this long while requests wait for
  // one is stuck on a member that does not answer (frozen, cut from its peers): the client
  // fails over to the next endpoint. Zero: never (only gRPC's connection keep-alive, 15 s).
  absl::Duration stall_timeout = absl::Seconds(2);
  // Completion-queue threads. One keeps up with 100,000 leases and costs the fewest
  // thread wake-ups per heartbeat.
  int threads = 1;
  // Reconnect pacing for the long-lived streams (and gRPC's own channel reconnects).
  BackoffPolicy reconnect{absl::Milliseconds(100), absl::Seconds(1), 2.0, 0.5};
  // Seed of the reconnect jitter (each stream derives its own); 0: random.
  uint64_t jitter_seed = 0;

  bool UseTls() const;
};

}  // namespace hb::etcd
