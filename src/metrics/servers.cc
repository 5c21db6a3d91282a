#include "metrics/servers.h"

#include <cpprest/http_listener.h>
#include <prometheus/exposer.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace hb::metrics {

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
                                                                    MetricsSources sources) {
  auto address = NormalizeBindAddress(bind);
  if (!address.ok()) return address.status();
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->collector_ = std::make_shared<OperatorCollector>(std::move(sources));
  try {
    server->exposer_ = std::make_unique<prometheus::Exposer>(*address, 2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", *address, ": ", e.what()));
  }
  server->exposer_->RegisterCollectable(server->collector_);
  LogInfo("Serving metrics", {{"address", *address}, {"path", "/metrics"}});
  return server;
}

MetricsServer::~MetricsServer() = default;

class HealthServer::Impl {
 public:
  Impl(const std::string& url, ReadinessCheck ready)
      : listener_(web::uri(url)), ready_(std::move(ready)) {
    listener_.support(web::http::methods::GET,
                      [this](web::http::http_request request) { Handle(std::move(request)); });
  }
  void Open() { listener_.open().wait(); }
  ~Impl() {
    try {
      listener_.close().wait();
    } catch (const std::exception&) {
    }
  }

 private:
  void Handle(web::http::http_request request) {
    std::string path = request.relative_uri().path();
    web::http::status_code code = web::http::status_codes::OK;
    std::string body = "ok\n";
    if (path == "/readyz") {
      absl::Status ready = ready_();
      if (!ready.ok()) {
        code = web::http::status_codes::ServiceUnavailable;
        body = absl::StrCat("not ready: ", ready.message(), "\n");
      }
    } else if (path != "/healthz") {
      code = web::http::status_codes::NotFound;
      body = "not found\n";
    }
    request.reply(code, body, "text/plain; charset=utf-8").then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (const std::exception&) {
      }
    });
  }

  web::http::experimental::listener::http_listener listener_;
  ReadinessCheck ready_;
};

absl::StatusOr<std::unique_ptr<HealthServer>> HealthServer::Start(const std::string& bind,
                                                                  ReadinessCheck ready) {
  auto address = NormalizeBindAddress(bind);
  if (!address.ok()) return address.status();
  std::unique_ptr<HealthServer> server(new HealthServer());
  try {
    server->impl_ = std::make_unique<Impl>(absl::StrCat("http://", *address), std::move(ready));
    server->impl_->Open();
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve health probes on ", *address, ": ", e.what()));
  }
  LogInfo("Serving health probes", {{"address", *address}, {"paths", "/healthz,/readyz"}});
  return server;
}

HealthServer::~HealthServer() = default;

}  // namespace hb::metrics
