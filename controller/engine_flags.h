// Command-line options of the heartbeat engine, shared by `heartbeat` and `controller`:
// default timing, write mode, lease mode, key prefix, adoption, load shaping, shutdown, logging,
// health checks.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "alert_flags.h"
#include "heartbeat/engine.h"

namespace hb::cli {

struct EngineFlags {
  int64_t interval = 10;
  int64_t ttl = 30;
  std::string mode = "every-beat";
  std::string lease_mode = "per-capability";
  int shared_leases = 16;
  int64_t refresh = 300;
  std::string key_prefix = "/chora/capabilities/";
  bool no_adopt = false;
  double shutdown_timeout = 10;
  int max_in_flight = 512;
  int max_batch = 128;
  int64_t batch_window_ms = 200;
  int64_t stats_interval = 0;
  std::string log_format = "text";
  // Health checks (check/checker.h).
  bool health_checks = true;
  int check_concurrency = 256;
  std::string check_files_dir;  // token and TLS files of checks only from here ("": anywhere)
  AlertFlags alerts;            // notifications of transitions
};

void AddEngineFlags(CLI::App& command, EngineFlags& flags);
// Empty when the timing and the notification options are valid, else the usage error to print.
std::string CheckTiming(const EngineFlags& flags);
heartbeat::EngineOptions ToEngineOptions(const EngineFlags& flags, absl::Duration etcd_timeout);

}  // namespace hb::cli
