#include "dashboard_command.h"

#include <iostream>

#include "common/clock.h"
#include "common/log.h"
#include "etcd/grpc_etcd_client.h"
#include "heartbeat_command.h"
#include "metrics/servers.h"
#include "signals.h"

namespace hb::cli {

CLI::App* AddDashboardCommand(CLI::App& app, DashboardFlags& flags) {
  CLI::App* cmd = app.add_subcommand(
      "dashboard",
      "Serve a live, read-only web page of every health key in etcd: status, check result, "
      "last heartbeat, TTL, lease, count and recent transitions, updated as etcd changes "
      "(Server-Sent Events). Keys that expire stay on the page as expired. Runs until "
      "SIGINT/SIGTERM.");
  cmd->add_option("--bind-address", flags.bind,
                  "Where the page listens, HOST:PORT or :PORT (:PORT listens on every interface)")
      ->capture_default_str();
  cmd->add_option("--key-prefix", flags.key_prefix, "Prefix of the health keys")
      ->capture_default_str();
  cmd->add_option("--max-streams", flags.max_streams,
                  "Browser tabs served live updates at once (beyond them: 503)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--log-format", flags.log_format, "text or json")
      ->capture_default_str()
      ->envname("LOG_FORMAT");
  AddEtcdFlags(*cmd, flags.etcd);
  return cmd;
}

absl::StatusOr<std::unique_ptr<dashboard::Dashboard>> StartDashboard(const std::string& bind,
                                                                     etcd::EtcdClient& client,
                                                                     const std::string& prefix,
                                                                     int max_streams) {
  if (bind.empty() || bind == "0") return nullptr;
  auto address = metrics::NormalizeBindAddress(bind);
  if (!address.ok()) return address.status();
  dashboard::DashboardOptions options;
  options.address = *address;
  options.max_streams = max_streams;
  return dashboard::Dashboard::Start(client, prefix, options, RealClock::Get());
}

int RunDashboard(const DashboardFlags& flags) {
  if (!ConfigureLogging(flags.log_format)) return 2;
  if (flags.bind.empty() || flags.bind == "0") {
    return UsageError("dashboard", "--bind-address: expected HOST:PORT or :PORT");
  }
  if (auto address = metrics::NormalizeBindAddress(flags.bind); !address.ok()) {
    return UsageError("dashboard", std::string(address.status().message()));
  }
  auto options = ToClientOptions(flags.etcd);
  if (!options.ok()) return UsageError("dashboard", std::string(options.status().message()));
  auto client = etcd::GrpcEtcdClient::Create(*options);
  if (!client.ok()) {
    std::cerr << "heartbeat-operator dashboard: " << client.status().message() << "\n";
    return 1;
  }
  auto dashboard = StartDashboard(flags.bind, **client, flags.key_prefix, flags.max_streams);
  if (!dashboard.ok()) {
    std::cerr << "heartbeat-operator dashboard: " << dashboard.status().message() << "\n";
    return 1;
  }
  LogInfo("Dashboard started", {{"address", flags.bind},
                                {"port", (*dashboard)->port()},
                                {"prefix", flags.key_prefix},
                                {"etcd", DescribeEndpoints(*options)}});
  int signal = 0;
  while ((signal = WaitForTerminationSignal(absl::Hours(1))) == 0) {
  }
  LogInfo("Dashboard stopped", {{"signal", SignalName(signal)}});
  dashboard->reset();  // before the client it reads
  return 0;
}

}  // namespace hb::cli
