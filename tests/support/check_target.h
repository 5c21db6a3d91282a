// CheckTarget: tests/support/check_target.py on 127.0.0.1, a probe target whose answers a
// test switches (200, 503, JSON bodies, a hang, a closed connection, any status), with an
// optional TLS listener and a raw TCP listener. Started with --exit-with-parent.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "support/etcd_server.h"
#include "support/process.h"

namespace hb::testing {

struct CheckTargetOptions {
  bool tls = false;        // an HTTPS listener with certificates made at start
  bool client_ca = false;  // with tls: require a client certificate from the test CA
  bool tcp = false;        // a TCP listener that accepts and closes
  std::string token_file;  // the bearer token the target expects
  int http_port = 0;       // 0: a free one (a restarted target reuses its old port)
};

class CheckTarget {
 public:
  static absl::StatusOr<std::unique_ptr<CheckTarget>> Start(CheckTargetOptions options = {});
  ~CheckTarget();

  int http_port() const { return http_; }
  int https_port() const { return https_; }
  int tcp_port() const { return tcp_; }
  std::string HttpUrl(const std::string& path = "/health") const;
  std::string HttpsUrl(const std::string& path = "/health") const;
  const TlsFiles& tls() const { return tls_; }  // with options.tls

  // GET /_control?mode=... (see check_target.py); false when refused.
  bool SetMode(const std::string& mode);
  bool SetTcp(bool on);
  // GET /_stats as JSON (null on failure).
  nlohmann::json Stats();
  Process& process() { return *process_; }

 private:
  CheckTarget() = default;
  std::string dir_;
  TlsFiles tls_;
  std::unique_ptr<Process> process_;
  int http_ = 0, https_ = 0, tcp_ = 0;
};

}  // namespace hb::testing
