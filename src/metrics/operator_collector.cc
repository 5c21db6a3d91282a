#include "metrics/operator_collector.h"

#include <initializer_list>
#include <limits>

namespace hb::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<std::pair<std::string, std::string>>;

// Bucket bounds (seconds) shared by every latency histogram.
const double kBounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};

ClientMetric Metric(const Labels& labels) {
  ClientMetric m;
  for (const auto& [name, value] : labels) m.label.push_back({name, value});
  return m;
}

MetricFamily& Family(std::vector<MetricFamily>& out, const std::string& name,
                     const std::string& help, MetricType type) {
  out.push_back(MetricFamily{name, help, type, {}});
  return out.back();
}

void Counter(std::vector<MetricFamily>& out, const std::string& name, const std::string& help,
             std::initializer_list<std::pair<Labels, double>> series) {
  MetricFamily& f = Family(out, name, help, MetricType::Counter);
  for (const auto& [labels, value] : series) {
    ClientMetric m = Metric(labels);
    m.counter.value = value;
    f.metric.push_back(m);
  }
}

void Gauge(std::vector<MetricFamily>& out, const std::string& name, const std::string& help,
           double value, const Labels& labels = {}) {
  MetricFamily& f = Family(out, name, help, MetricType::Gauge);
  ClientMetric m = Metric(labels);
  m.gauge.value = value;
  f.metric.push_back(m);
}

void Histogram(std::vector<MetricFamily>& out, const std::string& name, const std::string& help,
               const LatencyHistogram& h, const Labels& labels = {}) {
  MetricFamily& f = Family(out, name, help, MetricType::Histogram);
  ClientMetric m = Metric(labels);
  m.histogram.sample_count = h.Count();
  m.histogram.sample_sum = absl::ToDoubleSeconds(h.Sum());
  for (double bound : kBounds) {
    m.histogram.bucket.push_back({h.CountAtOrBelow(absl::Seconds(bound)), bound});
  }
  m.histogram.bucket.push_back({m.histogram.sample_count, std::numeric_limits<double>::infinity()});
  f.metric.push_back(m);
}

void Summary(std::vector<MetricFamily>& out, const std::string& name, const std::string& help,
             uint64_t count, absl::Duration p50, absl::Duration p99, const Labels& labels) {
  MetricFamily& f = Family(out, name, help, MetricType::Summary);
  ClientMetric m = Metric(labels);
  m.summary.sample_count = count;
  m.summary.quantile = {{0.5, absl::ToDoubleSeconds(p50)}, {0.99, absl::ToDoubleSeconds(p99)}};
  f.metric.push_back(m);
}

}  // namespace

OperatorCollector::OperatorCollector(MetricsSources sources) : sources_(std::move(sources)) {}

std::vector<MetricFamily> OperatorCollector::Collect() const {
  std::vector<MetricFamily> out;
  if (sources_.engine != nullptr) CollectEngine(out);
  if (sources_.checker != nullptr) CollectChecks(out);
  if (sources_.controller != nullptr) CollectController(out);
  CollectCapabilities(out);
  if (sources_.notifier != nullptr) CollectNotifications(out);
  if (sources_.is_leader) {
    Gauge(out, "leader_election_master_status",
          "1 while this replica leads (runs heartbeats and writes status)",
          sources_.is_leader() ? 1 : 0, {{"name", sources_.leader_election_id}});
  }
  if (sources_.etcd_endpoints) {
    MetricFamily& f =
        Family(out, "heartbeat_operator_etcd_endpoint_up",
               "1 when the last call to this etcd endpoint got an answer", MetricType::Gauge);
    for (const EndpointState& e : sources_.etcd_endpoints()) {
      ClientMetric m = Metric({{"endpoint", e.endpoint}});
      m.gauge.value = e.up ? 1 : 0;
      f.metric.push_back(m);
    }
  }
  return out;
}

void OperatorCollector::CollectNotifications(std::vector<MetricFamily>& out) const {
  const alert::NotifierStats n = sources_.notifier->stats();
  Counter(out, "heartbeat_operator_capability_transitions_total",
          "Capability transitions notified (handed to every notification sink)",
          {{{}, static_cast<double>(n.transitions)}});
  Counter(out, "heartbeat_operator_notification_storms_total",
          "Times more than --alert-storm-share of the capabilities failed at once",
          {{{}, static_cast<double>(n.storms)}});
  Gauge(out, "heartbeat_operator_notification_storm",
        "1 while a notification storm holds per-capability notifications", n.storm ? 1 : 0);
  Gauge(out, "heartbeat_operator_notifications_held",
        "Transitions waiting for --alert-hold or for a storm to end", static_cast<double>(n.held));
  MetricFamily& total = Family(out, "heartbeat_operator_notifications_total",
                               "Notifications by sink and result (sent; failed: an attempt "
                               "that will be retried; rejected: refused for good; dropped: "
                               "queue full)",
                               MetricType::Counter);
  MetricFamily& queued =
      Family(out, "heartbeat_operator_notifications_queued",
             "Notifications (webhook) or alerts (Alertmanager) waiting", MetricType::Gauge);
  for (const auto& [sink, s] : n.sinks) {
    for (const auto& [result, value] : {std::pair<const char*, uint64_t>{"sent", s.sent},
                                        {"failed", s.failed},
                                        {"rejected", s.rejected},
                                        {"dropped", s.dropped}}) {
      ClientMetric m = Metric({{"sink", sink}, {"result", result}});
      m.counter.value = static_cast<double>(value);
      total.metric.push_back(m);
    }
    ClientMetric q = Metric({{"sink", sink}});
    q.gauge.value = static_cast<double>(s.queued);
    queued.metric.push_back(q);
  }
}

void OperatorCollector::CollectChecks(std::vector<MetricFamily>& out) const {
  const check::CheckStats& s = sources_.checker->stats();
  check::CheckGauges g = sources_.checker->Gauges();
  constexpr check::CheckKind kKinds[] = {check::CheckKind::kHttp, check::CheckKind::kTcp,
                                         check::CheckKind::kGrpc, check::CheckKind::kServiceRef};
  MetricFamily& total = Family(out, "heartbeat_operator_checks_total",
                               "Health check results by kind and result", MetricType::Counter);
  for (check::CheckKind kind : kKinds) {
    int k = static_cast<int>(kind);
    for (auto [result, value] : {std::pair<const char*, uint64_t>{"pass", s.passed[k].load()},
                                 std::pair<const char*, uint64_t>{"fail", s.failed[k].load()}}) {
      ClientMetric m = Metric({{"kind", check::CheckKindName(kind)}, {"result", result}});
      m.counter.value = static_cast<double>(value);
      total.metric.push_back(m);
    }
  }
  for (check::CheckKind kind : kKinds) {
    if (s.latency[static_cast<int>(kind)].Count() == 0) continue;
    Histogram(out, "heartbeat_operator_check_duration_seconds",
              "Health check latency, probe started to result", s.latency[static_cast<int>(kind)],
              {{"kind", check::CheckKindName(kind)}});
  }
  MetricFamily& states = Family(
      out, "heartbeat_operator_capabilities_by_check_state",
      "Checked capabilities by check state (flapping and deregistered also count in the others)",
      MetricType::Gauge);
  for (auto [state, value] : {std::pair<const char*, int64_t>{"pending", g.pending},
                              {"passing", g.passing},
                              {"failing", g.failing},
                              {"flapping", g.flapping},
                              {"deregistered", g.deregistered}}) {
    ClientMetric m = Metric({{"state", state}});
    m.gauge.value = static_cast<double>(value);
    states.metric.push_back(m);
  }
  Gauge(out, "heartbeat_operator_checks_in_flight", "Health check probes awaiting an answer",
        static_cast<double>(g.in_flight));
  Gauge(out, "heartbeat_operator_checks_waiting",
        "Health check probes due but waiting for a free slot (--check-concurrency)",
        static_cast<double>(g.waiting));
}

void OperatorCollector::CollectEngine(std::vector<MetricFamily>& out) const {
  const heartbeat::EngineStats& s = sources_.engine->stats();
  heartbeat::EngineGauges g = sources_.engine->Gauges();
  auto v = [](const std::atomic<uint64_t>& a) { return static_cast<double>(a.load()); };
  Counter(out, "heartbeat_operator_heartbeats_total", "Health-key puts by outcome",
          {{{{"result", "ok"}}, v(s.beats_ok)},
           {{{"result", "failed"}}, v(s.beats_failed)},
           {{{"result", "throttled"}}, v(s.beats_throttled)},
           {{{"result", "skipped"}}, v(s.beats_skipped)},
           {{{"result", "no_space"}}, v(s.beats_no_space)}});
  Counter(out, "heartbeat_operator_keepalives_total", "Lease keep-alives sent and answered",
          {{{{"result", "sent"}}, v(s.keepalives_sent)},
           {{{"result", "answered"}}, v(s.keepalives_answered)}});
  Counter(out, "heartbeat_operator_lease_grants_total", "Leases granted",
          {{{}, v(s.leases_granted)}});
  Counter(out, "heartbeat_operator_lease_grant_failures_total", "Lease grants that failed",
          {{{}, v(s.grant_failures)}});
  Counter(out, "heartbeat_operator_leases_lost_total",
          "Leases found gone (TTL 0, 'lease not found' or no answer in time) and re-granted",
          {{{}, v(s.leases_lost)}});
  Counter(out, "heartbeat_operator_leases_adopted_total", "Live leases adopted at start",
          {{{}, v(s.leases_adopted)}});
  Counter(out, "heartbeat_operator_leases_revoked_total", "Leases revoked",
          {{{}, v(s.leases_revoked)}});
  Histogram(out, "heartbeat_operator_put_duration_seconds", "Health-key put latency",
            s.put_latency);
  Histogram(out, "heartbeat_operator_keepalive_duration_seconds", "Keep-alive answer latency",
            s.keepalive_latency);
  Histogram(out, "heartbeat_operator_grant_duration_seconds", "Lease grant latency",
            s.grant_latency);
  Histogram(out, "heartbeat_operator_beat_lateness_seconds",
            "How late each routine put left against its schedule", s.beat_lateness);
  Gauge(out, "heartbeat_operator_capabilities_running", "Capabilities the engine heartbeats",
        static_cast<double>(g.capabilities));
  Gauge(out, "heartbeat_operator_leases_active", "Leases held", static_cast<double>(g.leases_held));
  Gauge(out, "heartbeat_operator_requests_in_flight", "etcd puts, grants and revokes in flight",
        static_cast<double>(g.in_flight));
  Gauge(out, "heartbeat_operator_requests_waiting", "Puts and grants waiting for a free slot",
        static_cast<double>(g.waiting_for_slot));
  Gauge(out, "heartbeat_operator_beat_lag_seconds", "How late the most overdue waiting beat is",
        absl::ToDoubleSeconds(g.lag));
  Gauge(out, "heartbeat_operator_falling_behind", "1 while beats wait for etcd",
        g.falling_behind ? 1 : 0);
  Gauge(out, "heartbeat_operator_keepalive_congested",
        "1 while routine puts are held back for slow keep-alive answers",
        g.keepalives_congested ? 1 : 0);
  Gauge(out, "heartbeat_operator_keepalive_stream_up", "1 while the keep-alive stream is open",
        g.keepalive_stream_up ? 1 : 0);
  Gauge(out, "heartbeat_operator_etcd_no_space",
        "1 while etcd refuses writes with its NOSPACE alarm (database space exceeded)",
        g.etcd_no_space ? 1 : 0);
  if (!sources_.per_capability || sources_.clock == nullptr) return;
  MetricFamily& last =
      Family(out, "heartbeat_operator_capability_last_success_timestamp_seconds",
             "Unix time of the capability's last successful heartbeat", MetricType::Gauge);
  MetricFamily& ttl =
      Family(out, "heartbeat_operator_capability_ttl_remaining_seconds",
             "Seconds left on the capability's lease (local estimate)", MetricType::Gauge);
  absl::Time now = sources_.clock->Now();
  for (const heartbeat::HeartbeatStatus& c : sources_.engine->AllStatuses()) {
    if (c.last_heartbeat) {
      ClientMetric m = Metric({{"identifier", c.identifier}});
      m.gauge.value = absl::ToDoubleSeconds(*c.last_heartbeat - absl::UnixEpoch());
      last.metric.push_back(m);
    }
    if (c.lease_deadline) {
      ClientMetric m = Metric({{"identifier", c.identifier}});
      m.gauge.value = std::max(0.0, absl::ToDoubleSeconds(*c.lease_deadline - now));
      ttl.metric.push_back(m);
    }
  }
}

void OperatorCollector::CollectController(std::vector<MetricFamily>& out) const {
  const op::ReconcileStats& r = sources_.controller->reconcile_stats();
  Labels controller = {{"controller", "capability"}};
  auto v = [](const std::atomic<uint64_t>& a) { return static_cast<double>(a.load()); };
  Counter(out, "controller_runtime_reconcile_total", "Reconciles by result",
          {{{{"controller", "capability"}, {"result", "success"}}, v(r.success)},
           {{{"controller", "capability"}, {"result", "error"}}, v(r.error)},
           {{{"controller", "capability"}, {"result", "requeue_after"}}, v(r.requeue_after)}});
  Counter(out, "controller_runtime_reconcile_errors_total", "Reconciles that failed",
          {{controller, v(r.error)}});
  Histogram(out, "controller_runtime_reconcile_time_seconds", "Reconcile duration", r.duration,
            controller);
  Gauge(out, "controller_runtime_active_workers", "Workers reconciling now",
        static_cast<double>(r.active_workers.load()), controller);
  Gauge(out, "controller_runtime_max_concurrent_reconciles", "Workers",
        sources_.controller->workers(), controller);
  informer::WorkQueueMetrics q = sources_.controller->QueueMetrics();
  Labels name = {{"name", "capability"}};
  Gauge(out, "workqueue_depth", "Keys waiting to be reconciled", static_cast<double>(q.depth),
        name);
  Counter(out, "workqueue_adds_total", "Keys added", {{name, static_cast<double>(q.adds)}});
  Counter(out, "workqueue_retries_total", "Keys re-added after a failure",
          {{name, static_cast<double>(q.retries)}});
  Gauge(out, "workqueue_unfinished_work_seconds", "Summed age of the keys being reconciled",
        absl::ToDoubleSeconds(q.unfinished_work), name);
  Gauge(out, "workqueue_longest_running_processor_seconds", "Age of the oldest reconcile running",
        absl::ToDoubleSeconds(q.longest_running), name);
  Summary(out, "workqueue_queue_duration_seconds", "Time keys wait before a worker takes them",
          q.queue_time_count, q.queue_time_p50, q.queue_time_p99, name);
  Summary(out, "workqueue_work_duration_seconds", "Time a worker spends on a key",
          q.work_time_count, q.work_time_p50, q.work_time_p99, name);
  op::EventRecorder::Stats e = sources_.controller->EventStats();
  Counter(out, "heartbeat_operator_events_total",
          "Kubernetes Events by result: created, correlated (a repeat raised a count), dropped "
          "(over the per-object or global event budget)",
          {{{{"result", "created"}}, static_cast<double>(e.created)},
           {{{"result", "correlated"}}, static_cast<double>(e.correlated)},
           {{{"result", "dropped"}}, static_cast<double>(e.dropped)}});
  if (sources_.kube_rate_limit) {
    TokenBucket::Stats k = sources_.kube_rate_limit();
    Counter(out, "heartbeat_operator_kube_api_requests_total",
            "Kubernetes API requests (watches excluded) that took a rate-limit token",
            {{{}, static_cast<double>(k.granted)}});
    Counter(out, "heartbeat_operator_kube_api_throttled_total",
            "Kubernetes API requests that waited for the client-side rate limit",
            {{{}, static_cast<double>(k.delayed)}});
    Counter(out, "heartbeat_operator_kube_api_throttle_seconds_total",
            "Time Kubernetes API requests waited for the client-side rate limit",
            {{{}, absl::ToDoubleSeconds(k.waited)}});
  }
}

void OperatorCollector::CollectCapabilities(std::vector<MetricFamily>& out) const {
  if (sources_.controller == nullptr) return;
  MetricFamily& f =
      Family(out, "heartbeat_operator_capabilities",
             "Capability objects by source (resource or configmap) and phase", MetricType::Gauge);
  for (const auto& [key, count] : sources_.controller->PhaseCounts()) {
    ClientMetric m = Metric({{"source", key.first}, {"phase", key.second}});
    m.gauge.value = static_cast<double>(count);
    f.metric.push_back(m);
  }
}

}  // namespace hb::metrics
