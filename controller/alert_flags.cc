#include "alert_flags.h"

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "alert/alertmanager_sink.h"
#include "alert/http_poster.h"
#include "alert/webhook_sink.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace hb::cli {

void AddAlertFlags(CLI::App& command, AlertFlags& flags) {
  const char* group = "Notifications";
  command
      .add_option("--alertmanager-url", flags.alertmanager_url,
                  "Alertmanager to send one alert per failing capability to (its v2 API, "
                  "e.g. http://alertmanager:9093): CapabilityUnhealthy, CapabilityDown, "
                  "resolved on recovery; off when empty")
      ->group(group);
  command
      .add_option("--alert-webhook-url", flags.webhook_url,
                  "URL to POST one signed JSON document per capability transition to "
                  "(retried with backoff, in order; README \"Alerts\" has the schema); off "
                  "when empty")
      ->group(group);
  command
      .add_option("--alert-webhook-secret-file", flags.webhook_secret_file,
                  "File holding the webhook's HMAC-SHA256 secret (header "
                  "X-Heartbeat-Signature: sha256=HMAC(secret, timestamp + \".\" + body)); "
                  "unsigned when empty")
      ->group(group);
  command
      .add_option("--alert-hold", flags.hold,
                  "Seconds a capability must stay failing before it is notified (a failure "
                  "that heals sooner is not); recoveries are notified at once")
      ->capture_default_str()
      ->group(group);
  command
      .add_option("--alert-storm-share", flags.storm_share,
                  "Storm guard: when more than this share of the capabilities fail at once, "
                  "send one summary (CapabilitiesFailingAtOnce) and hold the per-capability "
                  "notifications until fewer fail; above 1 turns it off")
      ->capture_default_str()
      ->group(group);
  command
      .add_option("--alert-storm-min", flags.storm_min,
                  "Storm guard: at least this many capabilities must fail for a storm")
      ->capture_default_str()
      ->group(group);
  command
      .add_option("--alertmanager-resend-interval", flags.resend,
                  "Seconds between re-sends of the firing alerts (each valid for 4 of them)")
      ->capture_default_str()
      ->group(group);
  command.add_option("--alert-timeout", flags.timeout, "Seconds one notification POST may take")
      ->capture_default_str()
      ->group(group);
  command
      .add_option("--alert-queue-size", flags.queue,
                  "Notifications waiting per receiver at most; beyond it the oldest is dropped "
                  "and counted")
      ->capture_default_str()
      ->group(group);
}

namespace {

absl::Status CheckUrl(const char* flag, const std::string& url) {
  if (url.empty() || absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://")) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      flag, " must be an http:// or https:// URL, not \"", alert::RedactUrl(url), "\""));
}

absl::StatusOr<std::string> ReadSecret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::InvalidArgumentError(
        absl::StrCat("--alert-webhook-secret-file: cannot read ", path));
  std::ostringstream content;
  content << in.rdbuf();
  std::string secret = content.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--alert-webhook-secret-file: ", path, " is empty"));
  }
  return secret;
}

absl::Status CheckValues(const AlertFlags& f) {
  HB_RETURN_IF_ERROR(CheckUrl("--alertmanager-url", f.alertmanager_url));
  HB_RETURN_IF_ERROR(CheckUrl("--alert-webhook-url", f.webhook_url));
  if (!(f.hold >= 0 && f.hold <= 3600))
    return absl::InvalidArgumentError("--alert-hold must be in [0, 3600] seconds");
  if (!(f.storm_share > 0))
    return absl::InvalidArgumentError("--alert-storm-share must be above 0");
  if (f.storm_min < 1) return absl::InvalidArgumentError("--alert-storm-min must be at least 1");
  if (!(f.resend >= 1 && f.resend <= 3600)) {
    return absl::InvalidArgumentError(
        "--alertmanager-resend-interval must be in [1, 3600] seconds");
  }
  if (!(f.timeout >= 0.1 && f.timeout <= 300))
    return absl::InvalidArgumentError("--alert-timeout must be in [0.1, 300] seconds");
  if (f.queue < 1 || f.queue > 10000000)
    return absl::InvalidArgumentError("--alert-queue-size must be in [1, 10000000]");
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateAlertFlags(const AlertFlags& flags) {
  HB_RETURN_IF_ERROR(CheckValues(flags));
  if (!flags.webhook_secret_file.empty() && flags.webhook_url.empty()) {
    return absl::InvalidArgumentError("--alert-webhook-secret-file needs --alert-webhook-url");
  }
  if (!flags.webhook_secret_file.empty()) return ReadSecret(flags.webhook_secret_file).status();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<alert::Notifier>> MakeNotifier(const AlertFlags& flags,
                                                              heartbeat::HeartbeatEngine& engine,
                                                              Clock& clock,
                                                              const std::string& instance) {
  HB_RETURN_IF_ERROR(ValidateAlertFlags(flags));
  if (!flags.enabled()) return nullptr;
  const absl::Duration timeout = absl::Seconds(flags.timeout);
  std::vector<std::unique_ptr<alert::Sink>> sinks;
  if (!flags.alertmanager_url.empty()) {
    alert::AlertmanagerOptions o;
    o.url = flags.alertmanager_url;
    o.instance = instance;
    o.resend = absl::Seconds(flags.resend);
    o.timeout = timeout;
    o.max_queue = static_cast<size_t>(flags.queue);
    sinks.push_back(std::make_unique<alert::AlertmanagerSink>(o, alert::MakeCurlPoster(), clock));
  }
  if (!flags.webhook_url.empty()) {
    alert::WebhookOptions o;
    o.url = flags.webhook_url;
    if (!flags.webhook_secret_file.empty()) {
      absl::StatusOr<std::string> secret = ReadSecret(flags.webhook_secret_file);
      if (!secret.ok()) return secret.status();
      o.secret = *std::move(secret);
    }
    o.instance = instance;
    o.timeout = timeout;
    o.max_queue = static_cast<size_t>(flags.queue);
    sinks.push_back(std::make_unique<alert::WebhookSink>(o, alert::MakeCurlPoster(), clock));
  }
  alert::NotifierOptions options;
  options.policy.hold = absl::Seconds(flags.hold);
  options.policy.share = flags.storm_share;
  options.policy.min_failing = flags.storm_min;
  LogInfo("Notifications on", {{"alertmanager", alert::RedactUrl(flags.alertmanager_url)},
                               {"webhook", alert::RedactUrl(flags.webhook_url)},
                               {"signed", !flags.webhook_secret_file.empty()},
                               {"hold_seconds", flags.hold},
                               {"storm_share", flags.storm_share}});
  return std::make_unique<alert::Notifier>(
      [&engine](const std::string& id) { return engine.GetStatus(id); }, clock, options,
      std::move(sinks));
}

}  // namespace hb::cli
