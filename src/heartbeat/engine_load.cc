// HeartbeatEngine::Impl: load shaping (all under mu_): how late queued work is, and whether
// keep-alive answers are slow enough to hold routine puts back.
#include <algorithm>

#include "heartbeat/engine_impl.h"

namespace hb::heartbeat {
namespace {

std::string Rounded(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(10)));
}

}  // namespace

void HeartbeatEngine::Impl::NoteKeepAliveSent(Entry& e, absl::Time now) {
  if (e.lease.AwaitingKeepAlive()) return;  // the oldest unanswered one counts
  e.lease.keepalive_sent = now;
  // Only keep-alives that can be answered measure etcd's speed: the client drops those sent
  // while its stream is down, and the stream's first answer is the first "up".
  if (stream_up_) ka_fifo_.push_back(SentKeepAlive{now, e.slot, e.incarnation});
}

void HeartbeatEngine::Impl::TrackCongestion(absl::Time now) {
  double worst = 0;
  ka_latency_ = absl::ZeroDuration();
  while (!ka_fifo_.empty()) {
    const SentKeepAlive& oldest = ka_fifo_.front();
    Entry* e = Find(oldest.slot, oldest.incarnation);
    if (e == nullptr || e->lease.keepalive_sent != oldest.sent) {
      ka_fifo_.pop_front();  // answered, lost or removed since
      continue;
    }
    ka_latency_ = now - oldest.sent;
    worst = absl::FDivDuration(ka_latency_, absl::Seconds(e->spec.ttl_seconds));
    break;
  }
  if (!congested_ && worst > options_.keepalive_congestion) {
    congested_ = true;
    LogWarning(
        "etcd answers keep-alives slowly; holding back routine puts so that leases stay "
        "renewed",
        {{"oldest_unanswered", Rounded(ka_latency_)}});
  } else if (congested_ && worst < options_.keepalive_congestion / 2) {
    congested_ = false;
    LogInfo("keep-alives answered promptly again; resuming routine puts",
            {{"oldest_unanswered", Rounded(ka_latency_)}});
  }
}

void HeartbeatEngine::Impl::TrackLag(absl::Time now) {
  absl::Duration lag;
  for (auto* queue : {&urgent_, &normal_}) {
    for (const QueueItem& item : *queue) {
      Entry* e = Find(item.slot, item.incarnation);
      if (e == nullptr) continue;
      if (item.track == Track::kLease && e->lease.grant == Request::kQueued) {
        lag = std::max(lag, now - e->lease.queued_at);
      } else if (item.track == Track::kPut && e->put.request == Request::kQueued) {
        lag = std::max(lag, now - e->put.queued_at);
      } else {
        continue;  // stale
      }
      break;  // FIFO: the first live item is the oldest
    }
  }
  lag_ = lag;
  if (!behind_ && lag > options_.lag_warning) {
    behind_ = true;
    LogWarning("falling behind: beats wait for a free etcd request slot; etcd may be at capacity",
               {{"lag", Rounded(lag)},
                {"waiting", static_cast<int64_t>(urgent_.size() + normal_.size())},
                {"max_in_flight", options_.max_in_flight}});
  } else if (behind_ && lag < options_.lag_warning / 2) {
    behind_ = false;
    LogInfo("caught up: beats are on schedule again");
  }
}

}  // namespace hb::heartbeat
