#include "dashboard/dashboard.h"

namespace hb::dashboard {

absl::StatusOr<std::unique_ptr<Dashboard>> Dashboard::Start(etcd::EtcdClient& client,
                                                            const std::string& prefix,
                                                            const DashboardOptions& options,
                                                            Clock& clock) {
  std::unique_ptr<Dashboard> dashboard(new Dashboard());
  dashboard->board_ = std::make_unique<HealthBoard>(prefix);
  auto server = DashboardServer::Start(*dashboard->board_, clock, options);
  if (!server.ok()) return server.status();
  dashboard->server_ = *std::move(server);
  dashboard->feed_ = std::make_unique<BoardFeed>(client, *dashboard->board_, clock);
  dashboard->feed_->Start();
  return dashboard;
}

Dashboard::~Dashboard() {
  server_.reset();
  feed_.reset();
}

}  // namespace hb::dashboard
