// Command-line options of the notifications (alert/notifier.h), shared by `heartbeat` and
// `controller`, and the Notifier they describe.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "alert/notifier.h"
#include "common/clock.h"
#include "heartbeat/engine.h"

namespace hb::cli {

struct AlertFlags {
  std::string alertmanager_url;
  std::string webhook_url;
  std::string webhook_secret_file;
  double hold = 5;
  double storm_share = 0.2;
  int64_t storm_min = 10;
  double resend = 60;
  double timeout = 5;
  int64_t queue = 10000;

  bool enabled() const { return !alertmanager_url.empty() || !webhook_url.empty(); }
};

void AddAlertFlags(CLI::App& command, AlertFlags& flags);
// OK, or InvalidArgument naming the flag (a bad URL or value, an unreadable or empty secret
// file: named, its content never shown). MakeNotifier checks the same.
absl::Status ValidateAlertFlags(const AlertFlags& flags);

// Null when no notification URL is set. InvalidArgument naming the flag for a bad URL or
// value; an unreadable or empty secret file names the file (never its content). The
// notifier reads the engine's statuses; `instance` names this process in notifications.
// It is not started yet, and the caller adds its Changed() to the engine's change hooks.
absl::StatusOr<std::unique_ptr<alert::Notifier>> MakeNotifier(const AlertFlags& flags,
                                                              heartbeat::HeartbeatEngine& engine,
                                                              Clock& clock,
                                                              const std::string& instance);

}  // namespace hb::cli
