#include "etcd_flags.h"

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"

namespace hb::cli {

void AddEtcdFlags(CLI::App& command, EtcdFlags& flags) {
  command.add_option("--etcd-host", flags.host, "etcd host (used when --etcd-endpoints is unset)")
      ->capture_default_str()
      ->group("etcd");
  command.add_option("--etcd-port", flags.port, "etcd client port")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535))
      ->group("etcd");
  command
      .add_option("--etcd-endpoints", flags.endpoints,
                  "Comma-separated etcd endpoints (host:port, http:// or https://); the client "
                  "fails over between them")
      ->envname("ETCD_ENDPOINTS")
      ->group("etcd");
  command.add_option("--etcd-cacert", flags.cacert, "CA bundle to verify etcd's certificate (TLS)")
      ->group("etcd");
  command.add_option("--etcd-cert", flags.cert, "Client certificate for etcd (TLS, PEM)")
      ->group("etcd");
  command.add_option("--etcd-key", flags.key, "Client private key for etcd (TLS, PEM)")
      ->group("etcd");
  command.add_flag("--etcd-tls", flags.tls, "Use TLS with the system's trusted CAs")->group("etcd");
  command
      .add_option("--etcd-user", flags.user,
                  "etcd username, or username:password (prefer --etcd-password-file or "
                  "$ETCD_PASSWORD: a password on the command line is visible to other users)")
      ->envname("ETCD_USERNAME")
      ->group("etcd");
  command
      .add_option("--etcd-password-file", flags.password_file,
                  "File holding the etcd password (trailing newline ignored)")
      ->group("etcd");
  command
      .add_option("--etcd-timeout", flags.timeout_seconds, "Deadline of each etcd call, seconds")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0))
      ->group("etcd");
  command
      .add_option("--etcd-stall-timeout", flags.stall_seconds,
                  "Seconds without any keep-alive answer (while some are owed) after which the "
                  "etcd member is taken as not answering and the client fails over; keep it well "
                  "under the shortest TTL (0: only gRPC's 15 s connection check)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0))
      ->group("etcd");
  command.add_option("--etcd-threads", flags.threads, "Threads serving etcd answers")
      ->capture_default_str()
      ->check(CLI::Range(1, 64))
      ->group("etcd");
}

absl::StatusOr<etcd::ClientOptions> ToClientOptions(const EtcdFlags& flags) {
  etcd::ClientOptions options;
  std::string list =
      flags.endpoints.empty() ? absl::StrCat(flags.host, ":", flags.port) : flags.endpoints;
  auto endpoints = etcd::ParseEndpoints(list);
  if (!endpoints.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flags.endpoints.empty() ? "--etcd-host/--etcd-port: " : "--etcd-endpoints: ",
                     endpoints.status().message()));
  }
  options.endpoints = *std::move(endpoints);
  options.tls = flags.tls;
  options.ca_file = flags.cacert;
  options.cert_file = flags.cert;
  options.key_file = flags.key;
  options.call_timeout = absl::Seconds(flags.timeout_seconds);
  options.stall_timeout = absl::Seconds(flags.stall_seconds);
  options.threads = flags.threads;
  if (!flags.user.empty()) {
    size_t colon = flags.user.find(':');
    options.username = flags.user.substr(0, colon);
    if (colon != std::string::npos) {
      options.password = flags.user.substr(colon + 1);
    } else if (!flags.password_file.empty()) {
      options.password_file = flags.password_file;
      std::ifstream in(flags.password_file);
      if (!in) {
        return absl::InvalidArgumentError(
            absl::StrCat("--etcd-password-file: cannot read \"", flags.password_file, "\""));
      }
      options.password.assign(std::istreambuf_iterator<char>(in), {});
      while (!options.password.empty() && absl::ascii_isspace(options.password.back())) {
        options.password.pop_back();
      }
    } else if (const char* env = std::getenv("ETCD_PASSWORD"); env != nullptr) {
      options.password = env;
    }
    if (options.username.empty() || options.password.empty()) {
      return absl::InvalidArgumentError(
          "--etcd-user: give a username and a password (username:password, "
          "--etcd-password-file or $ETCD_PASSWORD)");
    }
    if (!options.UseTls()) {
      LogWarning(
          "etcd username and password will cross the network unencrypted: use https:// "
          "endpoints or --etcd-tls (with --etcd-cacert)",
          {{"endpoints", DescribeEndpoints(options)}, {"user", options.username}});
    }
  }
  return options;
}

std::string DescribeEndpoints(const etcd::ClientOptions& options) {
  std::vector<std::string> all;
  for (const auto& e : options.endpoints) all.push_back(e.host_port);
  return absl::StrJoin(all, ",");
}

}  // namespace hb::cli
