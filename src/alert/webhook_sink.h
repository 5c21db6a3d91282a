// WebhookSink: one signed JSON POST per transition (and per storm start or end) to a URL.
//
// Body: alert/transition.h's TransitionJson / StormJson. Headers:
//   X-Heartbeat-Event: transition | storm
//   X-Heartbeat-Delivery: the notification's id, the same on every retry (receivers drop
//                         repeats by it: a POST that timed out may have been processed)
//   X-Heartbeat-Timestamp: Unix seconds of this attempt
//   X-Heartbeat-Signature: sha256=<hex HMAC-SHA256 over "<timestamp>.<body>" with the secret>
//                          (only with a secret)
// Delivery is in order, one at a time, retried with capped exponential backoff while the
// receiver fails (no answer, 408, 429, 5xx); another 4xx is final (counted as rejected).
// At most `max_queue` notifications wait; beyond that the oldest is dropped and counted, so a
// receiver gone for long costs bounded memory and heartbeats never wait for it.
// Thread-safety: see sink.h. The secret is never logged.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "alert/http_poster.h"
#include "alert/retry.h"
#include "alert/sink.h"
#include "common/clock.h"

namespace hb::alert {

struct WebhookOptions {
  std::string url;
  std::string secret;    // "": unsigned
  std::string instance;  // names this process in every body
  absl::Duration timeout = absl::Seconds(5);
  BackoffPolicy retry{absl::Seconds(1), absl::Seconds(60), 2.0, 0.2};
  size_t max_queue = 10000;
};

// The X-Heartbeat-Signature value for `body` sent at `timestamp` (Unix seconds).
std::string WebhookSignature(const std::string& secret, int64_t timestamp, const std::string& body);

class WebhookSink final : public Sink {
 public:
  WebhookSink(WebhookOptions options, std::unique_ptr<HttpPoster> poster, Clock& clock);
  const char* name() const override { return "webhook"; }
  void SetWakeHook(std::function<void()> wake) override { wake_ = std::move(wake); }
  void Transition(const alert::Transition& transition) override;
  void Storm(const StormSummary& storm) override;
  absl::Time RunDue(absl::Time now) override;
  SinkStats stats() const override;

 private:
  struct Notification {
    uint64_t serial = 0;
    std::string id;
    const char* event = "";
    std::string body;
  };
  void Enqueue(std::string id, const char* event, std::string body);
  // Sends the oldest notification once; false when the sink should wait (failure, empty).
  bool SendOne();

  const WebhookOptions options_;
  const std::unique_ptr<HttpPoster> poster_;  // used by the RunDue thread only
  Clock& clock_;
  std::function<void()> wake_;

  mutable absl::Mutex mu_;
  std::deque<Notification> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t next_serial_ ABSL_GUARDED_BY(mu_) = 0;
  RetrySchedule retry_ ABSL_GUARDED_BY(mu_);
  SinkStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb::alert
