#include "metrics/servers.h"

#include <prometheus/text_serializer.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace hb::metrics {
namespace {

void LogStarted(const char* what, const std::string& address, const char* paths,
                const HttpLimits& limits) {
  LogInfo(what, {{"address", address},
                 {"paths", paths},
                 {"threads", limits.threads},
                 {"request_timeout_ms", limits.request_timeout_ms},
                 {"max_request_size", limits.max_request_size}});
}

}  // namespace

absl::StatusOr<std::string> NormalizeBindAddress(const std::string& bind) {
  size_t colon = bind.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(bind.substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bind address \"", bind, "\": expected HOST:PORT or :PORT (\"0\": off)"));
  }
  std::string host = bind.substr(0, colon);
  return absl::StrCat(host.empty() ? "0.0.0.0" : host, ":", port);
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& bind,
                                                                    MetricsSources sources,
                                                                    const HttpLimits& limits) {
  auto address = NormalizeBindAddress(bind);
  if (!address.ok()) return address.status();
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->collector_ = std::make_unique<OperatorCollector>(std::move(sources));
  const OperatorCollector* collector = server->collector_.get();
  std::map<std::string, HttpHandler> handlers;
  handlers["/metrics"] = [collector] {
    return HttpResponse{200, prometheus::TextSerializer().Serialize(collector->Collect()),
                        "text/plain; version=0.0.4; charset=utf-8"};
  };
  auto http = HttpServer::Start("metrics", *address, std::move(handlers), limits);
  if (!http.ok()) return http.status();
  server->http_ = *std::move(http);
  LogStarted("Serving metrics", *address, "/metrics", limits);
  return server;
}

MetricsServer::~MetricsServer() = default;

absl::StatusOr<std::unique_ptr<HealthServer>> HealthServer::Start(const std::string& bind,
                                                                  ReadinessCheck ready,
                                                                  const HttpLimits& limits) {
  auto address = NormalizeBindAddress(bind);
  if (!address.ok()) return address.status();
  std::unique_ptr<HealthServer> server(new HealthServer());
  server->ready_ = std::move(ready);
  const ReadinessCheck* check = &server->ready_;
  std::map<std::string, HttpHandler> handlers;
  handlers["/healthz"] = [] { return HttpResponse{200, "ok\n"}; };
  handlers["/readyz"] = [check] {
    absl::Status status = (*check)();
    if (status.ok()) return HttpResponse{200, "ok\n"};
    return HttpResponse{503, absl::StrCat("not ready: ", status.message(), "\n")};
  };
  auto http = HttpServer::Start("health probes", *address, std::move(handlers), limits);
  if (!http.ok()) return http.status();
  server->http_ = *std::move(http);
  LogStarted("Serving health probes", *address, "/healthz,/readyz", limits);
  return server;
}

HealthServer::~HealthServer() = default;

}  // namespace hb::metrics
