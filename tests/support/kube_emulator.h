// KubeEmulator: the project's test Kubernetes API server (hack/kube-emulator) for
// integration tests, on a 127.0.0.1 port picked at start, with its kubeconfig, request log
// and (with TLS) certificates in a temporary directory removed at the end.
//
// The emulator is started with --exit-with-parent, so it never outlives a killed test
// binary. Its fault knobs and open-watch list are reached through the /_emulator control
// endpoint (never faulted, never authenticated).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "support/process.h"

namespace hb::testing {

struct KubeEmulatorOptions {
  bool tls = false;                     // HTTPS with a CA made at start (in the kubeconfig)
  std::string token;                    // require "Authorization: Bearer <token>"
  std::vector<std::string> extra_args;  // e.g. {"--bookmark-interval", "1"}
};

class KubeEmulator {
 public:
  using Options = KubeEmulatorOptions;
  // Starts the emulator and waits (up to 20 s) until it listens.
  static absl::StatusOr<std::unique_ptr<KubeEmulator>> Start(Options options = Options());
  ~KubeEmulator();  // Stop(), then removes the directory
  KubeEmulator(const KubeEmulator&) = delete;
  KubeEmulator& operator=(const KubeEmulator&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT".
  std::string server_url() const;
  // The kubeconfig the emulator wrote: server, CA data with TLS, token with a token.
  const std::string& kubeconfig_path() const { return kubeconfig_; }
  // The CA certificate file (TLS only).
  std::string ca_path() const { return dir_ + "/certs/ca.crt"; }
  const std::string& dir() const { return dir_; }

  // POST /_emulator/faults, e.g. {"errorRate": 1, "errorCode": 429}.
  absl::Status SetFaults(const nlohmann::json& faults);
  // Back to no faults (and bookmarks every `bookmark_interval_seconds`).
  absl::Status ResetFaults(double bookmark_interval_seconds = 10);
  // GET /_emulator/info: {"resourceVersion", "oldestResourceVersion", "watches": [...]}.
  absl::StatusOr<nlohmann::json> Info();
  // Polls Info() until at least `count` watches are open.
  bool WaitForOpenWatches(size_t count, absl::Duration timeout);
  // The number of open watches with this label selector (-1 when Info() fails).
  int OpenWatches(const std::string& label_selector);
  // Polls until a watch with this label selector is open.
  bool WaitForWatch(const std::string& label_selector, absl::Duration timeout);

  // The request log: one JSON object per request.
  std::vector<nlohmann::json> Requests() const;
  // What the emulator printed.
  std::string Output() const;

  // SIGTERM, then SIGKILL if it has not exited within 5 s.
  void Stop();
  // Sends `signal` to the server (SIGSTOP / SIGCONT freeze and thaw it).
  void Signal(int signal);

 private:
  KubeEmulator() = default;
  absl::StatusOr<nlohmann::json> Control(const std::string& method, const std::string& path,
                                         const nlohmann::json& body);

  Options options_;
  std::string dir_;
  std::string kubeconfig_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace hb::testing
