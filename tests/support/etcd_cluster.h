// EtcdCluster: a real etcd cluster of several members on 127.0.0.1 for fault tests (each an
// EtcdServer with its own ports and data directory). Members can be frozen (SIGSTOP),
// killed, restarted, or replaced by a member on an empty data directory (removed from the
// cluster and added again, as etcd requires). Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "support/etcd_server.h"

namespace hb::testing {

class EtcdCluster {
 public:
  // Starts `size` members and waits until every one answers; nullptr otherwise.
  static std::unique_ptr<EtcdCluster> Start(int size = 3);

  int size() const { return static_cast<int>(members_.size()); }
  EtcdServer& member(int i) { return *members_[static_cast<size_t>(i)]; }
  // "127.0.0.1:a,127.0.0.1:b,...", starting with member `first` (a client's first choice).
  std::string Endpoints(int first = 0) const;
  // The index of the raft leader as the members other than `skip` report it; -1 if none.
  int Leader(int skip = -1);
  // Kills member `i`, removes it from the cluster, adds it back and starts it on an empty
  // data directory (it catches up from a snapshot). False when a step fails.
  bool Replace(int i);

 private:
  EtcdCluster() = default;
  // etcdctl against member `via`.
  CommandResult Etcdctl(int via, std::vector<std::string> args);

  std::vector<std::unique_ptr<EtcdServer>> members_;
};

}  // namespace hb::testing
