#include "heartbeat_command.h"

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/time_format.h"
#include "engine_host.h"
#include "etcd/grpc_etcd_client.h"
#include "heartbeat/engine.h"
#include "heartbeat/engine_runner.h"
#include "manifest/discovery.h"
#include "manifest/manifest.h"
#include "signals.h"

namespace hb::cli {
namespace {

using heartbeat::CapabilitySpec;

int UsageError(const std::string& message) { return hb::cli::UsageError("heartbeat", message); }

// The capabilities to heartbeat, in declaration order; empty on failure (already logged).
std::vector<CapabilitySpec> CollectCapabilities(const HeartbeatFlags& flags) {
  std::vector<CapabilitySpec> specs;
  std::map<std::string, std::string> seen;  // identifier -> where it was declared
  for (const std::string& id : flags.namespaces) {
    if (!seen.emplace(id, "--namespace").second) continue;
    CapabilitySpec spec{id, absl::Seconds(flags.engine.interval), flags.engine.ttl, "", {}};
    spec.check = std::make_shared<const check::CheckSpec>(check::NoCheck(
        flags.engine.health_checks ? "declared by --namespace, which names no target to probe"
                                   : "health checks are turned off"));
    specs.push_back(std::move(spec));
  }
  if (!flags.auto_discover) return specs;
  auto contents = manifest::ReadManifestDirectory(flags.capabilities_dir);
  if (!contents.ok()) {
    LogError("Cannot auto-discover capabilities", {{"error", contents.status().message()}});
    return {};
  }
  for (const std::string& error : contents->errors) LogError(absl::StrCat("Skipping ", error));
  for (const std::string& other : contents->ignored) LogInfo(absl::StrCat("Ignoring ", other));
  manifest::Catalog catalog =
      manifest::BuildCatalog(contents->documents, {flags.engine.interval, flags.engine.ttl},
                             manifest::CheckDefaults{flags.engine.health_checks, flags.check_host});
  for (const std::string& error : catalog.errors) LogError(absl::StrCat("Skipping ", error));
  for (const std::string& note : catalog.notes) LogWarning(note);
  for (const manifest::Manifest& other : catalog.others) {
    LogInfo(absl::StrCat("Discovered ",
                         other.declared_type.empty() ? "non-Service" : other.declared_type, ": ",
                         other.identifier, " (no chora_service block: no heartbeat)"),
            {{"source", other.source}});
  }
  for (const auto& service : catalog.services) {
    const std::string& id = service.manifest.identifier;
    if (auto [it, inserted] = seen.emplace(id, service.manifest.source); !inserted) {
      LogWarning(absl::StrCat("Duplicate capability ", id, " in ", service.manifest.source,
                              "; already given by ", it->second));
      continue;
    }
    const check::CheckSpec& check = service.check;
    LogInfo(
        absl::StrCat("Discovered Service-type: ", id),
        {{"source", service.manifest.source},
         {"interval", service.timing.interval_seconds},
         {"ttl", service.timing.ttl_seconds},
         {"check", check::CheckKindName(check.kind)},
         {check.Active() ? "target" : "why", check.Active() ? check.Target() : check.none_reason}});
    CapabilitySpec spec{id,
                        absl::Seconds(service.timing.interval_seconds),
                        service.timing.ttl_seconds,
                        service.manifest.source,
                        {}};
    spec.check = std::make_shared<const check::CheckSpec>(check);
    specs.push_back(std::move(spec));
  }
  LogInfo(absl::StrCat("Found ", catalog.services.size(), " Service-type capability/ies"),
          {{"directory", flags.capabilities_dir},
           {"other", static_cast<int64_t>(catalog.others.size())},
           {"skipped", static_cast<int64_t>(catalog.errors.size() + contents->errors.size())}});
  return specs;
}

}  // namespace

int UsageError(const std::string& command, const std::string& message) {
  std::cerr << "heartbeat-operator " << command << ": " << message << "\n"
            << "Run 'heartbeat-operator " << command << " --help' for the options.\n";
  return 2;
}

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
  cmd->add_flag("--keep-leases-on-exit", flags.keep_leases,
                "On SIGINT/SIGTERM leave the leases and keys in place (they expire after their "
                "TTL unless a new process adopts them) instead of revoking them");
  AddEngineFlags(*cmd, flags.engine);
  cmd->add_option("--check-host", flags.check_host,
                  "Address probed for a manifest whose rest interface binds 0.0.0.0 (the "
                  "service's own address)")
      ->capture_default_str()
      ->group("Health checks");
  AddEtcdFlags(*cmd, flags.etcd);
  return cmd;
}

int RunHeartbeat(const HeartbeatFlags& flags) {
  if (!ConfigureLogging(flags.engine.log_format)) return 2;
  if (flags.namespaces.empty() && !flags.auto_discover) {
    return UsageError("give --namespace ID (repeatable) or --auto-discover --capabilities DIR");
  }
  for (const std::string& id : flags.namespaces) {
    if (!manifest::IsValidIdentifier(id)) {
      return UsageError(absl::StrCat("--namespace: invalid identifier \"", id,
                                     "\" (lowercase dot-separated segments of [a-z0-9_-])"));
    }
  }
  if (std::string bad = CheckTiming(flags.engine); !bad.empty()) return UsageError(bad);
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

  auto host = EngineHost::Create(*client_options, flags.engine);
  if (!host.ok()) {
    LogError("Cannot set up the etcd client", {{"error", host.status().message()}});
    return 1;
  }
  heartbeat::HeartbeatEngine& engine = (*host)->engine();
  for (const CapabilitySpec& spec : specs) {
    absl::Status added = engine.Upsert(spec);
    if (!added.ok()) LogError("Skipping capability", {{"error", added.message()}});
  }
  LogInfo(absl::StrCat("Starting heartbeat for ", specs.size(), " service(s)..."),
          {{"etcd", (*host)->where()},
           {"mode", flags.engine.mode},
           {"lease_mode", flags.engine.lease_mode}});
  int signal = (*host)->WaitForSignal();
  (*host)->Shutdown(signal, /*revoke=*/!flags.keep_leases, "Heartbeat service stopped");
  return 0;
}

}  // namespace hb::cli
