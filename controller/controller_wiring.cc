#include "controller_wiring.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/jitter.h"
#include "common/log.h"
#include "nlohmann/json.hpp"

namespace hb::cli {

op::OperatorOptions OperatorOptionsFrom(const ControllerFlags& flags, const std::string& instance,
                                        absl::Duration etcd_timeout) {
  op::OperatorOptions options;
  options.watch_namespaces = flags.watch_namespaces;
  options.configmaps = flags.configmaps;
  options.configmap_selector = flags.configmap_selector;
  options.workers = flags.workers;
  options.defaults = {flags.engine.interval, flags.engine.ttl};
  options.reconciler.key_prefix = flags.engine.key_prefix;
  options.reconciler.status_sync_period = absl::Seconds(flags.status_sync_period);
  // Counters take at most half of the API budget: transitions always find the other half.
  options.reconciler.counter_writes_per_second = flags.kube_api_qps / 2;
  options.reconciler.health_checks = flags.engine.health_checks;
  options.reconciler.etcd_timeout = etcd_timeout;
  options.instance = instance;
  return options;
}

absl::Duration ElectionCallTimeout(const ControllerFlags& flags) {
  double seconds = (flags.renew_deadline - flags.retry_period) / 2;
  return absl::Seconds(std::max(1.0, seconds));
}

LeaderElection::LeaderElection(const ControllerFlags& flags, const std::string& instance,
                               kube::KubeClient* kube, EngineHost& host, op::Operator& controller,
                               ShardCoordinator* shards)
    : host_(host), controller_(controller), shards_(shards) {
  if ((!flags.leader_elect && shards == nullptr) || kube == nullptr) return;
  leader::LeaderElectionOptions le;
  le.lease_namespace = flags.leader_election_namespace;
  if (le.lease_namespace.empty()) {
    const char* pod_ns = std::getenv("POD_NAMESPACE");
    le.lease_namespace = pod_ns != nullptr && *pod_ns != 0 ? pod_ns : "default";
  }
  le.lease_name = flags.leader_election_id;
  lease_namespace_ = le.lease_namespace;
  le.identity = absl::StrCat(instance, "_", absl::Hex(Jitter::RandomSeed() & 0xffffff));
  le.lease_duration = absl::Seconds(flags.lease_duration);
  le.renew_deadline = absl::Seconds(flags.renew_deadline);
  le.retry_period = absl::Seconds(flags.retry_period);
  fence_key_ = !flags.fence_key.empty()
                   ? flags.fence_key
                   : absl::StrCat("/chora/leader/", le.lease_namespace, "/", le.lease_name);
  if (shards_ != nullptr) {
    absl::MutexLock lock(&shared_->mu);
    shared_->cap = absl::InfinitePast();  // no write before the first view of the members
    le.lease_name = ShardLeaseName(flags.leader_election_id, instance);
    le.labels[leader::kShardGroupLabel] = flags.leader_election_id;
    le.annotations[leader::kShardMemberAnnotation] = instance;
    if (flags.fence_key.empty()) {
      fence_key_ = absl::StrCat("/chora/shards/", le.lease_namespace, "/", flags.leader_election_id,
                                "/", instance);
    }
  }
  fence_holder_ = nlohmann::json{{"holder", le.identity}, {"instance", instance}}.dump();

  etcd::FencedEtcdClient* fence = host_.fence();
  fence->SetStaleHook([shared = shared_](const std::string&) { shared->lost.store(true); });
  leader::LeaderCallbacks callbacks;
  callbacks.renewed = [this](absl::Time until) {
    {
      absl::MutexLock lock(&shared_->mu);
      shared_->renewed_until = until;
    }
    UpdatePermit();
    TakeFence();  // until it is held
  };
  callbacks.started_leading = [this] { TakeFence(); };
  callbacks.stopped_leading = [this, fence] {
    fence->EndPermit();  // not one more write, whatever the threads are doing
    shared_->lost.store(true);
  };
  elector_ = std::make_unique<leader::LeaderElector>(*kube, RealClock::Get(), le, callbacks);
  thread_ = std::thread([this] {
    if (shards_ != nullptr) {
      // A shard member joins once its caches have listed: the others keep its share (and
      // write it) meanwhile, instead of handing it over to a replica that cannot adopt it yet.
      while (!controller_.Synced() && RealClock::Get().SleepFor(absl::Milliseconds(100), cancel_)) {
      }
      if (cancel_.IsCancelled()) return;
      LogInfo("Caches synced; joining the shard members");
    }
    elector_->Run(cancel_);
  });
}

void LeaderElection::CapPermit(absl::Time until) {
  {
    absl::MutexLock lock(&shared_->mu);
    shared_->cap = until;
  }
  UpdatePermit();
}

void LeaderElection::UpdatePermit() {
  absl::Time until;
  {
    absl::MutexLock lock(&shared_->mu);
    until = std::min(shared_->renewed_until, shared_->cap);
  }
  host_.fence()->PermitUntil(until);  // never moves back: both bounds only grow
}

void LeaderElection::TakeFence() {
  {
    absl::MutexLock lock(&shared_->mu);
    if (shared_->taking || shared_->leading || !shared_->alive) return;
    shared_->taking = true;
  }
  host_.fence()->Take(fence_key_, fence_holder_,
                      [shared = shared_, &engine = host_.engine(), &controller = controller_,
                       shards = shards_, key = fence_key_](absl::Status status) {
                        absl::MutexLock lock(&shared->mu);
                        shared->taking = false;
                        if (!shared->alive) return;
                        if (!status.ok()) {
                          LogWarning("Cannot take the etcd fence yet; retrying at the next renewal",
                                     {{"fence", key}, {"error", status.message()}});
                          return;
                        }
                        shared->leading = true;
                        controller.Lead();  // only flags work: safe under this lock
                        if (shards != nullptr) {
                          shards->Joined();  // its share follows the join wait
                        } else {
                          engine.RescanExistingKeys();  // adopt what the former leader renewed
                        }
                      });
}

LeaderElection::~LeaderElection() { Stop(/*release=*/false); }

void LeaderElection::Stop(bool release) {
  {
    absl::MutexLock lock(&shared_->mu);
    shared_->alive = false;
  }
  if (!thread_.joinable()) return;
  cancel_.Cancel();
  thread_.join();
  if (release) elector_->Release();
}

ControllerServers StartServers(const ControllerFlags& flags, EngineHost& host,
                               const kube::RestKubeClient& kube, op::Operator& controller,
                               LeaderElection& election) {
  ControllerServers servers;
  if (flags.metrics_bind != "0") {
    metrics::MetricsSources sources;
    sources.engine = &host.engine();
    sources.checker = &host.checker();
    sources.controller = &controller;
    if (leader::LeaderElector* elector = election.elector()) {
      sources.is_leader = [elector] { return elector->IsLeader(); };
    }
    sources.leader_election_id = flags.leader_election_id;
    sources.etcd_endpoints = [&host] {
      std::vector<metrics::EndpointState> states;
      for (const auto& [endpoint, state] : host.EtcdEndpointStates()) {
        if (state >= 0) states.push_back({endpoint, state == 1});
      }
      return states;
    };
    sources.per_capability = flags.per_capability_metrics;
    sources.clock = &RealClock::Get();
    sources.kube_rate_limit = [&kube] { return kube.RateLimitStats(); };
    sources.notifier = host.notifier();
    auto started = metrics::MetricsServer::Start(flags.metrics_bind, sources);
    if (!started.ok()) {
      LogError("Cannot serve metrics", {{"error", started.status().message()}});
    } else {
      servers.metrics = *std::move(started);
    }
  }
  if (flags.health_bind != "0") {
    bool elect = flags.leader_elect;
    auto started = metrics::HealthServer::Start(
        flags.health_bind, [&controller, &host, elect]() -> absl::Status {
          if (!controller.Synced()) return absl::UnavailableError("informers have not synced");
          if (elect && !controller.Leading()) return absl::OkStatus();  // a standby is ready
          for (const auto& [endpoint, state] : host.EtcdEndpointStates()) {
            if (state == 1) return absl::OkStatus();
          }
          return absl::UnavailableError("no etcd endpoint has answered");
        });
    if (!started.ok()) {
      LogError("Cannot serve health probes", {{"error", started.status().message()}});
    } else {
      servers.health = *std::move(started);
    }
  }
  return servers;
}

}  // namespace hb::cli
