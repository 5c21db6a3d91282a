// heartbeat-operator: keeps etcd health keys alive for Service-type capabilities.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "controller_command.h"
#include "dashboard_command.h"
#include "heartbeat_command.h"
#include "signals.h"
#include "status_command.h"

int main(int argc, char** argv) {
  // First of all, before any library starts a thread of its own: a SIGTERM that arrives
  // during start-up then waits for the orderly shutdown instead of killing the process.
  hb::cli::BlockTerminationSignals();
  // Debian's abseil checks every mutex acquisition for lock-order cycles, which costs
  // more than the work it guards; the tests keep the checks.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{
      "heartbeat-operator keeps an etcd lease and a JSON health key alive for every "
      "Service-type capability, so that consumers can read or watch "
      "/chora/capabilities/<identifier>/health and see a service vanish when it is gone."};
  app.name("heartbeat-operator");
  app.set_version_flag("--version", HB_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);

  hb::cli::HeartbeatFlags heartbeat_flags;
  CLI::App* heartbeat = hb::cli::AddHeartbeatCommand(app, heartbeat_flags);
  hb::cli::ControllerFlags controller_flags;
  CLI::App* controller = hb::cli::AddControllerCommand(app, controller_flags);
  hb::cli::StatusFlags status_flags;
  CLI::App* status = hb::cli::AddStatusCommand(app, status_flags);
  hb::cli::DashboardFlags dashboard_flags;
  CLI::App* dashboard = hb::cli::AddDashboardCommand(app, dashboard_flags);

  // "--flag=" means an empty value (e.g. --configmap-selector=); CLI11 would take the next
  // argument instead, so it is passed on as "--flag" "".
  std::vector<std::string> args;
  for (int i = argc - 1; i >= 1; --i) {
    std::string arg = argv[i];
    if (arg.size() > 3 && arg.rfind("--", 0) == 0 && arg.back() == '=' &&
        arg.find('=') == arg.size() - 1) {
      args.push_back("");
      arg.pop_back();
    }
    args.push_back(arg);
  }
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    app.exit(e);
    return 2;
  }
  if (heartbeat->parsed()) return hb::cli::RunHeartbeat(heartbeat_flags);
  if (status->parsed()) return hb::cli::RunStatus(status_flags);
  if (dashboard->parsed()) return hb::cli::RunDashboard(dashboard_flags);
  if (controller->parsed()) return hb::cli::RunController(controller_flags);
  return 2;
}
