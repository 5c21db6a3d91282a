// EtcdServer: a real etcd (Debian's etcd-server) for integration tests, on 127.0.0.1
// ports picked at start, with a temporary data directory removed at the end.
// Can be stopped, killed and restarted on the same or an empty data directory, and
// optionally serves TLS with client certificates (certificates made with openssl).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/process.h"

namespace hb::testing {

struct TlsFiles {
  std::string ca;
  std::string server_cert, server_key;
  std::string client_cert, client_key;
};
// Writes a CA and a server and a client certificate it signed (for 127.0.0.1 and
// localhost) into `dir` with the openssl command line.
bool MakeTlsFiles(const std::string& dir, TlsFiles& files);

struct EtcdServerOptions {
  bool tls = false;
  // As a member of a cluster (etcd_cluster.h): its name, ports (0: picked), the
  // --initial-cluster list ("": a cluster of one) and --initial-cluster-state.
  std::string name = "test";
  int client_port = 0;
  int peer_port = 0;
  std::string initial_cluster;
  std::string cluster_state = "new";
  std::vector<std::string> extra_args;  // e.g. "--quota-backend-bytes=..."
};

inline EtcdServerOptions TlsEtcd() {
  EtcdServerOptions options;
  options.tls = true;
  return options;
}

class EtcdServer {
 public:
  using Options = EtcdServerOptions;
  // Starts etcd and waits until it answers; returns nullptr otherwise.
  static std::unique_ptr<EtcdServer> Start(Options options = Options());
  // Starts etcd without waiting (members of a new cluster answer once a quorum runs);
  // nullptr when the certificates cannot be made.
  static std::unique_ptr<EtcdServer> Launch(Options options);
  ~EtcdServer();

  std::string endpoint() const;  // "127.0.0.1:port"
  const TlsFiles& tls() const { return tls_; }

  void Stop();              // SIGTERM, wait
  void Kill();              // SIGKILL, wait
  void Signal(int signal);  // e.g. SIGSTOP / SIGCONT
  // Starts again on the same ports; `wipe` empties the data directory first; a
  // `cluster_state` given replaces --initial-cluster-state (a replaced member: "existing").
  bool Restart(bool wipe, const std::string& cluster_state = "");
  bool Ready();
  bool WaitReady(absl::Duration timeout);
  const std::string& name() const { return options_.name; }
  std::string peer_url() const;

  // Turns authentication on: a root user (password "rootpw"), and `user` with `password`
  // in a role with read-write on /chora/ only. The empty string when it worked, else
  // what etcdctl said.
  std::string EnableAuth(const std::string& user, const std::string& password);

  // Runs etcdctl (API v3) against this server; `extra` flags are appended.
  CommandResult Etcdctl(std::vector<std::string> args);
  // Value of `key`, or nullopt when absent.
  std::optional<std::string> Get(const std::string& key);
  // Keys under `prefix`.
  std::vector<std::string> Keys(const std::string& prefix);
  // {create_revision, lease} of `key` (0s when absent), from etcdctl's JSON output.
  struct KeyMeta {
    int64_t create_revision = 0;
    int64_t mod_revision = 0;
    int64_t lease = 0;
  };
  KeyMeta Meta(const std::string& key);
  // Starts `etcdctl watch --prefix -w json` logging every event to a file, and returns once
  // the watch sees events (a marker key "<prefix>.watch-ready" is written for that).
  void StartWatch(const std::string& prefix);
  // What the watch saw, one record per event in etcd's order.
  struct WatchRecord {
    bool deleted = false;
    std::string key;
    std::string value;
    int64_t lease = 0;
    int64_t create_revision = 0;
    int64_t mod_revision = 0;
  };
  std::vector<WatchRecord> WatchEvents() const;
  // The same as text, etcdctl's plain format: "PUT\n<key>\n<value>\n", "DELETE\n<key>\n".
  std::string WatchLog() const;

 private:
  EtcdServer() = default;
  bool Run(bool wait);
  std::vector<std::string> EtcdctlBase() const;

  Options options_;
  std::string dir_;
  int client_port_ = 0;
  int peer_port_ = 0;
  TlsFiles tls_;
  std::unique_ptr<Process> process_;
  std::unique_ptr<Process> watch_;
  int launches_ = 0;
};

}  // namespace hb::testing
