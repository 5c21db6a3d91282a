// `heartbeat-operator heartbeat`: standalone mode, the original service's job without
// Kubernetes. Heartbeats the capabilities named by --namespace and/or discovered in a
// directory of manifests until SIGINT/SIGTERM, then revokes the leases (or keeps them).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "engine_flags.h"
#include "etcd_flags.h"

namespace hb::cli {

struct HeartbeatFlags {
  std::vector<std::string> namespaces;
  bool auto_discover = false;
  std::string capabilities_dir = "capabilities/";
  bool keep_leases = false;
  std::string check_host = "127.0.0.1";
  EngineFlags engine;
  EtcdFlags etcd;
};

CLI::App* AddHeartbeatCommand(CLI::App& app, HeartbeatFlags& flags);
// Returns the process exit code: 0 after a clean stop, 1 when it cannot run, 2 for
// usage errors found after parsing.
int RunHeartbeat(const HeartbeatFlags& flags);

// Shared by the commands: applies LOG_LEVEL and --log-format; false (and a message on
// stderr) when either is invalid.
bool ConfigureLogging(const std::string& format);

// Prints "heartbeat-operator <command>: <message>" and where to find the options; returns
// the usage-error exit code, 2.
int UsageError(const std::string& command, const std::string& message);

}  // namespace hb::cli
