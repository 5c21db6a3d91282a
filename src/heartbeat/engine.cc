#include "heartbeat/engine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "heartbeat/engine_impl.h"
#include "heartbeat/health_value.h"

namespace hb::heartbeat {

const char* WriteModeName(WriteMode mode) {
  return mode == WriteMode::kOnChange ? "on-change" : "every-beat";
}

const char* HealthName(Health health) {
  switch (health) {
    case Health::kPending:
      return "Pending";
    case Health::kHealthy:
      return "Healthy";
    case Health::kFailing:
      return "Failing";
    case Health::kLeaseLost:
      return "LeaseLost";
  }
  return "Pending";
}

// ---- HeartbeatEngine: forwarding ----

HeartbeatEngine::HeartbeatEngine(etcd::EtcdClient& etcd, Clock& clock, EngineOptions options)
    : impl_(std::make_unique<Impl>(etcd, clock, std::move(options), stats_)) {}
HeartbeatEngine::~HeartbeatEngine() = default;
void HeartbeatEngine::SetWakeHook(std::function<void()> wake) {
  impl_->SetWakeHook(std::move(wake));
}
void HeartbeatEngine::SetChangeHook(std::function<void(const std::string&)> changed) {
  impl_->SetChangeHook(std::move(changed));
}
absl::Status HeartbeatEngine::Upsert(const CapabilitySpec& spec) { return impl_->Upsert(spec); }
void HeartbeatEngine::Remove(const std::string& id, bool revoke) { impl_->Remove(id, revoke); }
absl::Time HeartbeatEngine::RunDue() { return impl_->RunDue(); }
void HeartbeatEngine::BeginShutdown(bool revoke) { impl_->BeginShutdown(revoke); }
void HeartbeatEngine::RescanExistingKeys() { impl_->RescanExistingKeys(); }
bool HeartbeatEngine::Drained() const { return impl_->Drained(); }
std::optional<CapabilityStatus> HeartbeatEngine::GetStatus(const std::string& id) const {
  return impl_->GetStatus(id);
}
std::vector<CapabilityStatus> HeartbeatEngine::AllStatuses() const { return impl_->AllStatuses(); }
EngineGauges HeartbeatEngine::Gauges() const { return impl_->Gauges(); }
void HeartbeatEngine::ResetHistograms() {
  for (LatencyHistogram* h : {&stats_.put_latency, &stats_.keepalive_latency, &stats_.grant_latency,
                              &stats_.beat_lateness}) {
    h->Reset();
  }
}

// ---- Impl: public operations ----

HeartbeatEngine::Impl::Impl(etcd::EtcdClient& etcd, Clock& clock, EngineOptions options,
                            EngineStats& stats)
    : etcd_(etcd),
      clock_(clock),
      options_(std::move(options)),
      stats_(stats),
      jitter_(options_.seed != 0 ? options_.seed : Jitter::RandomSeed()),
      scan_backoff_(options_.retry) {
  if (!options_.adopt) scan_ = ScanState::kDone;
  etcd_.SetKeepAliveListener(this);
}

// The client is not touched here: it may already be gone (see the lifetime rule in engine.h).
HeartbeatEngine::Impl::~Impl() = default;

void HeartbeatEngine::Impl::SetWakeHook(std::function<void()> wake) { wake_ = std::move(wake); }

void HeartbeatEngine::Impl::SetChangeHook(std::function<void(const std::string&)> changed) {
  changed_ = std::move(changed);
}

absl::Status HeartbeatEngine::Impl::Upsert(const CapabilitySpec& spec) {
  if (spec.identifier.empty() || spec.identifier.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid capability identifier \"", spec.identifier, "\""));
  }
  if (spec.ttl_seconds < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec.identifier, ": TTL must be at least 2 seconds, got ", spec.ttl_seconds));
  }
  if (spec.interval < absl::Milliseconds(100) || spec.interval >= absl::Seconds(spec.ttl_seconds)) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec.identifier, ": interval must be at least 0.1 s and below the TTL (",
                     spec.ttl_seconds, " s), got ", absl::FormatDuration(spec.interval)));
  }
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return absl::FailedPreconditionError("heartbeat engine is shutting down");
    absl::Time now = clock_.Now();
    auto it = by_id_.find(spec.identifier);
    if (it == by_id_.end()) {
      uint32_t slot;
      if (!free_slots_.empty()) {
        slot = free_slots_.back();
        free_slots_.pop_back();
      } else {
        slot = static_cast<uint32_t>(slots_.size());
        slots_.emplace_back();
      }
      auto entry = std::make_unique<Entry>();
      entry->slot = slot;
      entry->incarnation = next_incarnation_++;
      entry->spec = spec;
      entry->key = absl::StrCat(options_.key_prefix, spec.identifier, "/health");
      entry->backoff = Backoff(options_.retry);
      Entry& e = *entry;
      slots_[slot] = std::move(entry);
      by_id_[spec.identifier] = slot;
      // A small spread of first grants; later beats get a random phase of their own.
      Schedule(e, now + jitter_.UpTo(std::min(spec.interval, absl::Seconds(1)) * 0.25));
      fx.changed.push_back(spec.identifier);
    } else {
      Entry& e = *slots_[it->second];
      CapabilitySpec old = e.spec;
      e.spec = spec;
      if (old.ttl_seconds != spec.ttl_seconds && e.phase == Phase::kHeld) e.regrant = true;
      if (old.interval != spec.interval) {
        e.next_put = std::min(e.next_put, now + spec.interval);
        e.next_keepalive = std::min(e.next_keepalive, now + KeepAlivePeriod(e));
      }
      if (options_.mode == WriteMode::kOnChange &&
          (old.interval != spec.interval || old.source != spec.source)) {
        e.put_now = true;
      }
      Schedule(e, now);
    }
  }
  Apply(fx);
  return absl::OkStatus();
}

void HeartbeatEngine::Impl::Remove(const std::string& identifier, bool revoke) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(identifier);
    if (it == by_id_.end()) return;
    EraseEntry(*slots_[it->second], revoke, fx);
    fx.wake = true;
  }
  Apply(fx);
}

void HeartbeatEngine::Impl::EraseEntry(Entry& e, bool revoke, Effects& fx) {
  if (e.lease_id != 0) {
    by_lease_.erase(e.lease_id);
    if (revoke) QueueRevoke(e.lease_id);
  }
  if (e.stale_lease != 0) QueueRevoke(e.stale_lease);
  SetPhase(e, Phase::kPending);
  fx.changed.push_back(e.spec.identifier);
  by_id_.erase(e.spec.identifier);
  uint32_t slot = e.slot;
  slots_[slot].reset();  // queued and heap items for this slot are now stale
  free_slots_.push_back(slot);
}

void HeartbeatEngine::Impl::RescanExistingKeys() {
  {
    absl::MutexLock lock(&mu_);
    if (!options_.adopt || scan_ == ScanState::kInFlight) return;
    adoptable_.clear();
    scan_from_.clear();
    scan_ = ScanState::kWaiting;
    scan_retry_at_ = absl::InfinitePast();
  }
  if (wake_) wake_();
}

void HeartbeatEngine::Impl::BeginShutdown(bool revoke) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return;
    shutting_down_ = true;
    for (auto& slot : slots_) {
      if (slot) EraseEntry(*slot, revoke, fx);
    }
    fx.wake = true;
  }
  Apply(fx);
}

bool HeartbeatEngine::Impl::Drained() const {
  absl::MutexLock lock(&mu_);
  return shutting_down_ && in_flight_ == 0 && revokes_.empty() && scan_ != ScanState::kInFlight;
}

absl::Time HeartbeatEngine::Impl::RunDue() {
  Effects fx;
  absl::Time next;
  std::vector<KeepAliveAnswer> answers;
  {
    absl::MutexLock lock(&inbox_mu_);
    answers.swap(inbox_);
  }
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_.Now();
    for (const KeepAliveAnswer& answer : answers) ApplyKeepAlive(answer, fx);
    if (scan_ == ScanState::kWaiting && now >= scan_retry_at_ && !shutting_down_) {
      scan_ = ScanState::kInFlight;
      Action scan{Action::Kind::kScan};
      scan.key = scan_from_;
      fx.actions.push_back(std::move(scan));
    }
    DrainQueues(now, fx);
    while (!heap_.empty() && heap_.top().due <= now) {
      HeapItem item = heap_.top();
      heap_.pop();
      Entry* e = slots_[item.slot].get();
      if (e == nullptr || e->version != item.version) continue;
      e->due = absl::InfiniteFuture();
      Evaluate(*e, now, fx);
    }
    TrackLag(now);
    TrackCongestion(now);
    next = heap_.empty() ? absl::InfiniteFuture() : heap_.top().due;
    if (scan_ == ScanState::kWaiting && !shutting_down_) next = std::min(next, scan_retry_at_);
    announced_ = next;
  }
  Apply(fx);
  return next;
}

// ---- Impl: scheduling (under mu_) ----

Entry* HeartbeatEngine::Impl::Find(uint32_t slot, uint64_t incarnation) {
  if (slot >= slots_.size()) return nullptr;
  Entry* e = slots_[slot].get();
  return e != nullptr && e->incarnation == incarnation ? e : nullptr;
}

void HeartbeatEngine::Impl::Schedule(Entry& e, absl::Time when) {
  if (when >= e.due) return;  // already due no later than that
  e.due = when;
  heap_.push(HeapItem{when, e.slot, ++e.version});
  if (when < announced_) announced_ = absl::InfinitePast();  // the driver must come back
}

// TTL/3, as etcd's own client: two renewals may go unanswered before the lease expires.
// Independent of the interval: a put does not renew a lease, and renewing more often than
// this only loads etcd, whose keep-alive capacity is the first limit a large fleet meets.
absl::Duration HeartbeatEngine::Impl::KeepAlivePeriod(const Entry& e) const {
  return absl::Seconds(e.spec.ttl_seconds) / 3;
}

void HeartbeatEngine::Impl::PlacePhases(Entry& e, absl::Time now) {
  // Random phases within one period spread the fleet evenly over time.
  absl::Duration put_period =
      options_.mode == WriteMode::kEveryBeat ? e.spec.interval : options_.refresh;
  e.next_put = now + jitter_.UpTo(put_period);
  e.next_keepalive = now + jitter_.UpTo(KeepAlivePeriod(e));
  e.phases_set = true;
}

bool HeartbeatEngine::Impl::TakeSlot(Entry& e, bool urgent, absl::Time scheduled) {
  if (reserved_) {
    reserved_ = false;
    ++in_flight_;
    return true;
  }
  if (in_flight_ < options_.max_in_flight && urgent_.empty() &&
      (urgent || (normal_.empty() && !congested_))) {
    ++in_flight_;
    return true;
  }
  e.waiting = true;
  e.waiting_since_schedule = scheduled;
  (urgent ? urgent_ : normal_).emplace_back(e.slot, e.incarnation);
  return false;
}

void HeartbeatEngine::Impl::ReleaseSlot(Effects& fx) {
  --in_flight_;
  if (!urgent_.empty() || !normal_.empty() || !revokes_.empty()) fx.wake = true;
}

void HeartbeatEngine::Impl::QueueRevoke(int64_t lease) { revokes_.push_back(lease); }

void HeartbeatEngine::Impl::DrainQueues(absl::Time now, Effects& fx) {
  while (!revokes_.empty() && in_flight_ < options_.max_in_flight) {
    ++in_flight_;
    fx.actions.push_back(Action{Action::Kind::kRevoke, 0, 0, revokes_.front()});
    revokes_.pop_front();
  }
  for (auto* queue : {&urgent_, &normal_}) {
    if (queue == &normal_ && congested_) break;
    while (!queue->empty() && in_flight_ < options_.max_in_flight) {
      auto [slot, incarnation] = queue->front();
      queue->pop_front();
      Entry* e = Find(slot, incarnation);
      if (e == nullptr || !e->waiting) continue;
      e->waiting = false;
      reserved_ = true;  // the next TakeSlot() gets a slot ahead of the queues
      Evaluate(*e, now, fx);
      reserved_ = false;
    }
  }
}

void HeartbeatEngine::Impl::NoteKeepAliveSent(Entry& e, absl::Time now) {
  if (e.ka_awaiting) return;  // the oldest unanswered one counts
  e.ka_sent_at = now;
  e.ka_awaiting = true;
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
    if (e == nullptr || !e->ka_awaiting || e->ka_sent_at != oldest.sent) {
      ka_fifo_.pop_front();  // answered, lost or removed since
      continue;
    }
    ka_latency_ = now - oldest.sent;
    worst = absl::FDivDuration(ka_latency_, absl::Seconds(e->spec.ttl_seconds));
    break;
  }
  auto latency = [this] {
    return absl::FormatDuration(absl::Trunc(ka_latency_, absl::Milliseconds(10)));
  };
  if (!congested_ && worst > options_.keepalive_congestion) {
    congested_ = true;
    LogWarning(
        "etcd answers keep-alives slowly; holding back routine puts so that leases stay "
        "renewed",
        {{"oldest_unanswered", latency()}});
  } else if (congested_ && worst < options_.keepalive_congestion / 2) {
    congested_ = false;
    LogInfo("keep-alives answered promptly again; resuming routine puts",
            {{"oldest_unanswered", latency()}});
  }
}

void HeartbeatEngine::Impl::TrackLag(absl::Time now) {
  absl::Duration lag;
  for (auto* queue : {&urgent_, &normal_}) {
    for (const auto& [slot, incarnation] : *queue) {
      Entry* e = Find(slot, incarnation);
      if (e == nullptr || !e->waiting) continue;
      lag = std::max(lag, now - e->waiting_since_schedule);
      break;  // FIFO: the first live item is the oldest
    }
  }
  lag_ = lag;
  if (!behind_ && lag > options_.lag_warning) {
    behind_ = true;
    LogWarning("falling behind: beats wait for a free etcd request slot; etcd may be at capacity",
               {{"lag", absl::FormatDuration(absl::Trunc(lag, absl::Milliseconds(10)))},
                {"waiting", static_cast<int64_t>(urgent_.size() + normal_.size())},
                {"max_in_flight", options_.max_in_flight}});
  } else if (behind_ && lag < options_.lag_warning / 2) {
    behind_ = false;
    LogInfo("caught up: beats are on schedule again");
  }
}

}  // namespace hb::heartbeat
