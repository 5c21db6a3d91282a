// HeartbeatEngine::Impl: deciding what each capability needs now (all under mu_).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "heartbeat/engine_impl.h"
#include "heartbeat/health_value.h"

namespace hb::heartbeat {

void HeartbeatEngine::Impl::Evaluate(Entry& e, absl::Time now, Effects& fx) {
  switch (e.phase) {
    case Phase::kPending: {
      if (e.grant_in_flight || e.waiting || scan_ != ScanState::kDone || now < e.retry_at) break;
      auto candidate = adoptable_.find(e.spec.identifier);
      if (candidate != adoptable_.end()) {
        Adoptable found = candidate->second;
        adoptable_.erase(candidate);
        if (!by_lease_.contains(found.lease)) {
          SetPhase(e, Phase::kProbing);
          e.lease_id = found.lease;
          e.heartbeat_count = found.count;
          by_lease_[found.lease] = e.slot;
          e.probe_deadline = now + options_.keepalive_timeout;
          NoteKeepAliveSent(e, now);
          fx.actions.push_back(
              Action{Action::Kind::kKeepAlive, e.slot, e.incarnation, found.lease});
          break;
        }
      }
      if (!TakeSlot(e, /*urgent=*/true, now)) break;
      e.grant_in_flight = true;
      Action grant{Action::Kind::kGrant, e.slot, e.incarnation};
      grant.ttl = e.spec.ttl_seconds;
      fx.actions.push_back(std::move(grant));
      break;
    }
    case Phase::kProbing:
      if (now >= e.probe_deadline) {
        LogDebug("no answer for the lease found in etcd; granting a new one",
                 {{"id", e.spec.identifier}, {"lease", LeaseIdHex(e.lease_id)}});
        by_lease_.erase(e.lease_id);
        e.lease_id = 0;
        e.ka_awaiting = false;
        SetPhase(e, Phase::kPending);
        e.retry_at = now;
        Evaluate(e, now, fx);
        return;
      }
      break;
    case Phase::kHeld:
      EvaluateLease(e, now, fx);
      if (e.phase == Phase::kHeld) EvaluatePut(e, now, fx);
      break;
  }
  Schedule(e, NextDue(e));
}

void HeartbeatEngine::Impl::EvaluateLease(Entry& e, absl::Time now, Effects& fx) {
  if (now >= e.lease_deadline) {
    LoseLease(e, "no keep-alive answer before the lease deadline", now, fx);
    return;
  }
  if (now >= e.next_keepalive) {
    NoteKeepAliveSent(e, now);
    fx.actions.push_back(Action{Action::Kind::kKeepAlive, e.slot, e.incarnation, e.lease_id});
    absl::Duration period = KeepAlivePeriod(e);
    e.next_keepalive += jitter_.Spread(period, options_.jitter);
    if (e.next_keepalive <= now) e.next_keepalive = now + jitter_.Spread(period, options_.jitter);
  }
  if (e.regrant && !e.grant_in_flight && !e.waiting && now >= e.retry_at &&
      TakeSlot(e, /*urgent=*/true, now)) {
    e.grant_in_flight = true;
    Action grant{Action::Kind::kGrant, e.slot, e.incarnation};
    grant.ttl = e.spec.ttl_seconds;
    fx.actions.push_back(std::move(grant));
  }
}

void HeartbeatEngine::Impl::EvaluatePut(Entry& e, absl::Time now, Effects& fx) {
  if (e.put_in_flight || e.waiting) return;
  bool routine = now >= e.next_put;
  bool extra = e.put_now && now >= e.put_not_before;
  if (!routine && !extra) return;
  bool urgent = extra && e.health != Health::kHealthy;
  if (!TakeSlot(e, urgent, routine ? e.next_put : now)) return;
  if (routine) {
    stats_.beat_lateness.Record(now - e.next_put);
    absl::Duration period =
        options_.mode == WriteMode::kEveryBeat ? e.spec.interval : options_.refresh;
    e.next_put += jitter_.Spread(period, options_.jitter);
    if (e.next_put <= now) {  // a whole period late: skip the missed beats
      stats_.beats_skipped.fetch_add(static_cast<uint64_t>((now - e.next_put) / period) + 1,
                                     std::memory_order_relaxed);
      e.next_put = now + jitter_.Spread(period, options_.jitter);
    }
  }
  e.put_now = false;
  e.put_in_flight = true;
  Action put{Action::Kind::kPut, e.slot, e.incarnation, e.lease_id};
  put.count = e.heartbeat_count + 1;
  put.key = e.key;
  put.value = RenderValue(e, now, put.count);
  fx.actions.push_back(std::move(put));
}

absl::Time HeartbeatEngine::Impl::NextDue(const Entry& e) const {
  absl::Time next = absl::InfiniteFuture();
  switch (e.phase) {
    case Phase::kPending:
      if (!e.grant_in_flight && !e.waiting && scan_ == ScanState::kDone) next = e.retry_at;
      break;
    case Phase::kProbing:
      next = e.probe_deadline;
      break;
    case Phase::kHeld:
      next = std::min(e.next_keepalive, e.lease_deadline);
      if (!e.put_in_flight && !e.waiting) {
        next = std::min(next, e.next_put);
        if (e.put_now) next = std::min(next, e.put_not_before);
      }
      if (e.regrant && !e.grant_in_flight && !e.waiting) next = std::min(next, e.retry_at);
      break;
  }
  return next;
}

void HeartbeatEngine::Impl::SetPhase(Entry& e, Phase phase) {
  if (e.phase == Phase::kHeld) --held_;
  if (phase == Phase::kHeld) ++held_;
  e.phase = phase;
}

void HeartbeatEngine::Impl::SetHealth(Entry& e, Health health, std::string message, Effects& fx) {
  if (e.health == health && e.message == message) return;
  e.health = health;
  e.message = std::move(message);
  fx.changed.push_back(e.spec.identifier);
}

void HeartbeatEngine::Impl::LoseLease(Entry& e, absl::string_view why, absl::Time now,
                                      Effects& fx) {
  stats_.leases_lost.fetch_add(1, std::memory_order_relaxed);
  LogLimited(LogLevel::kWarning, "Lease lost; re-granting",
             {{"id", e.spec.identifier}, {"lease", LeaseIdHex(e.lease_id)}, {"reason", why}});
  by_lease_.erase(e.lease_id);
  e.lease_id = 0;
  SetPhase(e, Phase::kPending);
  e.ka_awaiting = false;
  e.regrant = false;
  e.put_now = true;
  e.put_not_before = absl::InfinitePast();
  e.retry_at = now + jitter_.UpTo(std::min(KeepAlivePeriod(e) / 4, absl::Milliseconds(500)));
  SetHealth(e, Health::kLeaseLost, std::string(why), fx);
}

void HeartbeatEngine::Impl::LogLimited(LogLevel level, absl::string_view msg,
                                       std::initializer_list<LogField> fields) {
  if (!Logger::Default().Enabled(level)) return;
  auto it = limiters_.try_emplace(std::string(msg), 20, absl::Seconds(10)).first;
  int64_t suppressed = 0;
  bool allowed = it->second.Allow(clock_.Now(), &suppressed);
  if (suppressed > 0) {
    Logger::Default().Log(level, "similar per-capability log lines were suppressed",
                          {{"message", msg}, {"suppressed", suppressed}, {"window", "10s"}});
  }
  if (allowed) Logger::Default().Log(level, msg, fields);
}

std::string HeartbeatEngine::Impl::RenderValue(const Entry& e, absl::Time now,
                                               uint64_t count) const {
  HealthValue value;
  value.timestamp = now;
  value.identifier = e.spec.identifier;
  value.heartbeat_count = count;
  value.lease_id = e.lease_id;
  value.ttl_seconds = e.spec.ttl_seconds;
  value.interval = e.spec.interval;
  value.mode = WriteModeName(options_.mode);
  value.source = e.spec.source;
  return RenderHealthValue(value);
}

CapabilityStatus HeartbeatEngine::Impl::Snapshot(const Entry& e) const {
  CapabilityStatus s;
  s.identifier = e.spec.identifier;
  s.key = e.key;
  s.health = e.health;
  s.message = e.message;
  s.lease_id = e.phase == Phase::kHeld ? e.lease_id : 0;
  s.ttl_seconds = e.spec.ttl_seconds;
  s.interval = e.spec.interval;
  s.heartbeat_count = e.heartbeat_count;
  s.last_heartbeat = e.last_ok;
  if (e.phase == Phase::kHeld) s.lease_deadline = e.lease_deadline;
  return s;
}

std::optional<CapabilityStatus> HeartbeatEngine::Impl::GetStatus(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return Snapshot(*slots_[it->second]);
}

std::vector<CapabilityStatus> HeartbeatEngine::Impl::AllStatuses() const {
  absl::MutexLock lock(&mu_);
  std::vector<CapabilityStatus> all;
  all.reserve(by_id_.size());
  for (const auto& slot : slots_) {
    if (slot) all.push_back(Snapshot(*slot));
  }
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a.identifier < b.identifier; });
  return all;
}

EngineGauges HeartbeatEngine::Impl::Gauges() const {
  absl::MutexLock lock(&mu_);
  EngineGauges g;
  g.capabilities = static_cast<int64_t>(by_id_.size());
  g.leases_held = held_;
  g.in_flight = in_flight_;
  g.waiting_for_slot = static_cast<int64_t>(urgent_.size() + normal_.size());
  g.lag = lag_;
  g.falling_behind = behind_;
  g.keepalives_congested = congested_;
  g.keepalive_latency = ka_latency_;
  g.keepalive_stream_up = stream_up_;
  return g;
}

}  // namespace hb::heartbeat
