// `heartbeat-operator dashboard`: a live, read-only web page of every health key under
// --key-prefix, read from etcd itself (src/dashboard/dashboard.h), served on
// --bind-address (127.0.0.1:8082 by default) until SIGINT/SIGTERM. The controller serves the
// same page behind --dashboard-bind-address (StartDashboard).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "dashboard/dashboard.h"
#include "etcd/etcd_client.h"
#include "etcd_flags.h"

namespace hb::cli {

struct DashboardFlags {
  std::string bind = "127.0.0.1:8082";
  std::string key_prefix = "/chora/capabilities/";
  std::string log_format = "text";
  int max_streams = 16;
  EtcdFlags etcd;
};

CLI::App* AddDashboardCommand(CLI::App& app, DashboardFlags& flags);
int RunDashboard(const DashboardFlags& flags);

// The dashboard on `bind` (HOST:PORT or :PORT) reading `client`; null when `bind` is "0" or
// empty (off). Fails when the address is malformed or cannot be listened on.
absl::StatusOr<std::unique_ptr<dashboard::Dashboard>> StartDashboard(const std::string& bind,
                                                                     etcd::EtcdClient& client,
                                                                     const std::string& prefix,
                                                                     int max_streams = 16);

}  // namespace hb::cli
