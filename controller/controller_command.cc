#include "controller_command.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "common/log.h"
#include "controller_wiring.h"
#include "dashboard_command.h"
#include "engine_host.h"
#include "heartbeat_command.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "metrics/servers.h"
#include "operator/endpoint_slices.h"
#include "shard_wiring.h"
#include "signals.h"

namespace hb::cli {
namespace {

int UsageError(const std::string& message) { return hb::cli::UsageError("controller", message); }

constexpr double kMinElectionMargin = 1.0;  // seconds between renew deadline and lease end

std::string DefaultInstance() {
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != 0) return pod;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0 && host[0] != 0) return host;
  return "heartbeat-operator";
}

}  // namespace

CLI::App* AddControllerCommand(CLI::App& app, ControllerFlags& flags) {
  CLI::App* cmd = app.add_subcommand(
      "controller",
      "Run the Kubernetes operator: heartbeat every Capability resource and every capability "
      "manifest in the selected ConfigMaps, and write each one's status (kubectl get "
      "capabilities). Environment: LOG_LEVEL, KUBECONFIG, POD_NAME.");
  cmd->add_option("--kubeconfig", flags.kubeconfig,
                  "kubeconfig file (default: $KUBECONFIG, then in-cluster, then ~/.kube/config)")
      ->group("Kubernetes");
  cmd->add_option("--context", flags.context, "kubeconfig context (default: the current one)")
      ->group("Kubernetes");
  cmd->add_option("--watch-namespace", flags.watch_namespaces,
                  "Namespace whose Capabilities and ConfigMaps to watch (repeatable; default: all)")
      ->group("Kubernetes");
  cmd->add_option("--capabilities-configmap", flags.configmaps,
                  "A ConfigMap NAMESPACE/NAME whose *.yaml/*.yml keys are capability manifests "
                  "(repeatable)")
      ->group("Kubernetes");
  cmd->add_option("--configmap-selector", flags.configmap_selector,
                  "Label selector of capability ConfigMaps (an empty string: only the named "
                  "ConfigMaps are read)")
      ->capture_default_str()
      ->group("Kubernetes");
  cmd->add_option("--status-sync-period", flags.status_sync_period,
                  "Seconds between writes of heartbeat counters to a Capability's status "
                  "(transitions are written at once); longer when the counters of all "
                  "objects would take more than half of --kube-api-qps")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3600}))
      ->group("Kubernetes");
  cmd->add_option("--kube-api-qps", flags.kube_api_qps,
                  "Kubernetes API requests per second on average (client-side limit, as "
                  "client-go's; 0: unlimited). Leader election has a budget of its own")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10000.0))
      ->group("Kubernetes");
  cmd->add_option("--kube-api-burst", flags.kube_api_burst,
                  "Kubernetes API requests allowed at once above --kube-api-qps")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000))
      ->group("Kubernetes");
  cmd->add_option("--workers", flags.workers, "Concurrent reconciles")
      ->capture_default_str()
      ->check(CLI::Range(1, 64))
      ->group("Kubernetes");
  cmd->add_option("--on-exit", flags.on_exit,
                  "keep: leave leases and keys for the next instance to adopt (no key flaps "
                  "during a rolling update); revoke: remove every key at exit")
      ->capture_default_str()
      ->check(CLI::IsMember({"keep", "revoke"}));
  cmd->add_option("--instance", flags.instance,
                  "Name reported in Events and used as the leader election identity (default: "
                  "$POD_NAME or the host name)");
  cmd->add_flag("--leader-elect", flags.leader_elect,
                "Run as one of several replicas: only the holder of a coordination.k8s.io Lease "
                "heartbeats and writes status; the others keep their caches warm and take over")
      ->group("Leader election");
  cmd->add_option("--shards", flags.shards,
                  "off: one replica writes (with --leader-elect, the leader); auto: every "
                  "replica is active and owns a share of the identifiers (rendezvous hashing over "
                  "the live members, one coordination.k8s.io Lease per replica named "
                  "<leader-election-id>-<instance>; the --leader-elect-* timings apply to it). "
                  "Needs a lease per capability and --on-exit keep")
      ->capture_default_str()
      ->check(CLI::IsMember({"off", "auto"}))
      ->group("Leader election");
  cmd->add_option("--leader-election-namespace", flags.leader_election_namespace,
                  "Namespace of the Lease (default: $POD_NAMESPACE, else default)")
      ->group("Leader election");
  cmd->add_option("--leader-election-id", flags.leader_election_id, "Name of the Lease")
      ->capture_default_str()
      ->group("Leader election");
  cmd->add_option("--leader-elect-lease-duration", flags.lease_duration,
                  "Seconds a standby waits after the last renewal before taking over")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 3600.0))
      ->group("Leader election");
  cmd->add_option("--leader-elect-renew-deadline", flags.renew_deadline,
                  "Seconds the leader keeps trying to renew before it stops leading")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 3600.0))
      ->group("Leader election");
  cmd->add_option("--leader-elect-retry-period", flags.retry_period,
                  "Seconds between renewals and between attempts to take the lease")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0))
      ->group("Leader election");
  cmd->add_option("--leader-elect-etcd-key", flags.fence_key,
                  "etcd key whose revision fences the leader's writes: every put is a "
                  "transaction comparing it, so a replaced leader cannot write (default: "
                  "/chora/leader/<lease namespace>/<leader election id>)")
      ->group("Leader election");
  cmd->add_option("--metrics-bind-address", flags.metrics_bind,
                  "Where /metrics listens, HOST:PORT or :PORT (\"0\": off)")
      ->capture_default_str()
      ->group("Serving");
  cmd->add_option("--health-probe-bind-address", flags.health_bind,
                  "Where /healthz and /readyz listen, HOST:PORT or :PORT (\"0\": off)")
      ->capture_default_str()
      ->group("Serving");
  cmd->add_option("--dashboard-bind-address", flags.dashboard_bind,
                  "Where the live, read-only page of every health key listens, HOST:PORT or "
                  ":PORT (\"0\" or empty: off)")
      ->capture_default_str()
      ->group("Serving");
  cmd->add_flag("--per-capability-metrics", flags.per_capability_metrics,
                "Also export each capability's last success time and TTL remaining (one series "
                "per capability)")
      ->group("Serving");
  // Capabilities are written by tenants: their checks may read files only from here.
  flags.engine.check_files_dir = "/etc/heartbeat-operator/checks";
  AddEngineFlags(*cmd, flags.engine);
  AddEtcdFlags(*cmd, flags.etcd);
  return cmd;
}

// The first problem with the flags, or "" when they can run.
std::string CheckControllerFlags(const ControllerFlags& flags) {
  if (std::string bad = CheckTiming(flags.engine); !bad.empty()) return bad;
  for (const std::string& named : flags.configmaps) {
    size_t slash = named.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == named.size()) {
      return absl::StrCat("--capabilities-configmap: expected NAMESPACE/NAME, got \"", named, "\"");
    }
    // Its mirrors live in its namespace: unwatched, they would never be seen (and created
    // again and again).
    const auto& watched = flags.watch_namespaces;
    std::string ns = named.substr(0, slash);
    if (!watched.empty() && std::find(watched.begin(), watched.end(), ns) == watched.end()) {
      return absl::StrCat("--capabilities-configmap ", named, ": namespace ", ns,
                          " is not in --watch-namespace (", absl::StrJoin(watched, ","),
                          "); add it there");
    }
  }
  const bool shards = flags.shards == "auto";
  if (shards && flags.leader_elect) {
    return "--shards auto elects every replica on a Lease of its own: drop --leader-elect";
  }
  if (shards && flags.engine.lease_mode != "per-capability") {
    return "--shards auto needs --lease-mode per-capability (a replica hands a capability over "
           "by passing on its lease)";
  }
  if (shards && flags.on_exit == "revoke") {
    return "--shards auto needs --on-exit keep: the other replicas adopt the keys of one that "
           "stops";
  }
  const bool elect = flags.leader_elect || shards;
  if (elect &&
      !(flags.retry_period < flags.renew_deadline && flags.renew_deadline < flags.lease_duration)) {
    return "leader election needs --leader-elect-retry-period < --leader-elect-renew-deadline < "
           "--leader-elect-lease-duration";
  }
  if (elect && flags.lease_duration - flags.renew_deadline <
                   std::max(kMinElectionMargin, 0.1 * flags.lease_duration)) {
    // The leader acts until renew deadline after its last renewal began; a standby takes
    // over lease duration after it saw that renewal. The gap absorbs clock-rate drift and
    // the time the renewal took to reach the standby.
    return absl::StrCat(
        "--leader-elect-lease-duration must exceed --leader-elect-renew-deadline by at least ",
        std::max(kMinElectionMargin, 0.1 * flags.lease_duration),
        " s (1 s or 10 % of the lease duration), so that a replaced leader has stopped before "
        "a standby takes over");
  }
  for (const std::string* bind : {&flags.metrics_bind, &flags.health_bind}) {
    if (*bind == "0") continue;
    if (auto address = metrics::NormalizeBindAddress(*bind); !address.ok()) {
      return std::string(address.status().message());
    }
  }
  if (!flags.dashboard_bind.empty() && flags.dashboard_bind != "0") {
    if (auto address = metrics::NormalizeBindAddress(flags.dashboard_bind); !address.ok()) {
      return absl::StrCat("--dashboard-bind-address: ", address.status().message());
    }
  }
  return "";
}

int RunController(const ControllerFlags& flags) {
  if (!ConfigureLogging(flags.engine.log_format)) return 2;
  if (std::string bad = CheckControllerFlags(flags); !bad.empty()) return UsageError(bad);
  auto etcd_options = ToClientOptions(flags.etcd);
  if (!etcd_options.ok()) return UsageError(std::string(etcd_options.status().message()));
  auto kube_config = kube::LoadDefault(flags.kubeconfig, flags.context);
  if (!kube_config.ok()) {
    LogError("Cannot load the Kubernetes configuration",
             {{"error", kube_config.status().message()}});
    return 1;
  }
  kube::RestClientOptions kube_options;
  kube_options.qps = flags.kube_api_qps;
  kube_options.burst = flags.kube_api_burst;
  auto kube_client = kube::RestKubeClient::FromConfig(*kube_config, kube_options);
  if (!kube_client.ok()) {
    LogError("Cannot set up the Kubernetes client", {{"error", kube_client.status().message()}});
    return 1;
  }
  LogInfo("Kubernetes API", {{"config", kube::Describe(*kube_config)}});

  // Leader election calls have a client of their own whose timeout is well inside the renew
  // deadline, so that a renewal stuck on an unresponsive API server ends in time.
  const bool shards = flags.shards == "auto";
  std::unique_ptr<kube::RestKubeClient> election_client;
  if (flags.leader_elect || shards) {
    kube::RestClientOptions election_options;
    election_options.request_timeout = ElectionCallTimeout(flags);
    election_options.qps = flags.kube_api_qps;  // its own bucket: never starved by status writes
    election_options.burst = flags.kube_api_burst;
    auto created = kube::RestKubeClient::FromConfig(*kube_config, election_options);
    if (!created.ok()) {
      LogError("Cannot set up the Kubernetes client", {{"error", created.status().message()}});
      return 1;
    }
    election_client = *std::move(created);
  }

  std::string instance = flags.instance.empty() ? DefaultInstance() : flags.instance;
  // serviceRef checks: the EndpointSlices of the watched namespaces (outlives the host).
  op::EndpointSliceProber endpoint_slices(**kube_client, RealClock::Get(), flags.watch_namespaces);
  HostOptions host_options{flags.leader_elect || shards, instance, &endpoint_slices};
  // A replica joining owns nothing for renew deadline + call timeout: the lease of a
  // capability handed over stays renewed well past that, until its new owner adopts it.
  const absl::Duration join_wait = absl::Seconds(flags.renew_deadline) + etcd_options->call_timeout;
  if (shards)
    host_options.hand_over_grace = join_wait + absl::Seconds(2 * flags.lease_duration + 30);
  auto host = EngineHost::Create(*etcd_options, flags.engine, host_options);
  if (!host.ok()) {
    LogError("Cannot set up the etcd client", {{"error", host.status().message()}});
    return 1;
  }
  std::unique_ptr<ShardCoordinator> coordinator;
  op::OperatorOptions operator_options =
      OperatorOptionsFrom(flags, instance, etcd_options->call_timeout);
  if (shards) {
    coordinator = std::make_unique<ShardCoordinator>(
        (*host)->engine(), RealClock::Get(), ShardCoordinator::Options{instance, join_wait});
    operator_options.reconciler.shards = coordinator.get();
  }
  op::Operator controller(**kube_client, (*host)->engine(), RealClock::Get(), operator_options);
  if (coordinator) coordinator->SetResync([&controller] { controller.ResyncAll(); });
  // Standbys keep caches warm and take over when the lease is free.
  LeaderElection election(flags, instance, election_client.get(), **host, controller,
                          coordinator.get());
  controller.Start(/*lead=*/!election.enabled());
  std::unique_ptr<ShardMembershipThread> membership;
  if (coordinator) {
    leader::ShardMembershipOptions mo;
    mo.lease_namespace = election.lease_namespace();
    mo.group = flags.leader_election_id;
    mo.self = instance;
    mo.renew_deadline = absl::Seconds(flags.renew_deadline);
    mo.retry_period = absl::Seconds(flags.retry_period);
    membership = std::make_unique<ShardMembershipThread>(
        *election_client, mo, *coordinator,
        [&election](absl::Time until) { election.CapPermit(until); });
  }
  ControllerServers servers = StartServers(flags, **host, **kube_client, controller, election);
  auto dashboard = StartDashboard(flags.dashboard_bind, (*host)->etcd(), flags.engine.key_prefix);
  if (!dashboard.ok()) {
    LogError("Cannot serve the dashboard", {{"error", dashboard.status().message()}});
  }
  LogInfo("Controller started", {{"etcd", (*host)->where()},
                                 {"namespaces", flags.watch_namespaces.empty()
                                                    ? std::string("(all)")
                                                    : absl::StrJoin(flags.watch_namespaces, ",")},
                                 {"configmap_selector", flags.configmap_selector},
                                 {"configmaps", absl::StrJoin(flags.configmaps, ",")},
                                 {"leader_election", flags.leader_elect},
                                 {"shards", flags.shards}});

  int signal = (*host)->WaitForSignal([&election] { return election.Lost(); });
  if (election.Lost()) {
    // Another replica may lead already. The fence refuses every write from here on (the
    // permit ended, or the fence is taken), so nothing is left to do in order: exit at
    // once, as client-go's leader election does, rather than wait for calls to an API
    // server that may not answer. The leases stay for the new leader to adopt.
    LogError("Leadership lost; exiting without revoking so that the new leader adopts");
    std::fflush(nullptr);
    std::_Exit(1);
  }
  if (dashboard.ok()) dashboard->reset();  // it reads through the host's etcd client
  membership.reset();
  controller.Stop();
  (*host)->Shutdown(signal, flags.on_exit == "revoke", "Controller stopped");
  election.Stop(/*release=*/true);
  return 0;
}

}  // namespace hb::cli
