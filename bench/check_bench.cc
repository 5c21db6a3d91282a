// hb-bench-checks: the health checker's cost, measured. Runs COUNT HTTP checks every PERIOD
// seconds against URL_TEMPLATE ("{i}" replaced by 0..COUNT-1) with the production checker
// and prober (libcurl multi, keep-alive), and prints checks done against expected, client
// CPU per check, check latency percentiles and memory. The first period is a warm-up (the
// checker places each check's phase); figures cover the rest. hack/bench-checks runs it
// side by side with Prometheus's blackbox exporter.
//
// --service-ref instead runs COUNT serviceRef checks: an in-memory API server (kubefake)
// holds one EndpointSlice per service, the EndpointSliceProber lists them through its
// informer, and the memory of that path is reported before and after.
#include <malloc.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "check/checker.h"
#include "check/curl_prober.h"
#include "common/clock.h"
#include "common/log.h"
#include "kubefake/fake_kube_client.h"
#include "nlohmann/json.hpp"
#include "operator/endpoint_slices.h"
#include "process_stats.h"

using hb::bench::CpuSeconds;
using hb::bench::RssMiB;

namespace {

uint64_t Results(const hb::check::CheckStats& s, bool passed) {
  uint64_t n = 0;
  for (int k = 0; k < hb::check::kCheckKinds; ++k) n += (passed ? s.passed : s.failed)[k].load();
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Health checker benchmark: COUNT HTTP checks every PERIOD seconds"};
  std::string url_template;
  int64_t count = 10000;
  double period = 10, duration = 60, timeout = 2;
  int concurrency = 256;
  bool service_ref = false;
  app.add_option("--url-template", url_template, "URL of check i, with {i} in it");
  app.add_flag("--service-ref", service_ref,
               "serviceRef checks against EndpointSlices in an in-memory API server");
  app.add_option("-n,--count", count, "Checked capabilities")->capture_default_str();
  app.add_option("--period", period, "Seconds between checks of one capability")
      ->capture_default_str();
  app.add_option("-d,--duration", duration, "Measured seconds (after one warm-up period)")
      ->capture_default_str();
  app.add_option("--timeout", timeout, "Check timeout in seconds")->capture_default_str();
  app.add_option("--concurrency", concurrency, "Probes in flight at most")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  hb::Logger::Default().Configure(hb::LogLevel::kWarning, hb::LogFormat::kText);

  if (!service_ref && url_template.empty()) {
    std::cerr << "give --url-template URL or --service-ref\n";
    return 2;
  }
  double rss_start = RssMiB().first;
  // The checker outlives its probers (they may still deliver answers until destroyed).
  hb::check::Checker checker(hb::RealClock::Get(),
                             hb::check::CheckerOptions{concurrency, 0, absl::Milliseconds(50)});
  hb::kubefake::FakeKubeClient kube(hb::RealClock::Get());
  // One unpaged list: the in-memory server rebuilds a snapshot for every continued page.
  hb::op::EndpointSliceProber slices(kube, hb::RealClock::Get(), {"bench"}, /*page_size=*/0);
  if (service_ref) {
    const hb::kube::ResourceRef ref{"discovery.k8s.io", "v1", "endpointslices", "bench"};
    for (int64_t i = 0; i < count; ++i) {
      kube.Seed(
          ref,
          {{"apiVersion", "discovery.k8s.io/v1"},
           {"kind", "EndpointSlice"},
           {"metadata",
            {{"name", absl::StrCat("svc", i, "-abcde")},
             {"namespace", "bench"},
             {"labels", {{"kubernetes.io/service-name", absl::StrCat("svc", i)}}}}},
           {"addressType", "IPv4"},
           {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}},
           {"endpoints",
            {{{"addresses", {absl::StrCat("10.", i / 65536, ".", i / 256 % 256, ".", i % 256)}},
              {"conditions", {{"ready", true}}}}}}});
    }
    std::cout << "seeded " << count << " EndpointSlices (RSS " << RssMiB().first - rss_start
              << " MiB more)\n";
  }
  hb::check::CurlProber prober;
  checker.SetProber(hb::check::CheckKind::kHttp, &prober);
  checker.SetProber(hb::check::CheckKind::kServiceRef, &slices);
  double rss_before_checks = RssMiB().first;
  for (int64_t i = 0; i < count; ++i) {
    hb::check::CheckSpec spec;
    if (service_ref) {
      spec.kind = hb::check::CheckKind::kServiceRef;
      spec.service_namespace = "bench";
      spec.service_name = absl::StrCat("svc", i);
      spec.service_port = "http";
    } else {
      spec.kind = hb::check::CheckKind::kHttp;
      spec.url = absl::StrReplaceAll(url_template, {{"{i}", std::to_string(i)}});
    }
    spec.period = absl::Seconds(period);
    spec.timeout = absl::Seconds(timeout);
    checker.Upsert(absl::StrCat("bench.c", i), spec);
  }
  checker.Start();
  std::cout << "warming up for " << period << " s (" << count << " checks every " << period
            << " s)\n";
  absl::SleepFor(absl::Seconds(period) + absl::Seconds(1));
  const hb::check::CheckStats& stats = checker.stats();
  const hb::LatencyHistogram& latency =
      stats.latency[static_cast<int>(hb::check::CheckKind::kHttp)];
  checker.ResetHistograms();
  uint64_t passed0 = Results(stats, true), failed0 = Results(stats, false);
  double cpu0 = CpuSeconds();
  absl::Time t0 = absl::Now();
  absl::SleepFor(absl::Seconds(duration));
  double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  double cpu = CpuSeconds() - cpu0;
  uint64_t passed = Results(stats, true) - passed0, failed = Results(stats, false) - failed0;
  checker.Stop();
  uint64_t checks = passed + failed;
  double expected = static_cast<double>(count) * seconds / period;
  malloc_trim(0);  // give back what the list's transient copies used
  auto [rss, peak] = RssMiB();
  double us_per_check = checks > 0 ? cpu * 1e6 / static_cast<double>(checks) : 0;
  std::cout << "checks: " << checks << " of " << static_cast<int64_t>(expected) << " expected ("
            << static_cast<double>(checks) / seconds << "/s), failures " << failed << "\n"
            << "client CPU: " << cpu << " s over " << seconds << " s = " << us_per_check
            << " us per check (" << 100 * cpu / seconds << " % of one core)\n"
            << "latency: p50 " << absl::ToDoubleMilliseconds(latency.Percentile(0.5)) << " ms, p99 "
            << absl::ToDoubleMilliseconds(latency.Percentile(0.99)) << " ms\n"
            << "memory: RSS " << rss << " MiB, peak " << peak << " MiB; checks and their "
            << (service_ref ? "slices' cache " : "probes ") << rss - rss_before_checks
            << " MiB = " << (rss - rss_before_checks) * 1024 * 1024 / static_cast<double>(count)
            << " bytes per capability\n";
  nlohmann::json out = {{"checks", checks},
                        {"expected", static_cast<int64_t>(expected)},
                        {"checks_per_s", static_cast<double>(checks) / seconds},
                        {"cpu_us_per_check", us_per_check},
                        {"p50_ms", absl::ToDoubleMilliseconds(latency.Percentile(0.5))},
                        {"p99_ms", absl::ToDoubleMilliseconds(latency.Percentile(0.99))},
                        {"rss_mb", rss},
                        {"peak_rss_mb", peak},
                        {"bytes_per_capability",
                         (rss - rss_before_checks) * 1024 * 1024 / static_cast<double>(count)},
                        {"failures", failed}};
  std::cout << out.dump() << std::endl;
  return 0;
}
