// The operator's HTTP endpoints: /metrics (Prometheus text format, collected from
// OperatorCollector at each scrape) and the probes /healthz and /readyz, each on its own
// bounded HttpServer (metrics/http_server.h: worker threads, request timeout, header size),
// so that slow or hostile clients cannot hold either for longer than its limits allow.
//
// Bind addresses are "host:port" or ":port" (every interface); "0" turns a server off.
// Start fails, never throws, with a message naming the address when it cannot listen.
// Thread-safety: the servers answer on their own threads; destruction stops them.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "metrics/http_server.h"
#include "metrics/operator_collector.h"

namespace hb::metrics {

class MetricsServer {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& bind,
                                                              MetricsSources sources,
                                                              const HttpLimits& limits = {});
  ~MetricsServer();
  int port() const { return http_->port(); }

 private:
  MetricsServer() = default;
  std::unique_ptr<OperatorCollector> collector_;  // outlives http_, whose handler reads it
  std::unique_ptr<HttpServer> http_;
};

// A readiness check: OK, or a reason to report in the 503 answer.
using ReadinessCheck = std::function<absl::Status()>;

class HealthServer {
 public:
  // /healthz answers 200 while the process serves; /readyz 200 when `ready` says so, else
  // 503 with its reason. `ready` runs on the server's threads.
  static absl::StatusOr<std::unique_ptr<HealthServer>> Start(const std::string& bind,
                                                             ReadinessCheck ready,
                                                             const HttpLimits& limits = {});
  ~HealthServer();
  int port() const { return http_->port(); }

 private:
  HealthServer() = default;
  ReadinessCheck ready_;  // outlives http_
  std::unique_ptr<HttpServer> http_;
};

// ":8080" -> "0.0.0.0:8080"; "host:port" unchanged. Error for anything without a port.
absl::StatusOr<std::string> NormalizeBindAddress(const std::string& bind);

}  // namespace hb::metrics
