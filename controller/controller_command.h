// `heartbeat-operator controller`: the Kubernetes operator. Watches Capability resources
// and capability ConfigMaps, runs their heartbeats, and writes status back onto the
// Capabilities (see src/operator/operator.h).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "engine_flags.h"
#include "etcd_flags.h"

namespace hb::cli {

struct ControllerFlags {
  std::string kubeconfig;
  std::string context;
  std::vector<std::string> watch_namespaces;
  std::vector<std::string> configmaps;
  std::string configmap_selector = "chora.dev/capabilities=true";
  int64_t status_sync_period = 300;
  double kube_api_qps = 20;  // client-side budget of API requests (controller-runtime's)
  int kube_api_burst = 30;
  int workers = 4;
  std::string on_exit = "keep";
  std::string instance;
  bool leader_elect = false;
  std::string shards = "off";  // "auto": every replica active, each owning a share
  std::string leader_election_namespace;
  std::string leader_election_id = "heartbeat-operator";
  double lease_duration = 15;
  double renew_deadline = 10;
  double retry_period = 2;
  std::string fence_key;  // default: /chora/leader/<namespace>/<leader election id>
  std::string metrics_bind = ":8080";
  std::string health_bind = ":8081";
  std::string dashboard_bind = "0";  // the live health-key page ("0" or empty: off)
  bool per_capability_metrics = false;
  EngineFlags engine;
  EtcdFlags etcd;
};

CLI::App* AddControllerCommand(CLI::App& app, ControllerFlags& flags);
int RunController(const ControllerFlags& flags);

}  // namespace hb::cli
