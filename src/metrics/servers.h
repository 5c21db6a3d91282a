// The operator's HTTP endpoints: /metrics (Prometheus text format, served by
// prometheus-cpp) and the probes /healthz and /readyz (served with cpprestsdk).
//
// Bind addresses are "host:port" or ":port" (every interface); "0" turns a server off.
// Construction fails with a message naming the address when it cannot listen.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "metrics/operator_collector.h"

namespace prometheus {
class Exposer;
}

namespace hb::metrics {

class MetricsServer {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& bind,
                                                              MetricsSources sources);
  ~MetricsServer();

 private:
  MetricsServer() = default;
  std::shared_ptr<OperatorCollector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

// A readiness check: OK, or a reason to report in the 503 answer.
using ReadinessCheck = std::function<absl::Status()>;

class HealthServer {
 public:
  // /healthz answers 200 while the process serves; /readyz 200 when `ready` says so.
  static absl::StatusOr<std::unique_ptr<HealthServer>> Start(const std::string& bind,
                                                             ReadinessCheck ready);
  ~HealthServer();

 private:
  class Impl;
  HealthServer() = default;
  std::unique_ptr<Impl> impl_;
};

// ":8080" -> "0.0.0.0:8080"; "host:port" unchanged. Error for anything without a port.
absl::StatusOr<std::string> NormalizeBindAddress(const std::string& bind);

}  // namespace hb::metrics
