// Termination signals for commands that run until stopped.
//
// BlockTerminationSignals() runs first in main(), before any thread starts (threads inherit
// the mask), so that SIGINT and SIGTERM are delivered only to the thread that waits for
// them, also when they arrive during start-up.
#pragma once

#include "absl/time/time.h"

namespace hb::cli {

void BlockTerminationSignals();
// Waits up to `timeout` for SIGINT or SIGTERM; returns the signal number, or 0 on timeout.
int WaitForTerminationSignal(absl::Duration timeout);
const char* SignalName(int signal);

}  // namespace hb::cli
