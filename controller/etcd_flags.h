// Command-line options shared by every command that talks to etcd.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "etcd/endpoints.h"

namespace hb::cli {

struct EtcdFlags {
  std::string host = "localhost";
  int port = 2379;
  std::string endpoints;  // overrides host/port when set
  std::string cacert;
  std::string cert;
  std::string key;
  bool tls = false;
  std::string user;  // "name" or "name:password" (as etcdctl's --user)
  std::string password_file;
  double timeout_seconds = 5;
  double stall_seconds = 2;
  int threads = 1;
};

void AddEtcdFlags(CLI::App& command, EtcdFlags& flags);

// Resolves endpoints and credentials. The password comes from "name:password",
// --etcd-password-file or $ETCD_PASSWORD, in that order. Errors name the bad flag.
absl::StatusOr<etcd::ClientOptions> ToClientOptions(const EtcdFlags& flags);

// "localhost:2379" or "a:2379,b:2379" for log lines.
std::string DescribeEndpoints(const etcd::ClientOptions& options);

}  // namespace hb::cli
