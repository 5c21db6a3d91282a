#include "alert/webhook_sink.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace hb::alert {

std::string WebhookSignature(const std::string& secret, int64_t timestamp,
                             const std::string& body) {
  const std::string message = absl::StrCat(timestamp, ".", body);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  return absl::StrCat("sha256=", absl::BytesToHexString(absl::string_view(
                                     reinterpret_cast<const char*>(digest), length)));
}

WebhookSink::WebhookSink(WebhookOptions options, std::unique_ptr<HttpPoster> poster, Clock& clock)
    : options_(std::move(options)),
      poster_(std::move(poster)),
      clock_(clock),
      retry_(options_.retry) {}

void WebhookSink::Transition(const alert::Transition& transition) {
  Enqueue(transition.id, "transition", TransitionJson(transition, options_.instance));
}

void WebhookSink::Storm(const StormSummary& storm) {
  Enqueue(storm.id, "storm", StormJson(storm, options_.instance));
}

void WebhookSink::Enqueue(std::string id, const char* event, std::string body) {
  {
    absl::MutexLock lock(&mu_);
    if (queue_.size() >= options_.max_queue) {
      queue_.pop_front();
      ++stats_.dropped;
      if (retry_.MayLog(clock_.Now())) {
        LogWarning("Webhook queue full: dropping the oldest notification",
                   {{"url", RedactUrl(options_.url)},
                    {"max_queue", static_cast<int64_t>(options_.max_queue)},
                    {"dropped", static_cast<int64_t>(stats_.dropped)}});
      }
    }
    queue_.push_back({next_serial_++, std::move(id), event, std::move(body)});
  }
  if (wake_) wake_();
}

absl::Time WebhookSink::RunDue(absl::Time now) {
  {
    absl::MutexLock lock(&mu_);
    if (queue_.empty()) return absl::InfiniteFuture();
    if (now < retry_.next()) return retry_.next();
  }
  // A bounded run of sends, so that a long queue does not starve the caller's other work.
  for (int sent = 0; sent < 64; ++sent) {
    if (!SendOne()) break;
  }
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) return absl::InfiniteFuture();
  return std::max(retry_.next(), clock_.Now());
}

bool WebhookSink::SendOne() {
  Notification n;
  {
    absl::MutexLock lock(&mu_);
    if (queue_.empty()) return false;
    n = queue_.front();
  }
  const int64_t timestamp = absl::ToUnixSeconds(clock_.WallNow());
  std::vector<std::string> headers = {absl::StrCat("X-Heartbeat-Event: ", n.event),
                                      absl::StrCat("X-Heartbeat-Delivery: ", n.id),
                                      absl::StrCat("X-Heartbeat-Timestamp: ", timestamp)};
  if (!options_.secret.empty()) {
    headers.push_back(absl::StrCat("X-Heartbeat-Signature: ",
                                   WebhookSignature(options_.secret, timestamp, n.body)));
  }
  const PostResult result = poster_->Post(options_.url, headers, n.body, options_.timeout);
  absl::MutexLock lock(&mu_);
  // The notification may have been dropped (queue full) while it was being sent.
  const bool still_first = !queue_.empty() && queue_.front().serial == n.serial;
  if (result.ok() || !result.retryable()) {
    if (still_first) queue_.pop_front();
    if (result.ok()) {
      ++stats_.sent;
    } else {
      ++stats_.rejected;
      LogWarning("Webhook refused a notification; not retrying it",
                 {{"url", RedactUrl(options_.url)}, {"id", n.id}, {"error", result.error}});
    }
    retry_.Succeeded();
    return true;
  }
  ++stats_.failed;
  const absl::Duration delay = retry_.Failed(clock_.Now());
  if (retry_.MayLog(clock_.Now())) {
    LogWarning("Webhook notification failed; retrying",
               {{"url", RedactUrl(options_.url)},
                {"id", n.id},
                {"error", result.error},
                {"retry_in", absl::FormatDuration(delay)},
                {"queued", static_cast<int64_t>(queue_.size())}});
  }
  return false;
}

SinkStats WebhookSink::stats() const {
  absl::MutexLock lock(&mu_);
  SinkStats s = stats_;
  s.queued = static_cast<int64_t>(queue_.size());
  return s;
}

}  // namespace hb::alert
