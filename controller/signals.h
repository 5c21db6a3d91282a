// Termination signals for commands that run until stopped.
//
// BlockTerminationSignals() must run before any thread starts, so that SIGINT and SIGTERM
// are delivered only to the thread that waits for them.
#pragma once

#include "absl/time/time.h"

namespace hb::cli {

void BlockTerminationSignals();
// Waits up to `timeout` for SIGINT or SIGTERM; returns the signal number, or 0 on timeout.
int WaitForTerminationSignal(absl::Duration timeout);
const char* SignalName(int signal);

}  // namespace hb::cli
