// EngineHost: the etcd client, heartbeat engine and runner of a long-running command, set
// up and torn down in the one order that is safe (the client delivers its last answers to
// a live engine), with the start-up probe, signal wait and statistics both commands share.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "alert/notifier.h"
#include "check/checker.h"
#include "check/curl_prober.h"
#include "check/grpc_prober.h"
#include "engine_flags.h"
#include "etcd/endpoints.h"
#include "etcd/etcd_client.h"
#include "etcd/fenced_client.h"
#include "etcd/grpc_etcd_client.h"
#include "heartbeat/engine.h"
#include "heartbeat/engine_runner.h"

namespace hb::cli {

struct HostOptions {
  // The engine writes through a FencedEtcdClient that refuses writes until the fence is
  // taken (leader election); otherwise straight to etcd.
  bool fenced = false;
  std::string writer;  // names this process in every health value ("writer")
  // Answers kServiceRef checks (controller mode: EndpointSlices); null: none.
  check::Prober* service_ref_prober = nullptr;
  // EngineOptions::hand_over_grace (--shards auto); zero: the engine's default.
  absl::Duration hand_over_grace = absl::ZeroDuration();
};

class EngineHost {
 public:
  // Termination signals must already be blocked (BlockTerminationSignals()).
  static absl::StatusOr<std::unique_ptr<EngineHost>> Create(const etcd::ClientOptions& etcd,
                                                            const EngineFlags& flags,
                                                            const HostOptions& options = {});
  ~EngineHost();

  heartbeat::HeartbeatEngine& engine() { return *engine_; }
  // Runs the capabilities' health checks (with --health-checks; else it checks nothing).
  check::Checker& checker() { return *checker_; }
  etcd::EtcdClient& etcd() { return *client_; }
  // The fence of the engine's writes; null unless HostOptions::fenced.
  etcd::FencedEtcdClient* fence() { return fence_.get(); }
  // Sends notifications of transitions (--alertmanager-url, --alert-webhook-url); null: off.
  const alert::Notifier* notifier() const { return notifier_.get(); }
  const std::string& where() const { return where_; }

  // Waits for SIGINT/SIGTERM, logging statistics every --stats-interval; returns the signal,
  // or 0 as soon as `stop` (checked every second) says so.
  int WaitForSignal(const std::function<bool()>& stop = nullptr);
  // Per etcd endpoint: 1 answered last time, 0 failed, -1 not tried yet.
  std::vector<std::pair<std::string, int>> EtcdEndpointStates() const;
  // Stops the engine, revoking its leases or not, and logs the final statistics.
  void Shutdown(int signal, bool revoke, const char* title);

 private:
  EngineHost() = default;
  void LogStatistics(const char* title, int64_t capabilities) const;

  EngineFlags flags_;
  std::string where_;
  absl::Time started_;
  std::unique_ptr<etcd::GrpcEtcdClient> client_;
  std::unique_ptr<etcd::FencedEtcdClient> fence_;  // between client_ and engine_ when fenced
  // Torn down before the engine: the checker's thread, then the probers (abandoning their
  // probes), then the checker.
  std::unique_ptr<check::Checker> checker_;
  // Stopped first (its threads read the engine), destroyed after the engine (whose change
  // hook calls it until then).
  std::unique_ptr<alert::Notifier> notifier_;
  std::unique_ptr<check::CurlProber> curl_;
  std::unique_ptr<check::GrpcProber> grpc_;
  std::unique_ptr<heartbeat::HeartbeatEngine> engine_;
  std::unique_ptr<heartbeat::EngineRunner> runner_;
};

}  // namespace hb::cli
