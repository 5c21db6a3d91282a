// heartbeat-bench: runs N capabilities through the real engine and gRPC client against an
// etcd for D seconds and prints what the engine achieved and what it cost the client.
//
// Figures (printed after a warm-up in which every lease is granted and placed):
//   heartbeats/s achieved vs expected, leases lost, keep-alives/s,
//   client CPU microseconds per heartbeat (this process's user+system time / puts),
//   RSS (baseline, peak, per capability), p50/p99 lateness of beats against their
//   schedule, p50/p99 put latency, and the time the final revocation took.
// Usually run through hack/bench-heartbeat, which starts a local etcd for it.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/log.h"
#include "etcd/grpc_etcd_client.h"
#include "heartbeat/engine.h"
#include "heartbeat/engine_runner.h"

namespace {

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Current and peak resident set size in MiB, from /proc/self/status.
std::pair<double, double> RssMiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  double rss = 0, peak = 0;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stod(line.substr(6)) / 1024.0;
    if (line.rfind("VmHWM:", 0) == 0) peak = std::stod(line.substr(6)) / 1024.0;
  }
  return {rss, peak};
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
  std::string endpoints = "127.0.0.1:2379", mode = "every-beat";
  int max_in_flight = 512, threads = 1;
  double batch_window_ms = 100;
  CLI::App app{"Heartbeat engine benchmark against a running etcd"};
  app.add_option("-n,--capabilities", count, "Capabilities")->capture_default_str();
  app.add_option("-d,--duration", duration_s, "Measured seconds")->capture_default_str();
  app.add_option("--warmup", warmup_s, "Seconds before measuring (default: interval + 5)");
  app.add_option("--interval", interval_s, "Heartbeat interval, seconds")->capture_default_str();
  app.add_option("--ttl", ttl, "Lease TTL, seconds")->capture_default_str();
  app.add_option("--mode", mode, "every-beat or on-change")->capture_default_str();
  app.add_option("--etcd-endpoints", endpoints, "etcd endpoints")->capture_default_str();
  app.add_option("--max-in-flight", max_in_flight, "Engine in-flight cap")->capture_default_str();
  app.add_option("--etcd-threads", threads, "Completion-queue threads")->capture_default_str();
  app.add_option("--batch-window", batch_window_ms, "Runner batch window, milliseconds")
      ->capture_default_str();
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
  hb::heartbeat::EngineOptions engine_options;
  engine_options.mode = mode == "on-change" ? hb::heartbeat::WriteMode::kOnChange
                                            : hb::heartbeat::WriteMode::kEveryBeat;
  engine_options.max_in_flight = max_in_flight;
  engine_options.key_prefix = "/bench/capabilities/";
  engine_options.adopt = false;
  auto engine = std::make_unique<hb::heartbeat::HeartbeatEngine>(**client, hb::RealClock::Get(),
                                                                 engine_options);
  auto runner =
      std::make_unique<hb::heartbeat::EngineRunner>(*engine, absl::Milliseconds(batch_window_ms));
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
  while (engine->Gauges().leases_held < count && absl::Now() - start < absl::Seconds(120)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  absl::Duration all_granted = absl::Now() - start;
  absl::SleepFor(absl::Seconds(warmup_s) - (absl::Now() - start));

  uint64_t beats0 = stats.beats_ok.load(), kas0 = stats.keepalives_answered.load();
  uint64_t lost0 = stats.leases_lost.load();
  double cpu0 = CpuSeconds();
  engine->ResetHistograms();
  absl::Time measure_start = absl::Now();
  bool behind = false;
  while (absl::Now() - measure_start < absl::Seconds(duration_s)) {
    absl::SleepFor(absl::Milliseconds(200));
    behind = behind || engine->Gauges().falling_behind;
  }
  double seconds = absl::ToDoubleSeconds(absl::Now() - measure_start);
  double cpu = CpuSeconds() - cpu0;
  uint64_t beats = stats.beats_ok.load() - beats0;
  uint64_t kas = stats.keepalives_answered.load() - kas0;
  auto [rss, peak] = RssMiB();
  hb::heartbeat::EngineGauges gauges = engine->Gauges();

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
  std::printf("all leases granted in    %.2f s\n", absl::ToDoubleSeconds(all_granted));
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
  std::printf("falling behind           %s (lag at end %s, waiting %lld)\n", behind ? "yes" : "no",
              Ms(gauges.lag).c_str(), static_cast<long long>(gauges.waiting_for_slot));
  std::printf("revoke at exit           %s in %.2f s\n", drained ? "complete" : "TIMED OUT",
              absl::ToDoubleSeconds(revoke_time));
  runner.reset();
  client->reset();
  engine.reset();
  return 0;
}
