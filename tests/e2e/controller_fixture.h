// End-to-end fixture for the controller: a real etcd, the test Kubernetes API server, the
// real kubectl (with its own cache directory) and the heartbeat-operator binary.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "heartbeat/health_value.h"
#include "nlohmann/json.hpp"
#include "support/etcd_server.h"
#include "support/kube_emulator.h"
#include "support/process.h"

namespace hb::testing {

class ControllerE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    etcd_ = EtcdServer::Start();
    ASSERT_NE(etcd_, nullptr);
    auto kube = KubeEmulator::Start();
    ASSERT_TRUE(kube.ok()) << kube.status();
    kube_ = *std::move(kube);
    dir_ = MakeTempDir("controller");
    CommandResult crd = Kubectl({"apply", "-f", std::string(HB_SOURCE_DIR) + "/crds"});
    ASSERT_EQ(crd.exit_code, 0) << crd.output;
    CommandResult established = Kubectl(
        {"wait", "--for=condition=established", "--timeout=20s", "crd/capabilities.chora.dev"});
    ASSERT_EQ(established.exit_code, 0) << established.output;
  }

  // HB_KEEP_TEST_DIRS=1 keeps the work directory (the controllers' logs) for a look afterwards.
  void TearDown() override {
    controller_.reset();
    if (std::getenv("HB_KEEP_TEST_DIRS") != nullptr) {
      std::cerr << "kept " << dir_ << "\n";
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Starts `heartbeat-operator controller` against the emulator and etcd. Interval 1 s,
  // TTL 4 s and a 1 s status sync period keep the tests short.
  Process& StartController(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {BinaryPath(),
                                     "controller",
                                     "--kubeconfig=" + kube_->kubeconfig_path(),
                                     "--etcd-endpoints=" + etcd_->endpoint(),
                                     "--interval=1",
                                     "--ttl=4",
                                     "--status-sync-period=1",
                                     "--instance=test-controller"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    controller_ =
        std::make_unique<Process>(argv, absl::StrCat(dir_, "/controller-", ++controllers_, ".log"));
    return *controller_;
  }

  // A controller replica with leader election, its metrics and probes on free ports.
  struct Replica {
    std::unique_ptr<Process> process;
    int metrics_port = 0;
    int health_port = 0;
  };
  // `kubeconfig` replaces the emulator's (e.g. one whose server is a fault proxy).
  Replica StartReplica(const std::string& instance, std::vector<std::string> extra = {},
                       const std::string& kubeconfig = "") {
    std::vector<std::string> flags = {"--interval=1", "--ttl=10", "--status-sync-period=1",
                                      "--leader-elect"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    return StartMember(instance, flags, kubeconfig);
  }
  // A controller with the tests' Lease timing (duration 4 s, renew deadline 3 s, retry 1 s)
  // and its metrics and probes on free ports; `flags` say how it takes part (leader election,
  // shards) and anything else.
  Replica StartMember(const std::string& instance, const std::vector<std::string>& flags,
                      const std::string& kubeconfig = "") {
    Replica r;
    r.metrics_port = FreePort();
    r.health_port = FreePort();
    std::vector<std::string> argv = {
        BinaryPath(),
        "controller",
        "--kubeconfig=" + (kubeconfig.empty() ? kube_->kubeconfig_path() : kubeconfig),
        "--etcd-endpoints=" + etcd_->endpoint(),
        "--instance=" + instance,
        "--leader-election-namespace=default",
        "--leader-elect-lease-duration=4",
        "--leader-elect-renew-deadline=3",
        "--leader-elect-retry-period=1",
        absl::StrCat("--metrics-bind-address=127.0.0.1:", r.metrics_port),
        absl::StrCat("--health-probe-bind-address=127.0.0.1:", r.health_port)};
    argv.insert(argv.end(), flags.begin(), flags.end());
    r.process = std::make_unique<Process>(
        argv, absl::StrCat(dir_, "/", instance, "-", ++controllers_, ".log"));
    return r;
  }
  // HTTP GET of 127.0.0.1:port/path with curl: {status code, body}.
  std::pair<int, std::string> HttpGet(int port, const std::string& path) {
    CommandResult r = RunCommand({"/usr/bin/curl", "-s", "-m", "5", "-w", "\n%{http_code}",
                                  absl::StrCat("http://127.0.0.1:", port, path)});
    size_t nl = r.output.rfind('\n');
    if (r.exit_code != 0 || nl == std::string::npos) return {0, r.output};
    return {std::atoi(r.output.substr(nl + 1).c_str()), r.output.substr(0, nl)};
  }
  // The holder of the leader election Lease ("" when none).
  std::string LeaseHolder() {
    nlohmann::json lease = Get("lease/heartbeat-operator");
    if (!lease.is_object()) return "";
    return lease.value("spec", nlohmann::json::object()).value("holderIdentity", "");
  }

  CommandResult Kubectl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/kubectl", "--kubeconfig=" + kube_->kubeconfig_path(),
                                     "--cache-dir=" + dir_ + "/kubectl-cache"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, absl::Seconds(60), {"HOME=" + dir_});
  }

  // kubectl apply -f of `yaml`; the test fails on a non-zero exit.
  void Apply(const std::string& yaml) {
    std::string path = absl::StrCat(dir_, "/manifest-", ++manifests_, ".yaml");
    std::ofstream(path) << yaml;
    CommandResult r = Kubectl({"apply", "-f", path});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  nlohmann::json Get(const std::string& what) {
    CommandResult r = Kubectl({"get", what, "-o", "json"});
    if (r.exit_code != 0) return nullptr;
    return nlohmann::json::parse(r.output, nullptr, false);
  }
  std::string Phase(const std::string& name) {
    nlohmann::json cap = Get("capability/" + name);
    if (!cap.is_object()) return "";
    return cap.value("status", nlohmann::json::object()).value("phase", "");
  }

  static std::string Key(const std::string& id) {
    return absl::StrCat("/chora/capabilities/", id, "/health");
  }
  bool Present(const std::string& id) { return etcd_->Get(Key(id)).has_value(); }
  int64_t Count(const std::string& id) {
    auto value = etcd_->Get(Key(id));
    if (!value) return -1;
    auto parsed = heartbeat::ParseHealthValue(*value);
    return parsed.ok() ? static_cast<int64_t>(parsed->heartbeat_count) : -1;
  }
  std::vector<std::string> HealthKeys() { return etcd_->Keys("/chora/capabilities/"); }

  static std::string Capability(const std::string& name, const std::string& spec) {
    return absl::StrCat("apiVersion: chora.dev/v1alpha1\nkind: Capability\nmetadata:\n  name: ",
                        name, "\n  namespace: default\nspec:\n", spec);
  }

  std::unique_ptr<EtcdServer> etcd_;
  std::unique_ptr<KubeEmulator> kube_;
  std::unique_ptr<Process> controller_;
  std::string dir_;
  int manifests_ = 0;
  int controllers_ = 0;
};

}  // namespace hb::testing
