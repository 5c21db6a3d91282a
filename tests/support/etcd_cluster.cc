#include "support/etcd_cluster.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace hb::testing {

std::unique_ptr<EtcdCluster> EtcdCluster::Start(int size) {
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster());
  std::vector<int> client_ports, peer_ports;
  std::vector<std::string> peers;
  for (int i = 0; i < size; ++i) {
    client_ports.push_back(FreePort());
    peer_ports.push_back(FreePort());
    peers.push_back(absl::StrCat("m", i, "=http://127.0.0.1:", peer_ports.back()));
  }
  for (int i = 0; i < size; ++i) {
    EtcdServer::Options options;
    options.name = absl::StrCat("m", i);
    options.client_port = client_ports[static_cast<size_t>(i)];
    options.peer_port = peer_ports[static_cast<size_t>(i)];
    options.initial_cluster = absl::StrJoin(peers, ",");
    auto member = EtcdServer::Launch(options);
    if (member == nullptr) return nullptr;
    cluster->members_.push_back(std::move(member));
  }
  for (auto& member : cluster->members_) {
    if (!member->WaitReady(absl::Seconds(30))) return nullptr;
  }
  return cluster;
}

std::string EtcdCluster::Endpoints(int first) const {
  std::vector<std::string> endpoints;
  for (int k = 0; k < size(); ++k) {
    endpoints.push_back(members_[static_cast<size_t>((first + k) % size())]->endpoint());
  }
  return absl::StrJoin(endpoints, ",");
}

CommandResult EtcdCluster::Etcdctl(int via, std::vector<std::string> args) {
  return member(via).Etcdctl(std::move(args));
}

int EtcdCluster::Leader(int skip) {
  for (int via = 0; via < size(); ++via) {
    if (via == skip) continue;
    CommandResult r = Etcdctl(via, {"endpoint", "status", "-w", "json"});
    auto status = nlohmann::json::parse(r.output, nullptr, false);
    if (!status.is_array() || status.empty()) continue;
    uint64_t leader = status[0]["Status"]["leader"].get<uint64_t>();
    CommandResult list = Etcdctl(via, {"member", "list", "-w", "json"});
    auto members = nlohmann::json::parse(list.output, nullptr, false);
    if (!members.is_object()) continue;
    for (const auto& m : members["members"]) {
      if (m.value("ID", uint64_t{0}) != leader) continue;
      std::string name = m.value("name", "");
      for (int i = 0; i < size(); ++i) {
        if (member(i).name() == name) return i;
      }
    }
  }
  return -1;
}

bool EtcdCluster::Replace(int i) {
  int via = (i + 1) % size();
  member(i).Kill();
  // Right after the kill the cluster may be electing a leader (the killed member may have
  // led it): membership calls then fail for a moment, so they are retried.
  bool tried = false;
  bool removed = WaitFor(
      [&] {
        CommandResult list = Etcdctl(via, {"member", "list", "-w", "json"});
        auto members = nlohmann::json::parse(list.output, nullptr, false);
        if (list.exit_code != 0 || !members.is_object()) return false;
        std::string id;
        for (const auto& m : members["members"]) {
          if (m.value("name", "") == member(i).name()) {
            id = absl::StrCat(absl::Hex(m.value("ID", uint64_t{0})));
          }
        }
        if (id.empty()) return tried;  // gone: an earlier remove went through
        tried = true;
        return Etcdctl(via, {"member", "remove", id}).exit_code == 0;
      },
      absl::Seconds(20));
  if (!removed) {
    std::cerr << "etcd cluster: member " << member(i).name() << " could not be removed\n";
    return false;
  }
  // etcd refuses to add a member ("unhealthy cluster") until every member has been
  // connected for a few seconds after the removal.
  bool added = WaitFor(
      [&] {
        return Etcdctl(via,
                       {"member", "add", member(i).name(), "--peer-urls=" + member(i).peer_url()})
                   .exit_code == 0;
      },
      absl::Seconds(20));
  if (!added) {
    std::cerr << "etcd cluster: member " << member(i).name() << " could not be added back\n";
    return false;
  }
  return member(i).Restart(/*wipe=*/true, "existing");
}

}  // namespace hb::testing
