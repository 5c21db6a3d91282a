// heartbeat-operator: keeps etcd health keys alive for Service-type capabilities.
#include <CLI/CLI.hpp>
#include <iostream>

#include "absl/synchronization/mutex.h"
#include "controller_command.h"
#include "heartbeat_command.h"
#include "status_command.h"

int main(int argc, char** argv) {
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    app.exit(e);
    return 2;
  }
  if (heartbeat->parsed()) return hb::cli::RunHeartbeat(heartbeat_flags);
  if (status->parsed()) return hb::cli::RunStatus(status_flags);
  if (controller->parsed()) return hb::cli::RunController(controller_flags);
  return 2;
}
