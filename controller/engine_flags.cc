#include "engine_flags.h"

#include "absl/strings/str_cat.h"

namespace hb::cli {

void AddEngineFlags(CLI::App& command, EngineFlags& flags) {
  command
      .add_option("--interval", flags.interval,
                  "Seconds between heartbeats, for capabilities that do not set one")
      ->capture_default_str()
      ->group("Timing");
  command
      .add_option("--ttl", flags.ttl,
                  "Lease TTL in seconds (at least 2, above the interval), for capabilities that "
                  "do not set one")
      ->capture_default_str()
      ->group("Timing");
  command
      .add_option("--mode", flags.mode,
                  "every-beat: rewrite the value every interval (heartbeat_count and timestamp "
                  "advance); on-change: renew by keep-alive only and rewrite the value when it "
                  "changes or every --refresh seconds (for very large fleets)")
      ->capture_default_str()
      ->check(CLI::IsMember({"every-beat", "on-change"}))
      ->group("Timing");
  command
      .add_option("--refresh", flags.refresh,
                  "on-change mode: rewrite the value at least this often, seconds")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{86400}))
      ->group("Timing");
  command
      .add_option("--lease-mode", flags.lease_mode,
                  "per-capability: a lease per capability (keep-alives grow with the fleet); "
                  "shared: capabilities with the same TTL share --shared-leases leases, so "
                  "keep-alives stay O(leases) (a key's lease id then names a group, not a "
                  "capability; see the README's Lease modes)")
      ->capture_default_str()
      ->check(CLI::IsMember({"per-capability", "shared"}))
      ->group("Timing");
  command
      .add_option("--shared-leases", flags.shared_leases,
                  "shared lease mode: leases per distinct TTL (capabilities are spread over "
                  "them by a stable hash of the identifier)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096))
      ->group("Timing");
  command.add_option("--key-prefix", flags.key_prefix, "Prefix of the health keys")
      ->capture_default_str();
  command.add_flag("--no-adopt", flags.no_adopt,
                   "Do not adopt live leases found at start (always grant new ones)");
  command
      .add_option("--shutdown-timeout", flags.shutdown_timeout,
                  "Seconds to wait for lease revocations at exit")
      ->capture_default_str();
  command
      .add_option("--max-in-flight", flags.max_in_flight,
                  "Most puts, grants and revokes awaiting etcd's answer at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  command
      .add_option("--max-batch", flags.max_batch,
                  "Most puts written in one etcd transaction (keep at or below etcd's "
                  "--max-txn-ops, 128 by default; 1 disables batching)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  command
      .add_option("--batch-window", flags.batch_window_ms,
                  "Milliseconds of scheduled work handled per wake-up: beats are at most this "
                  "late (and never more than a quarter of the shortest interval), and fewer "
                  "wake-ups cost less CPU")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000}));
  command
      .add_option("--stats-interval", flags.stats_interval,
                  "Log a statistics line every this many seconds (0: only at exit)")
      ->capture_default_str();
  command.add_option("--log-format", flags.log_format, "text (the original format) or json")
      ->capture_default_str()
      ->envname("LOG_FORMAT");
  command
      .add_option("--health-checks", flags.health_checks,
                  "Probe each capability's service where a target is known (HTTP, TCP, gRPC, "
                  "EndpointSlices) and write the verdict into its key; false: every key says "
                  "\"check\":\"none\"")
      ->capture_default_str()
      ->group("Health checks");
  command
      .add_option("--check-concurrency", flags.check_concurrency,
                  "Health check probes in flight at once; due probes beyond it wait their turn")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000))
      ->group("Health checks");
  command
      .add_option("--check-files-dir", flags.check_files_dir,
                  "Directory the health checks' bearer token and TLS files must be in (the "
                  "controller's default keeps a Capability from sending the operator's own "
                  "credentials, e.g. its service account token, to a URL; empty: anywhere)")
      ->capture_default_str()
      ->group("Health checks");
  AddAlertFlags(command, flags.alerts);
}

std::string CheckTiming(const EngineFlags& flags) {
  if (absl::Status alerts = ValidateAlertFlags(flags.alerts); !alerts.ok()) {
    return std::string(alerts.message());
  }
  if (flags.ttl < 2) return absl::StrCat("--ttl must be at least 2, got ", flags.ttl);
  if (flags.interval < 1 || flags.interval >= flags.ttl) {
    return absl::StrCat("--interval must be at least 1 and below --ttl (", flags.ttl, "), got ",
                        flags.interval);
  }
  return "";
}

heartbeat::EngineOptions ToEngineOptions(const EngineFlags& flags, absl::Duration etcd_timeout) {
  heartbeat::EngineOptions options;
  options.key_prefix = flags.key_prefix;
  options.mode = flags.mode == "on-change" ? heartbeat::WriteMode::kOnChange
                                           : heartbeat::WriteMode::kEveryBeat;
  options.refresh = absl::Seconds(flags.refresh);
  options.lease_mode = flags.lease_mode == "shared" ? heartbeat::LeaseMode::kShared
                                                    : heartbeat::LeaseMode::kPerCapability;
  options.shared_leases = flags.shared_leases;
  options.max_in_flight = flags.max_in_flight;
  options.max_batch = flags.max_batch;
  options.adopt = !flags.no_adopt;
  options.keepalive_timeout = etcd_timeout;
  return options;
}

}  // namespace hb::cli
