// AlertmanagerSink: one alert per failing capability, through Alertmanager's v2 API
// (POST <url>/api/v2/alerts, a JSON array of alerts).
//
// Alerts (labels identify an alert to Alertmanager, so they never name this process: a
// failover's new leader re-sends the same alerts, not new ones):
//   CapabilityUnhealthy  severity=warning   the check fails, or its key cannot be written
//   CapabilityDown       severity=critical  its lease was lost or its key removed
//   CapabilitiesFailingAtOnce  severity=critical  the storm guard's summary
// with labels identifier, source and namespace (when the source names one; see
// NamespaceOfSource), and annotations message (the summary and the reason in one line, for
// receivers that show one text), summary, reason, last_check (the check's last result, when
// the capability has a check) and reported_by.
// A firing alert is re-sent every `resend` with endsAt = now + 4 x resend, as Prometheus
// does, so that Alertmanager keeps it and resolves it by itself if this process dies; a
// recovery sends it once with endsAt = the recovery time (retried until delivered).
// A failed POST is retried with capped backoff; everything active is in every POST (in
// batches of max_batch), so nothing is lost while Alertmanager is away. At most max_queue
// resolutions wait; beyond that the oldest is dropped (it then resolves by its endsAt).
// Thread-safety: see sink.h.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "alert/http_poster.h"
#include "alert/retry.h"
#include "alert/sink.h"
#include "common/clock.h"

namespace hb::alert {

struct AlertmanagerOptions {
  std::string url;       // Alertmanager's base URL, e.g. http://127.0.0.1:9093
  std::string instance;  // this process (annotation reported_by)
  absl::Duration resend = absl::Minutes(1);
  absl::Duration timeout = absl::Seconds(5);
  BackoffPolicy retry{absl::Seconds(1), absl::Seconds(60), 2.0, 0.2};
  size_t max_batch = 500;
  size_t max_queue = 10000;
};

// "Capability team-a/orders" -> "team-a"; "ConfigMap ops/caps key" -> "ops"; else "".
std::string NamespaceOfSource(const std::string& source);

class AlertmanagerSink final : public Sink {
 public:
  AlertmanagerSink(AlertmanagerOptions options, std::unique_ptr<HttpPoster> poster, Clock& clock);
  const char* name() const override { return "alertmanager"; }
  void SetWakeHook(std::function<void()> wake) override { wake_ = std::move(wake); }
  void Transition(const alert::Transition& transition) override;
  void Storm(const StormSummary& storm) override;
  absl::Time RunDue(absl::Time now) override;
  SinkStats stats() const override;

 private:
  struct Alert {
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    absl::Time starts;
    absl::Time ends = absl::InfiniteFuture();  // set when resolved
  };
  void Fire(const std::string& key, Alert alert) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Resolve(const std::string& key, absl::Time when) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Changed();
  // POSTs `alerts` in batches; empty when every batch was accepted, else the error.
  std::string Send(const std::vector<std::string>& alerts);

  const AlertmanagerOptions options_;
  const std::string endpoint_;  // options_.url + "/api/v2/alerts"
  const std::unique_ptr<HttpPoster> poster_;
  Clock& clock_;
  std::function<void()> wake_;

  mutable absl::Mutex mu_;
  std::map<std::string, Alert> active_ ABSL_GUARDED_BY(mu_);  // by identifier (or storm key)
  std::deque<Alert> resolved_ ABSL_GUARDED_BY(mu_);           // to send once
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;              // bumped by every change
  uint64_t sent_generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_resend_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  RetrySchedule retry_ ABSL_GUARDED_BY(mu_);
  SinkStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb::alert
