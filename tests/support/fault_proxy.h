// FaultProxy: tests/support/fault_proxy.py, a TCP proxy on 127.0.0.1 in front of one upstream
// (a real etcd in the fault tests), whose forwarding is switched while the test runs: pass,
// added latency, a blackhole (connections hang silently, data is lost), reset (RST every open
// connection, once) and refuse (RST every new connection). fault_proxy.py states the exact
// contract of each mode.
//
// Each mode method sends one command line to the proxy's control port and returns true when
// the proxy answered "OK"; the mode is in effect once it returns (after Reset(), the open
// connections have been reset). The proxy is started with --exit-with-parent, so it never
// outlives a killed test binary, and logs to "<log_dir>/fault-proxy-<n>.log".
//
// Thread-safety: the methods may be called from any thread, but not concurrently on one
// FaultProxy; the proxy process itself serves any number of client connections.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "support/process.h"

namespace hb::testing {

class FaultProxy {
 public:
  // Starts the proxy in front of `target` ("127.0.0.1:port"), logging under `log_dir` (an
  // existing directory). nullptr when it does not come up within 10 s (the reason is on stderr).
  // The script is $HB_FAULT_PROXY when set, else tests/support/fault_proxy.py in the source tree.
  static std::unique_ptr<FaultProxy> Start(const std::string& target, const std::string& log_dir);
  ~FaultProxy();  // SIGTERM, then SIGKILL if it has not exited within 5 s
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::string endpoint() const;  // "127.0.0.1:<listen port>", what clients connect to
  int port() const { return listen_port_; }

  bool Pass();                     // forward both ways; accept normally
  bool Latency(absl::Duration d);  // deliver every chunk, both ways, `d` after it was read
  bool Blackhole();                // keep connections open, deliver nothing, drop the data
  bool Reset();                    // RST every open connection; the mode does not change
  bool Refuse();                   // RST new connections at once; open ones forward
  // The answer to "stats": "OK connections=<open> accepted=<total> bytes_up=<n>
  // bytes_down=<n> mode=<mode>"; "" when the proxy does not answer.
  std::string Stats();

  std::string Output() const;  // what the proxy logged so far
  const std::string& log_path() const { return log_path_; }

 private:
  FaultProxy() = default;
  // Sends `line` to the control port; the answer line without its newline, "" on failure
  // (no connection, or no complete answer within 5 s).
  std::string Command(const std::string& line);
  bool Ok(const std::string& line);

  std::unique_ptr<Process> process_;
  std::string log_path_;
  int listen_port_ = 0;
  int control_port_ = 0;
};

}  // namespace hb::testing
