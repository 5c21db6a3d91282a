// GrpcProber: grpc.health.v1.Health/Check probes (the standard gRPC health protocol,
// proto/grpc/health/v1/health.proto), asynchronous on one completion queue and thread (started by
// the first probe).
//
// One channel per target (host:port and TLS settings), kept for later probes, so a probe
// is one call on an open HTTP/2 connection. SERVING passes; NOT_SERVING, SERVICE_UNKNOWN,
// an error status or the deadline (spec.timeout) fails with the reason. With
// spec.grpc_tls the channel uses TLS with spec.tls's CA, client certificate and server
// name.
//
// Thread-safe; Probe() never blocks. `done` runs on the prober's thread. The destructor
// cancels the calls in flight and abandons them without calling `done`.
#pragma once

#include <memory>
#include <string>

#include "check/prober.h"

namespace hb::check {

class GrpcProber final : public Prober {
 public:
  // `files_dir`: TLS files only from here ("": anywhere).
  explicit GrpcProber(std::string files_dir = "");
  ~GrpcProber() override;
  GrpcProber(const GrpcProber&) = delete;
  GrpcProber& operator=(const GrpcProber&) = delete;

  void Probe(const CheckSpec& spec, ProbeDone done) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hb::check
