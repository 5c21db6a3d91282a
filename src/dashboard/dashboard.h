// Dashboard: the live web page of every health key under a prefix, as one object: a
// HealthBoard fed from etcd by a BoardFeed (range, then watch) and served by a
// DashboardServer. Used by the `dashboard` command and by the controller's
// --dashboard-bind-address.
//
// Thread-safety: as its parts; destruction stops the server, then the feed.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "dashboard/board_feed.h"
#include "dashboard/dashboard_server.h"
#include "dashboard/health_board.h"
#include "etcd/etcd_client.h"

namespace hb::dashboard {

class Dashboard {
 public:
  // `client` and `clock` must outlive the dashboard. Fails when the address cannot be
  // listened on; etcd being unreachable is not an error (the feed retries, the page waits).
  static absl::StatusOr<std::unique_ptr<Dashboard>> Start(etcd::EtcdClient& client,
                                                          const std::string& prefix,
                                                          const DashboardOptions& options,
                                                          Clock& clock);
  ~Dashboard();

  int port() const { return server_->port(); }
  const BoardFeed& feed() const { return *feed_; }

 private:
  Dashboard() = default;
  std::unique_ptr<HealthBoard> board_;
  std::unique_ptr<BoardFeed> feed_;
  std::unique_ptr<DashboardServer> server_;
};

}  // namespace hb::dashboard
