#include "heartbeat_command.h"

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/time_format.h"
#include "etcd/grpc_etcd_client.h"
#include "heartbeat/engine.h"
#include "heartbeat/engine_runner.h"
#include "manifest/discovery.h"
#include "manifest/manifest.h"
#include "signals.h"

namespace hb::cli {
namespace {

using heartbeat::CapabilitySpec;

int UsageError(const std::string& message) {
  std::cerr << "heartbeat-operator heartbeat: " << message << "\n"
            << "Run 'heartbeat-operator heartbeat --help' for the options.\n";
  return 2;
}

// The capabilities to heartbeat, in declaration order; empty on failure (already logged).
std::vector<CapabilitySpec> CollectCapabilities(const HeartbeatFlags& flags) {
  std::vector<CapabilitySpec> specs;
  std::map<std::string, std::string> seen;  // identifier -> where it was declared
  for (const std::string& id : flags.namespaces) {
    if (!seen.emplace(id, "--namespace").second) continue;
    specs.push_back(CapabilitySpec{id, absl::Seconds(flags.interval), flags.ttl, ""});
  }
  if (!flags.auto_discover) return specs;
  auto contents = manifest::ReadManifestDirectory(flags.capabilities_dir);
  if (!contents.ok()) {
    LogError("Cannot auto-discover capabilities", {{"error", contents.status().message()}});
    return {};
  }
  for (const std::string& error : contents->errors) LogError(absl::StrCat("Skipping ", error));
  manifest::Catalog catalog =
      manifest::BuildCatalog(contents->documents, {flags.interval, flags.ttl});
  for (const std::string& error : catalog.errors) LogError(absl::StrCat("Skipping ", error));
  for (const std::string& note : catalog.notes) LogWarning(note);
  for (const auto& service : catalog.services) {
    const std::string& id = service.manifest.identifier;
    if (auto [it, inserted] = seen.emplace(id, service.manifest.source); !inserted) {
      LogWarning(absl::StrCat("Duplicate capability ", id, " in ", service.manifest.source,
                              "; already given by ", it->second));
      continue;
    }
    LogInfo(absl::StrCat("Discovered Service-type: ", id),
            {{"source", service.manifest.source},
             {"interval", service.timing.interval_seconds},
             {"ttl", service.timing.ttl_seconds}});
    specs.push_back(CapabilitySpec{id, absl::Seconds(service.timing.interval_seconds),
                                   service.timing.ttl_seconds, service.manifest.source});
  }
  LogInfo(absl::StrCat("Found ", catalog.services.size(), " Service-type capability/ies"),
          {{"directory", flags.capabilities_dir},
           {"other", static_cast<int64_t>(catalog.others.size())},
           {"skipped", static_cast<int64_t>(catalog.errors.size() + contents->errors.size())}});
  return specs;
}

void LogStatistics(const heartbeat::HeartbeatEngine& engine, absl::Time started, const char* title,
                   int64_t capabilities) {
  const heartbeat::EngineStats& s = engine.stats();
  LogInfo(title, {{"capabilities", capabilities},
                  {"heartbeats_sent", s.beats_ok.load()},
                  {"heartbeats_failed", s.beats_failed.load()},
                  {"heartbeats_throttled", s.beats_throttled.load()},
                  {"keepalives", s.keepalives_answered.load()},
                  {"leases_granted", s.leases_granted.load()},
                  {"leases_adopted", s.leases_adopted.load()},
                  {"leases_lost", s.leases_lost.load()},
                  {"leases_revoked", s.leases_revoked.load()},
                  {"uptime", HumanDuration(absl::Now() - started)}});
}

// Reports, once, whether etcd answers at start-up (trying each endpoint once); never
// blocks the heartbeats.
void ProbeEtcd(etcd::EtcdClient& client, const std::string& where, size_t attempts_left) {
  client.Status([&client, where, attempts_left](absl::StatusOr<etcd::ServerStatus> status) {
    if (status.ok()) {
      LogInfo(absl::StrCat("Connected to etcd at ", status->endpoint),
              {{"version", status->version}});
    } else if (attempts_left > 1 && status.status().code() == absl::StatusCode::kUnavailable) {
      ProbeEtcd(client, where, attempts_left - 1);
    } else {
      LogError(absl::StrCat("etcd at ", where, " is not reachable yet; retrying in the background"),
               {{"error", status.status().message()}});
    }
  });
}

}  // namespace

bool ConfigureLogging(const std::string& format_name) {
  const char* level_env = std::getenv("LOG_LEVEL");
  auto level = ParseLogLevel(level_env != nullptr && *level_env != 0 ? level_env : "info");
  if (!level.ok()) {
    std::cerr << "heartbeat-operator: LOG_LEVEL: " << level.status().message() << "\n";
    return false;
  }
  auto format = ParseLogFormat(format_name);
  if (!format.ok()) {
    std::cerr << "heartbeat-operator: --log-format: " << format.status().message() << "\n";
    return false;
  }
  Logger::Default().Configure(*level, *format);
  return true;
}

CLI::App* AddHeartbeatCommand(CLI::App& app, HeartbeatFlags& flags) {
  CLI::App* cmd = app.add_subcommand(
      "heartbeat",
      "Keep the health keys of Service-type capabilities alive in etcd (standalone mode). "
      "Each capability gets a lease; its JSON health value is written under "
      "<key-prefix><identifier>/health and renewed until the process stops. "
      "Environment: LOG_LEVEL (debug, info, warning, error).");
  cmd->add_option("--namespace", flags.namespaces,
                  "Capability identifier to heartbeat, e.g. chora.devex.registry (repeatable)")
      ->group("Capabilities");
  cmd->add_flag("--auto-discover", flags.auto_discover,
                "Heartbeat every Service-type capability found in --capabilities")
      ->group("Capabilities");
  cmd->add_option("--capabilities", flags.capabilities_dir,
                  "Directory of capability manifests (*.yaml, *.yml) for --auto-discover")
      ->capture_default_str()
      ->group("Capabilities");
  cmd->add_option("--interval", flags.interval,
                  "Seconds between heartbeats, for capabilities that do not set one")
      ->capture_default_str()
      ->group("Timing");
  cmd->add_option("--ttl", flags.ttl,
                  "Lease TTL in seconds (at least 2, above the interval), for capabilities that "
                  "do not set one")
      ->capture_default_str()
      ->group("Timing");
  cmd->add_option("--mode", flags.mode,
                  "every-beat: rewrite the value every interval (heartbeat_count and timestamp "
                  "advance); on-change: renew by keep-alive only and rewrite the value when it "
                  "changes or every --refresh seconds (for very large fleets)")
      ->capture_default_str()
      ->check(CLI::IsMember({"every-beat", "on-change"}))
      ->group("Timing");
  cmd->add_option("--refresh", flags.refresh,
                  "on-change mode: rewrite the value at least this often, seconds")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{86400}))
      ->group("Timing");
  cmd->add_option("--key-prefix", flags.key_prefix, "Prefix of the health keys")
      ->capture_default_str();
  cmd->add_flag("--no-adopt", flags.no_adopt,
                "Do not adopt live leases found at start (always grant new ones)");
  cmd->add_flag("--keep-leases-on-exit", flags.keep_leases,
                "On SIGINT/SIGTERM leave the leases and keys in place (they expire after their "
                "TTL unless a new process adopts them) instead of revoking them");
  cmd->add_option("--shutdown-timeout", flags.shutdown_timeout,
                  "Seconds to wait for lease revocations at exit")
      ->capture_default_str();
  cmd->add_option("--max-in-flight", flags.max_in_flight,
                  "Most puts, grants and revokes awaiting etcd's answer at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--max-batch", flags.max_batch,
                  "Most puts written in one etcd transaction (keep at or below etcd's "
                  "--max-txn-ops, 128 by default; 1 disables batching)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--batch-window", flags.batch_window_ms,
                  "Milliseconds of scheduled work handled per wake-up: beats are at most this "
                  "late, and fewer wake-ups cost less CPU")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000}));
  cmd->add_option("--stats-interval", flags.stats_interval,
                  "Log a statistics line every this many seconds (0: only at exit)")
      ->capture_default_str();
  cmd->add_option("--log-format", flags.log_format, "text (the original format) or json")
      ->capture_default_str()
      ->envname("LOG_FORMAT");
  AddEtcdFlags(*cmd, flags.etcd);
  return cmd;
}

int RunHeartbeat(const HeartbeatFlags& flags) {
  if (!ConfigureLogging(flags.log_format)) return 2;
  if (flags.namespaces.empty() && !flags.auto_discover) {
    return UsageError("give --namespace ID (repeatable) or --auto-discover --capabilities DIR");
  }
  for (const std::string& id : flags.namespaces) {
    if (!manifest::IsValidIdentifier(id)) {
      return UsageError(absl::StrCat("--namespace: invalid identifier \"", id,
                                     "\" (lowercase dot-separated segments of [a-z0-9_-])"));
    }
  }
  if (flags.ttl < 2) return UsageError(absl::StrCat("--ttl must be at least 2, got ", flags.ttl));
  if (flags.interval < 1 || flags.interval >= flags.ttl) {
    return UsageError(absl::StrCat("--interval must be at least 1 and below --ttl (", flags.ttl,
                                   "), got ", flags.interval));
  }
  auto client_options = ToClientOptions(flags.etcd);
  if (!client_options.ok()) return UsageError(std::string(client_options.status().message()));

  std::vector<CapabilitySpec> specs = CollectCapabilities(flags);
  if (specs.empty()) {
    LogError("No Service-type capabilities to heartbeat; nothing to do");
    return 1;
  }
  if (specs.size() == 1) {
    LogInfo(absl::StrCat("Starting heartbeat service for ", specs[0].identifier));
    LogInfo(absl::StrCat("Interval: ", absl::FormatDuration(specs[0].interval),
                         ", TTL: ", specs[0].ttl_seconds, "s"));
  }

  BlockTerminationSignals();  // before any thread starts
  auto client = etcd::GrpcEtcdClient::Create(*client_options);
  if (!client.ok()) {
    LogError("Cannot set up the etcd client", {{"error", client.status().message()}});
    return 1;
  }
  std::string where = DescribeEndpoints(*client_options);
  ProbeEtcd(**client, where, client_options->endpoints.size());

  heartbeat::EngineOptions options;
  options.key_prefix = flags.key_prefix;
  options.mode = flags.mode == "on-change" ? heartbeat::WriteMode::kOnChange
                                           : heartbeat::WriteMode::kEveryBeat;
  options.refresh = absl::Seconds(flags.refresh);
  options.max_in_flight = flags.max_in_flight;
  options.max_batch = flags.max_batch;
  options.adopt = !flags.no_adopt;
  options.keepalive_timeout = client_options->call_timeout;
  auto engine = std::make_unique<heartbeat::HeartbeatEngine>(**client, RealClock::Get(), options);
  auto runner =
      std::make_unique<heartbeat::EngineRunner>(*engine, absl::Milliseconds(flags.batch_window_ms));
  for (const CapabilitySpec& spec : specs) {
    absl::Status added = engine->Upsert(spec);
    if (!added.ok()) LogError("Skipping capability", {{"error", added.message()}});
  }
  LogInfo(absl::StrCat("Starting heartbeat for ", specs.size(), " service(s)..."),
          {{"etcd", where}, {"mode", heartbeat::WriteModeName(options.mode)}});

  absl::Time started = absl::Now();
  absl::Duration wait =
      flags.stats_interval > 0 ? absl::Seconds(flags.stats_interval) : absl::Hours(1);
  int signal = 0;
  while ((signal = WaitForTerminationSignal(wait)) == 0) {
    if (flags.stats_interval > 0) {
      LogStatistics(*engine, started, "Statistics", engine->Gauges().capabilities);
    }
  }
  int64_t capabilities = engine->Gauges().capabilities;
  bool revoke = !flags.keep_leases;
  LogInfo(absl::StrCat("Received ", SignalName(signal), "; ",
                       revoke ? "revoking leases and removing health keys"
                              : "keeping leases (keys expire after their TTL unless adopted)"));
  bool drained = runner->Shutdown(revoke, absl::Seconds(flags.shutdown_timeout));
  if (!drained) {
    LogWarning(
        "Shutdown timed out; keys whose revocation was not confirmed expire with their "
        "leases",
        {{"timeout_seconds", flags.shutdown_timeout}});
  }
  LogStatistics(*engine, started, "Heartbeat service stopped", capabilities);
  runner.reset();
  client->reset();  // delivers every outstanding answer to the engine, which outlives it
  engine.reset();
  return 0;
}

}  // namespace hb::cli
