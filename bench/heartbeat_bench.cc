// heartbeat-bench: runs N capabilities through the real engine and gRPC client against an
// etcd for D seconds and prints what the engine achieved and what it cost the client.
//
// Figures (printed after a warm-up in which every lease is granted and placed):
//   heartbeats/s achieved vs expected, leases lost, keep-alives/s,
//   client CPU microseconds per heartbeat (this process's user+system time / puts),
//   RSS (baseline, peak, per capability), p50/p99 lateness of beats against their
//   schedule, p50/p99 put latency, and the time the final revocation took. With
//   --watch-deletes, also how many health keys an etcd watch saw deleted between "every key
//   written" and the final revocation (the watch runs in this process: leave it off when
//   measuring CPU).
// Usually run through hack/bench-heartbeat, which starts a local etcd for it.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/log.h"
#include "etcd/grpc_etcd_client.h"
#include "heartbeat/engine.h"
#include "heartbeat/engine_runner.h"
#include "process_stats.h"

using hb::bench::CpuSeconds;
using hb::bench::RssMiB;

namespace {

// Counts DELETE events under the watched prefix while counting is on.
class DeleteCounter final : public hb::etcd::WatchListener {
 public:
  void OnWatchEvents(const std::vector<hb::etcd::WatchEvent>& events) override {
    if (!counting_.load()) return;
    for (const auto& e : events) {
      if (e.type == hb::etcd::WatchEvent::Type::kDelete) deletes_.fetch_add(1);
    }
  }
  void OnWatchError(const absl::Status& status, bool fatal) override {
    if (fatal) broken_.store(true);
    std::fprintf(stderr, "watch error: %s\n", std::string(status.message()).c_str());
  }
  std::atomic<bool> counting_{false};
  std::atomic<uint64_t> deletes_{0};
  std::atomic<bool> broken_{false};
};

// Grants `count` leases, then sends keep-alives for all of them as fast as the client's
// stream takes them, for `seconds`: the raw capacity of one keep-alive stream.
class CountingListener final : public hb::etcd::KeepAliveListener {
 public:
  void OnKeepAliveResponse(int64_t, int64_t) override { answers.fetch_add(1); }
  void OnKeepAliveStreamState(bool, const absl::Status&) override {}
  std::atomic<uint64_t> answers{0};
};

int RawKeepAlive(hb::etcd::EtcdClient& client, int64_t count, int64_t ttl, double seconds,
                 bool with_keys) {
  std::vector<int64_t> leases;
  absl::Mutex mu;
  int64_t in_flight = 0, failed = 0;
  for (int64_t i = 0; i < count; ++i) {
    {
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(
          +[](int64_t* n) { return *n < 500; }, &in_flight));
      ++in_flight;
    }
    client.LeaseGrant(ttl, [&](absl::StatusOr<hb::etcd::GrantedLease> lease) {
      absl::MutexLock lock(&mu);
      --in_flight;
      if (lease.ok()) {
        leases.push_back(lease->id);
      } else {
        ++failed;
      }
    });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int64_t* n) { return *n == 0; }, &in_flight));
  }
  if (leases.empty()) {
    std::cerr << "no lease granted (" << failed << " failures)\n";
    return 1;
  }
  if (with_keys) {  // attach one key to each lease, as the engine does
    std::vector<hb::etcd::PutRequest> batch;
    for (size_t i = 0; i < leases.size(); ++i) {
      batch.push_back(
          hb::etcd::PutRequest{absl::StrCat("/raw/", i), std::string(200, 'x'), leases[i]});
      if (batch.size() == 128 || i + 1 == leases.size()) {
        auto promise = std::make_shared<std::promise<absl::Status>>();
        auto done = promise->get_future();
        client.PutBatch(std::move(batch), [promise](absl::StatusOr<hb::etcd::PutResult> r) {
          promise->set_value(r.status());
        });
        if (!done.get().ok()) return 1;
        batch.clear();
      }
    }
  }
  CountingListener listener;
  client.SetKeepAliveListener(&listener);
  double cpu0 = 0;
  {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    cpu0 = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  }
  absl::Time start = absl::Now();
  size_t next = 0;
  uint64_t sent = 0;
  while (absl::Now() - start < absl::Seconds(seconds)) {
    // Keep at most a few thousand unanswered, as the engine would.
    while (sent - listener.answers.load() < 4096) {
      client.KeepAlive(leases[next]);
      next = (next + 1) % leases.size();
      ++sent;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
               static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6 - cpu0;
  uint64_t answers = listener.answers.load();
  std::printf("raw keep-alives          %.0f answered/s over %lld leases, %.1f us CPU each\n",
              static_cast<double>(answers) / elapsed, static_cast<long long>(count),
              answers > 0 ? cpu * 1e6 / static_cast<double>(answers) : 0.0);
  client.SetKeepAliveListener(nullptr);
  return 0;
}

std::string Ms(absl::Duration d) {
  return absl::StrFormat("%.1f ms", absl::ToDoubleMilliseconds(d));
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil checks every mutex acquisition for lock-order cycles, which costs
  // more than the work it guards; the tests keep the checks.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  int64_t count = 1000;
  double duration_s = 60, warmup_s = 0, interval_s = 10;
  int64_t ttl = 30;
  std::string endpoints = "127.0.0.1:2379", mode = "every-beat", lease_mode = "per-capability";
  int shared_leases = 16;
  int max_in_flight = 512, threads = 1;
  double batch_window_ms = 200;
  CLI::App app{"Heartbeat engine benchmark against a running etcd"};
  app.add_option("-n,--capabilities", count, "Capabilities")->capture_default_str();
  app.add_option("-d,--duration", duration_s, "Measured seconds")->capture_default_str();
  app.add_option("--warmup", warmup_s, "Seconds before measuring (default: interval + 5)");
  app.add_option("--interval", interval_s, "Heartbeat interval, seconds")->capture_default_str();
  app.add_option("--ttl", ttl, "Lease TTL, seconds")->capture_default_str();
  app.add_option("--mode", mode, "every-beat or on-change")->capture_default_str();
  app.add_option("--lease-mode", lease_mode, "per-capability or shared")
      ->capture_default_str()
      ->check(CLI::IsMember({"per-capability", "shared"}));
  app.add_option("--shared-leases", shared_leases, "shared lease mode: leases per TTL")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--etcd-endpoints", endpoints, "etcd endpoints")->capture_default_str();
  app.add_option("--max-in-flight", max_in_flight, "Engine in-flight cap")->capture_default_str();
  int max_batch = 128;
  app.add_option("--max-batch", max_batch, "Puts per etcd transaction")->capture_default_str();
  app.add_option("--etcd-threads", threads, "Completion-queue threads")->capture_default_str();
  app.add_option("--batch-window", batch_window_ms, "Runner batch window, milliseconds")
      ->capture_default_str();
  bool raw_keepalive = false, verbose = false, raw_with_keys = false;
  app.add_flag("--raw-with-keys", raw_with_keys, "--raw-keepalive: attach a key to each lease");
  app.add_flag("-v,--verbose", verbose, "Print progress every 2 s");
  bool watch_deletes = false;
  app.add_flag("--watch-deletes", watch_deletes,
               "Count the health keys an etcd watch sees deleted while measuring (adds the "
               "watch's CPU to this process)");
  app.add_flag("--raw-keepalive", raw_keepalive,
               "Measure the keep-alive stream alone (no engine): grant, then renew flat out");
  CLI11_PARSE(app, argc, argv);
  if (warmup_s <= 0) warmup_s = interval_s + 5;
  hb::Logger::Default().Configure(hb::LogLevel::kWarning, hb::LogFormat::kText);

  hb::etcd::ClientOptions options;
  auto parsed = hb::etcd::ParseEndpoints(endpoints);
  if (!parsed.ok()) {
    std::cerr << parsed.status() << "\n";
    return 2;
  }
  options.endpoints = *parsed;
  options.threads = threads;
  auto client = hb::etcd::GrpcEtcdClient::Create(options);
  if (!client.ok()) {
    std::cerr << client.status() << "\n";
    return 1;
  }
  if (raw_keepalive) return RawKeepAlive(**client, count, ttl, duration_s, raw_with_keys);
  hb::heartbeat::EngineOptions engine_options;
  engine_options.mode = mode == "on-change" ? hb::heartbeat::WriteMode::kOnChange
                                            : hb::heartbeat::WriteMode::kEveryBeat;
  engine_options.lease_mode = lease_mode == "shared" ? hb::heartbeat::LeaseMode::kShared
                                                     : hb::heartbeat::LeaseMode::kPerCapability;
  engine_options.shared_leases = shared_leases;
  engine_options.max_in_flight = max_in_flight;
  engine_options.max_batch = max_batch;
  engine_options.key_prefix = "/bench/capabilities/";
  engine_options.adopt = false;
  DeleteCounter deletes;
  std::unique_ptr<hb::etcd::WatchHandle> watch;
  if (watch_deletes) {
    hb::etcd::WatchRequest request;
    request.key = engine_options.key_prefix;
    request.range_end = hb::etcd::PrefixEnd(engine_options.key_prefix);
    watch = (*client)->Watch(request, &deletes);
  }
  auto engine = std::make_unique<hb::heartbeat::HeartbeatEngine>(**client, hb::RealClock::Get(),
                                                                 engine_options);
  auto runner = std::make_unique<hb::heartbeat::EngineRunner>(*engine, hb::RealClock::Get(),
                                                              absl::Milliseconds(batch_window_ms));
  double rss_baseline = RssMiB().first;

  absl::Time start = absl::Now();
  for (int64_t i = 0; i < count; ++i) {
    hb::heartbeat::CapabilitySpec spec;
    spec.identifier = absl::StrCat("bench.cap", i);
    spec.interval = absl::Seconds(interval_s);
    spec.ttl_seconds = ttl;
    (void)engine->Upsert(spec);
  }
  const auto& stats = engine->stats();
  auto progress = [&] {
    hb::heartbeat::EngineGauges g = engine->Gauges();
    std::fprintf(
        stderr,
        "  t=%5.1fs keys=%lld leases=%lld in_flight=%lld waiting=%lld puts=%llu ka_sent=%llu "
        "ka_answered=%llu lost=%llu stream=%s\n",
        absl::ToDoubleSeconds(absl::Now() - start), static_cast<long long>(g.keys_held),
        static_cast<long long>(g.leases_held), static_cast<long long>(g.in_flight),
        static_cast<long long>(g.waiting_for_slot),
        static_cast<unsigned long long>(stats.beats_ok.load()),
        static_cast<unsigned long long>(stats.keepalives_sent.load()),
        static_cast<unsigned long long>(stats.keepalives_answered.load()),
        static_cast<unsigned long long>(stats.leases_lost.load()),
        g.keepalive_stream_up ? "up" : "down");
  };
  absl::Time last_progress = start;
  while (engine->Gauges().keys_held < count && absl::Now() - start < absl::Seconds(120)) {
    absl::SleepFor(absl::Milliseconds(50));
    if (verbose && absl::Now() - last_progress > absl::Seconds(2)) {
      progress();
      last_progress = absl::Now();
    }
  }
  absl::Duration all_granted = absl::Now() - start;
  deletes.counting_.store(true);
  absl::Duration all_written = absl::InfiniteDuration();  // first puts done, none waiting
  while (absl::Now() - start < absl::Seconds(warmup_s)) {
    absl::SleepFor(absl::Milliseconds(200));
    if (all_written == absl::InfiniteDuration() &&
        stats.beats_ok.load() >= static_cast<uint64_t>(count) &&
        engine->Gauges().waiting_for_slot == 0) {
      all_written = absl::Now() - start;
    }
    if (verbose && absl::Now() - last_progress > absl::Seconds(2)) {
      progress();
      last_progress = absl::Now();
    }
  }

  uint64_t beats0 = stats.beats_ok.load(), kas0 = stats.keepalives_answered.load();
  uint64_t lost0 = stats.leases_lost.load();
  double cpu0 = CpuSeconds();
  engine->ResetHistograms();
  absl::Time measure_start = absl::Now();
  bool behind = false, congested = false;
  while (absl::Now() - measure_start < absl::Seconds(duration_s)) {
    absl::SleepFor(absl::Milliseconds(200));
    hb::heartbeat::EngineGauges now_gauges = engine->Gauges();
    behind = behind || now_gauges.falling_behind;
    congested = congested || now_gauges.keepalives_congested;
    if (verbose && absl::Now() - last_progress > absl::Seconds(2)) {
      progress();
      last_progress = absl::Now();
    }
  }
  double seconds = absl::ToDoubleSeconds(absl::Now() - measure_start);
  double cpu = CpuSeconds() - cpu0;
  uint64_t beats = stats.beats_ok.load() - beats0;
  uint64_t kas = stats.keepalives_answered.load() - kas0;
  auto [rss, peak] = RssMiB();
  hb::heartbeat::EngineGauges gauges = engine->Gauges();

  deletes.counting_.store(false);
  absl::Time revoke_start = absl::Now();
  bool drained = runner->Shutdown(/*revoke=*/true, absl::Seconds(120));
  absl::Duration revoke_time = absl::Now() - revoke_start;

  double expected = engine_options.mode == hb::heartbeat::WriteMode::kEveryBeat
                        ? static_cast<double>(count) / interval_s
                        : 0;
  std::printf(
      "capabilities             %lld (interval %.1f s, TTL %lld s, mode %s, batch window "
      "%.0f ms, %d etcd thread(s))\n",
      static_cast<long long>(count), interval_s, static_cast<long long>(ttl), mode.c_str(),
      batch_window_ms, threads);
  std::printf("leases                   %s: %lld held\n", lease_mode.c_str(),
              static_cast<long long>(gauges.leases_held));
  std::printf("all leases granted in    %.2f s (every capability holding one)\n",
              absl::ToDoubleSeconds(all_granted));
  if (all_written == absl::InfiniteDuration()) {
    std::printf("every key written in     not within the warm-up\n");
  } else {
    std::printf("every key written in     %.2f s (as many puts as keys, none waiting)\n",
                absl::ToDoubleSeconds(all_written));
  }
  std::printf("heartbeats/s             %.0f achieved, %.0f expected\n",
              static_cast<double>(beats) / seconds, expected);
  std::printf("keep-alives/s            %.0f\n", static_cast<double>(kas) / seconds);
  std::printf("leases lost              %llu (during measurement: %llu)\n",
              static_cast<unsigned long long>(stats.leases_lost.load()),
              static_cast<unsigned long long>(stats.leases_lost.load() - lost0));
  std::printf("heartbeats failed        %llu, throttled %llu, skipped %llu\n",
              static_cast<unsigned long long>(stats.beats_failed.load()),
              static_cast<unsigned long long>(stats.beats_throttled.load()),
              static_cast<unsigned long long>(stats.beats_skipped.load()));
  std::printf("client CPU               %.1f us per heartbeat (%.1f%% of one core)\n",
              beats > 0 ? cpu * 1e6 / static_cast<double>(beats) : 0.0, 100.0 * cpu / seconds);
  std::printf(
      "RSS                      %.1f MiB baseline, %.1f MiB now, %.1f MiB peak, "
      "%.2f KiB per capability\n",
      rss_baseline, rss, peak, (peak - rss_baseline) * 1024.0 / static_cast<double>(count));
  std::printf("beat lateness            p50 %s, p99 %s, max %s\n",
              Ms(stats.beat_lateness.Percentile(0.5)).c_str(),
              Ms(stats.beat_lateness.Percentile(0.99)).c_str(),
              Ms(stats.beat_lateness.Max()).c_str());
  std::printf("put latency              p50 %s, p99 %s\n",
              Ms(stats.put_latency.Percentile(0.5)).c_str(),
              Ms(stats.put_latency.Percentile(0.99)).c_str());
  std::printf("keep-alive congestion    %s (slowest recent answer %s)\n",
              congested ? "seen: routine puts were held back" : "no",
              Ms(gauges.keepalive_latency).c_str());
  std::printf("falling behind           %s (lag at end %s, waiting %lld)\n", behind ? "yes" : "no",
              Ms(gauges.lag).c_str(), static_cast<long long>(gauges.waiting_for_slot));
  std::printf("revoke at exit           %s in %.2f s\n", drained ? "complete" : "TIMED OUT",
              absl::ToDoubleSeconds(revoke_time));
  if (watch_deletes) {
    std::printf("keys deleted (watch)     %llu from every key written to the revocation%s\n",
                static_cast<unsigned long long>(deletes.deletes_.load()),
                deletes.broken_.load() ? " (WATCH BROKE: incomplete)" : "");
  }
  watch.reset();
  runner->Stop();   // no more calls into the client
  client->reset();  // its last answers reach the engine and the runner's wake hook
  runner.reset();
  engine.reset();
  return 0;
}
