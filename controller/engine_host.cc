#include "engine_host.h"

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/time_format.h"
#include "etcd/grpc_etcd_client.h"
#include "etcd_flags.h"
#include "signals.h"

namespace hb::cli {
namespace {

// Reports, once, whether etcd answers at start-up (trying each endpoint once); never
// blocks the heartbeats.
void ProbeEtcd(etcd::EtcdClient& client, const std::string& where, size_t attempts_left) {
  client.Status([&client, where, attempts_left](absl::StatusOr<etcd::ServerStatus> status) {
    if (status.ok()) {
      LogInfo(absl::StrCat("Connected to etcd at ", status->endpoint),
              {{"version", status->version}});
    } else if (attempts_left > 1 && status.status().code() == absl::StatusCode::kUnavailable) {
      ProbeEtcd(client, where, attempts_left - 1);
    } else if (status.status().code() == absl::StatusCode::kUnauthenticated ||
               status.status().code() == absl::StatusCode::kPermissionDenied) {
      // Reachable, but this client is refused: the etcd client logged why, once.
    } else {
      LogError(absl::StrCat("etcd at ", where, " is not reachable yet; retrying in the background"),
               {{"error", status.status().message()}});
    }
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<EngineHost>> EngineHost::Create(const etcd::ClientOptions& etcd,
                                                               const EngineFlags& flags,
                                                               const HostOptions& options) {
  auto client = etcd::GrpcEtcdClient::Create(etcd);
  if (!client.ok()) return client.status();
  std::unique_ptr<EngineHost> host(new EngineHost());
  host->flags_ = flags;
  host->where_ = DescribeEndpoints(etcd);
  host->client_ = *std::move(client);
  ProbeEtcd(*host->client_, host->where_, etcd.endpoints.size());
  etcd::EtcdClient* writes = host->client_.get();
  if (options.fenced) {
    host->fence_ = std::make_unique<etcd::FencedEtcdClient>(*host->client_, RealClock::Get());
    writes = host->fence_.get();
  }
  heartbeat::EngineOptions engine_options = ToEngineOptions(flags, etcd.call_timeout);
  engine_options.writer = options.writer;
  if (options.hand_over_grace > absl::ZeroDuration()) {
    engine_options.hand_over_grace = options.hand_over_grace;
  }
  host->checker_ = std::make_unique<check::Checker>(
      RealClock::Get(), check::CheckerOptions{flags.check_concurrency, 0, absl::Milliseconds(50)});
  if (flags.health_checks) {
    check::CurlProberOptions curl;
    curl.files_dir = flags.check_files_dir;
    host->curl_ = std::make_unique<check::CurlProber>(curl);
    host->grpc_ = std::make_unique<check::GrpcProber>(flags.check_files_dir);
    host->checker_->SetProber(check::CheckKind::kHttp, host->curl_.get());
    host->checker_->SetProber(check::CheckKind::kTcp, host->curl_.get());
    host->checker_->SetProber(check::CheckKind::kGrpc, host->grpc_.get());
    if (options.service_ref_prober != nullptr) {
      host->checker_->SetProber(check::CheckKind::kServiceRef, options.service_ref_prober);
    }
  }
  engine_options.checker = host->checker_.get();
  host->engine_ =
      std::make_unique<heartbeat::HeartbeatEngine>(*writes, RealClock::Get(), engine_options);
  absl::StatusOr<std::unique_ptr<alert::Notifier>> notifier =
      MakeNotifier(flags.alerts, *host->engine_, RealClock::Get(), options.writer);
  if (!notifier.ok()) return notifier.status();
  host->notifier_ = *std::move(notifier);
  if (host->notifier_) {
    alert::Notifier* n = host->notifier_.get();
    host->engine_->AddChangeHook([n](const std::string& id) { n->Changed(id); });
    host->notifier_->Start();
  }
  host->runner_ = std::make_unique<heartbeat::EngineRunner>(
      *host->engine_, RealClock::Get(), absl::Milliseconds(flags.batch_window_ms));
  host->checker_->Start();
  host->started_ = RealClock::Get().Now();
  return host;
}

EngineHost::~EngineHost() {
  if (notifier_) notifier_->Stop();  // its threads read the engine
  if (checker_) checker_->Stop();    // no more probes, no more reports into the engine
  curl_.reset();                     // abandon the probes in flight
  grpc_.reset();
  if (runner_) runner_->Stop();  // no more calls into the client
  client_.reset();  // delivers its last answers to the engine, whose wake hook (the runner's) lives
  fence_.reset();   // after the client: its answers pass through the fence
  runner_.reset();
  engine_.reset();
  notifier_.reset();
  checker_.reset();
}

int EngineHost::WaitForSignal(const std::function<bool()>& stop) {
  Clock& clock = RealClock::Get();
  absl::Time next_stats = flags_.stats_interval > 0
                              ? clock.Now() + absl::Seconds(flags_.stats_interval)
                              : absl::InfiniteFuture();
  while (true) {
    int signal = WaitForTerminationSignal(absl::Seconds(1));
    if (signal != 0) return signal;
    if (stop && stop()) return 0;
    if (clock.Now() >= next_stats) {
      LogStatistics("Statistics", engine_->Gauges().capabilities);
      next_stats = clock.Now() + absl::Seconds(flags_.stats_interval);
    }
  }
}

std::vector<std::pair<std::string, int>> EngineHost::EtcdEndpointStates() const {
  return client_->EndpointStates();
}

void EngineHost::Shutdown(int signal, bool revoke, const char* title) {
  int64_t capabilities = engine_->Gauges().capabilities;
  LogInfo(absl::StrCat(signal != 0 ? absl::StrCat("Received ", SignalName(signal)) : "Stopping",
                       "; ",
                       revoke ? "revoking leases and removing health keys"
                              : "keeping leases (keys expire after their TTL unless adopted)"));
  // Stopping or revoking is not a transition of the services: notify nothing more.
  if (notifier_) notifier_->Stop();
  bool drained = runner_->Shutdown(revoke, absl::Seconds(flags_.shutdown_timeout));
  if (!drained) {
    LogWarning(
        "Shutdown timed out; keys whose revocation was not confirmed expire with their leases",
        {{"timeout_seconds", flags_.shutdown_timeout}});
  }
  LogStatistics(title, capabilities);
}

void EngineHost::LogStatistics(const char* title, int64_t capabilities) const {
  const heartbeat::EngineStats& s = engine_->stats();
  uint64_t passed = 0, failed = 0;
  for (int k = 0; k < check::kCheckKinds; ++k) {
    passed += checker_->stats().passed[k].load();
    failed += checker_->stats().failed[k].load();
  }
  LogInfo(title, {{"capabilities", capabilities},
                  {"checks_passed", passed},
                  {"checks_failed", failed},
                  {"heartbeats_sent", s.beats_ok.load()},
                  {"heartbeats_failed", s.beats_failed.load()},
                  {"heartbeats_throttled", s.beats_throttled.load()},
                  {"keepalives", s.keepalives_answered.load()},
                  {"leases_granted", s.leases_granted.load()},
                  {"leases_adopted", s.leases_adopted.load()},
                  {"leases_lost", s.leases_lost.load()},
                  {"leases_revoked", s.leases_revoked.load()},
                  {"uptime", HumanDuration(RealClock::Get().Now() - started_)}});
  if (!notifier_) return;
  const alert::NotifierStats n = notifier_->stats();
  for (const auto& [sink, stats] : n.sinks) {
    LogInfo(absl::StrCat(title, ": notifications to ", sink), {{"transitions", n.transitions},
                                                               {"sent", stats.sent},
                                                               {"failed_attempts", stats.failed},
                                                               {"rejected", stats.rejected},
                                                               {"dropped", stats.dropped},
                                                               {"queued", stats.queued},
                                                               {"storms", n.storms}});
  }
}

}  // namespace hb::cli
