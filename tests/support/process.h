// Subprocesses for integration tests: start a program with its output captured in files,
// signal it, wait for it with a deadline. Also free loopback ports and polling helpers.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace hb::testing {

class Process {
 public:
  // Starts `argv` with stdout and stderr appended to `log_path` (and `env` entries
  // "NAME=value" added to the environment). Aborts the test binary if fork fails.
  Process(std::vector<std::string> argv, std::string log_path, std::vector<std::string> env = {});
  ~Process();  // SIGKILLs the process if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int signal);
  // Waits until it exits; the exit code (128 + signal when killed), or nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);
  std::string Output() const;  // everything written to the log so far
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
// Runs a command to completion (killed after `timeout`).
CommandResult RunCommand(std::vector<std::string> argv, absl::Duration timeout = absl::Seconds(30),
                         std::vector<std::string> env = {});

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();
// A fresh directory under $TMPDIR, removed by the caller.
std::string MakeTempDir(const std::string& stem);
// Polls `condition` every 20 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout);
// The built heartbeat-operator binary.
std::string BinaryPath();

}  // namespace hb::testing
