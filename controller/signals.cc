#include "signals.h"

#include <csignal>
#include <ctime>

namespace hb::cli {
namespace {

sigset_t TerminationSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int WaitForTerminationSignal(absl::Duration timeout) {
  sigset_t set = TerminationSet();
  timespec ts = absl::ToTimespec(timeout);
  int signal = sigtimedwait(&set, nullptr, &ts);
  return signal > 0 ? signal : 0;
}

const char* SignalName(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "signal";
  }
}

}  // namespace hb::cli
