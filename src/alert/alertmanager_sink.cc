#include "alert/alertmanager_sink.h"

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/time_format.h"

namespace hb::alert {

namespace {

constexpr char kStormKey[] = "\x01storm";  // cannot collide with an identifier

std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

std::string NamespaceOfSource(const std::string& source) {
  for (absl::string_view kind : {"Capability ", "ConfigMap "}) {
    if (!absl::StartsWith(source, kind)) continue;
    const std::string rest = source.substr(kind.size());
    const size_t slash = rest.find('/');
    if (slash != std::string::npos && slash > 0) return rest.substr(0, slash);
  }
  return "";
}

AlertmanagerSink::AlertmanagerSink(AlertmanagerOptions options, std::unique_ptr<HttpPoster> poster,
                                   Clock& clock)
    : options_(std::move(options)),
      endpoint_(TrimSlash(options_.url) + "/api/v2/alerts"),
      poster_(std::move(poster)),
      clock_(clock),
      retry_(options_.retry) {}

void AlertmanagerSink::Transition(const alert::Transition& t) {
  {
    absl::MutexLock lock(&mu_);
    if (!IsFailing(t.to)) {
      Resolve(t.identifier, t.time);
    } else {
      const bool down = t.to == AlertLevel::kDown;
      Alert a;
      a.labels = {{"alertname", down ? "CapabilityDown" : "CapabilityUnhealthy"},
                  {"identifier", t.identifier},
                  {"severity", down ? "critical" : "warning"}};
      if (!t.source.empty()) a.labels["source"] = t.source;
      if (std::string ns = NamespaceOfSource(t.source); !ns.empty()) a.labels["namespace"] = ns;
      const std::string summary =
          absl::StrCat("Capability ", t.identifier, " is ", AlertLevelName(t.to));
      a.annotations = {
          {"message", t.reason.empty() ? summary : absl::StrCat(summary, ": ", t.reason)},
          {"summary", summary},
          {"reason", t.reason},
          {"reported_by", options_.instance}};
      if (t.status && t.status->check && !t.status->check->last_result.empty()) {
        a.annotations["last_check"] = t.status->check->last_result;
      }
      a.starts = t.time;
      Fire(t.identifier, std::move(a));
    }
  }
  Changed();
}

void AlertmanagerSink::Storm(const StormSummary& s) {
  {
    absl::MutexLock lock(&mu_);
    if (!s.active) {
      Resolve(kStormKey, s.time);
    } else {
      Alert a;
      a.labels = {{"alertname", "CapabilitiesFailingAtOnce"}, {"severity", "critical"}};
      const std::string summary =
          absl::StrCat(s.failing, " of ", s.total, " capabilities are failing at once");
      const std::string reason =
          absl::StrCat("more than ", s.share * 100,
                       "% of the capabilities failed together: more likely an outage of etcd or "
                       "of the operator's network than of the services; per-capability "
                       "notifications are held until fewer fail");
      a.annotations = {{"message", absl::StrCat(summary, ": ", reason)},
                       {"summary", summary},
                       {"reason", reason},
                       {"reported_by", options_.instance}};
      a.starts = s.time;
      Fire(kStormKey, std::move(a));
    }
  }
  Changed();
}

void AlertmanagerSink::Fire(const std::string& key, Alert alert) {
  auto it = active_.find(key);
  if (it != active_.end()) {
    if (it->second.labels == alert.labels) {
      alert.starts = it->second.starts;  // the same alert goes on
    } else {
      Resolve(key, alert.starts);  // another alert now (unhealthy -> down)
    }
  }
  active_[key] = std::move(alert);
}

void AlertmanagerSink::Resolve(const std::string& key, absl::Time when) {
  auto it = active_.find(key);
  if (it == active_.end()) return;
  it->second.ends = when;
  if (resolved_.size() >= options_.max_queue) {
    resolved_.pop_front();
    ++stats_.dropped;
  }
  resolved_.push_back(std::move(it->second));
  active_.erase(it);
}

void AlertmanagerSink::Changed() {
  {
    absl::MutexLock lock(&mu_);
    ++generation_;
  }
  if (wake_) wake_();
}

absl::Time AlertmanagerSink::RunDue(absl::Time now) {
  std::vector<std::string> alerts;
  size_t resolved_taken = 0;
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    const bool dirty = generation_ != sent_generation_;
    if (!dirty && active_.empty()) return absl::InfiniteFuture();
    const absl::Time due = dirty ? retry_.next() : std::max(retry_.next(), next_resend_);
    if (now < due) return due;
    const absl::Time wall = clock_.WallNow();
    auto render = [&](const Alert& a, absl::Time ends) {
      nlohmann::json j = {{"labels", a.labels},
                          {"annotations", a.annotations},
                          {"startsAt", FormatRfc3339(a.starts)},
                          {"endsAt", FormatRfc3339(ends)}};
      alerts.push_back(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    };
    for (const Alert& a : resolved_) render(a, a.ends);
    resolved_taken = resolved_.size();
    for (const auto& entry : active_) render(entry.second, wall + 4 * options_.resend);
    generation = generation_;
  }
  const std::string error = Send(alerts);
  absl::MutexLock lock(&mu_);
  if (error.empty()) {
    stats_.sent += alerts.size();
    resolved_.erase(resolved_.begin(),
                    resolved_.begin() + std::min(resolved_taken, resolved_.size()));
    sent_generation_ = generation;
    retry_.Succeeded();
    next_resend_ = clock_.Now() + options_.resend;
    if (generation_ != sent_generation_) return clock_.Now();
    return active_.empty() ? absl::InfiniteFuture() : next_resend_;
  }
  ++stats_.failed;
  const absl::Duration delay = retry_.Failed(clock_.Now());
  if (retry_.MayLog(clock_.Now())) {
    LogWarning("Alertmanager did not take the alerts; retrying",
               {{"url", RedactUrl(endpoint_)},
                {"error", error},
                {"alerts", static_cast<int64_t>(alerts.size())},
                {"retry_in", absl::FormatDuration(delay)}});
  }
  return retry_.next();
}

std::string AlertmanagerSink::Send(const std::vector<std::string>& alerts) {
  for (size_t begin = 0; begin < alerts.size(); begin += options_.max_batch) {
    const size_t end = std::min(alerts.size(), begin + options_.max_batch);
    std::string body = "[";
    for (size_t i = begin; i < end; ++i) absl::StrAppend(&body, i > begin ? "," : "", alerts[i]);
    body += "]";
    const PostResult result = poster_->Post(endpoint_, {}, body, options_.timeout);
    if (!result.ok()) return result.error.empty() ? "no answer" : result.error;
  }
  return "";
}

SinkStats AlertmanagerSink::stats() const {
  absl::MutexLock lock(&mu_);
  SinkStats s = stats_;
  s.queued = static_cast<int64_t>(resolved_.size() + active_.size());
  return s;
}

}  // namespace hb::alert
