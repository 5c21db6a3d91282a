// `heartbeat-operator status [--watch]`: what the original README did with etcdctl and
// Python snippets. Prints one row per health key (identifier, status, age of the last
// heartbeat, count, lease TTL remaining); with --watch, then prints every heartbeat,
// expiry and removal as it happens until interrupted.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "etcd_flags.h"

namespace hb::cli {

struct StatusFlags {
  bool watch = false;
  std::string output = "table";
  std::string key_prefix = "/chora/capabilities/";
  std::string log_format = "text";
  EtcdFlags etcd;
};

CLI::App* AddStatusCommand(CLI::App& app, StatusFlags& flags);
int RunStatus(const StatusFlags& flags);

}  // namespace hb::cli
