// HeartbeatEngine::Impl: what each track of a capability needs now (all under mu_).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "heartbeat/engine_impl.h"
#include "heartbeat/health_value.h"

namespace hb::heartbeat {

using State = LeaseTrack::State;

void HeartbeatEngine::Impl::Evaluate(Entry& e, absl::Time now, Effects& fx) {
  if (e.role == Role::kMember) {
    EvaluateMember(e, now, fx);
    EvaluatePut(e, now, fx);
    Schedule(e, NextDue(e));
    return;
  }
  if (e.handing_over) {
    EvaluateHandOver(e, now, fx);  // may erase: `e` may be gone
    return;
  }
  if (e.role == Role::kShared && Retirable(e)) {
    Retire(e, fx);  // erased: `e` is gone
    return;
  }
  bool renewed = false;  // a keep-alive sent in this evaluation
  switch (e.lease.state) {
    case State::kGranting:
      if (e.lease.grant == Request::kIdle && scan_ == ScanState::kDone && !e.withdrawn &&
          now >= e.lease.retry_at) {
        EvaluateGranting(e, now, fx);
      }
      break;
    case State::kProbing:
      if (now >= e.lease.probe_deadline && !stream_up_) {
        // etcd is still away: probe again (the first keep-alive also opens the stream);
        // the stream coming up sends one at once too. Only an answer to this one counts.
        e.lease.keepalive_sent = absl::InfinitePast();
        NoteKeepAliveSent(e, now);
        e.lease.probe_deadline = now + options_.keepalive_timeout;
        fx.actions.push_back(Action{Action::Kind::kKeepAlive, e.slot, e.incarnation, e.lease.id});
      } else if (now >= e.lease.probe_deadline) {
        if (e.rechecking) {
          stats_.leases_lost.fetch_add(1, std::memory_order_relaxed);
          e.rechecking = false;
        }
        LogDebug("no answer for the lease found in etcd; granting a new one",
                 {{"id", e.spec.identifier}, {"lease", LeaseIdHex(e.lease.id)}});
        by_lease_.erase(e.lease.id);
        e.lease.id = 0;
        e.lease.keepalive_sent = absl::InfinitePast();
        SetLeaseState(e, State::kGranting);
        e.lease.retry_at = now;
        EvaluateGranting(e, now, fx);
      }
      break;
    case State::kHeld:
    case State::kRegranting:
      renewed = EvaluateHeld(e, now, fx);
      break;
  }
  if (EvaluatePut(e, now, fx)) RenewWithPut(e, renewed, now, fx);
  Schedule(e, NextDue(e));
}

void HeartbeatEngine::Impl::EvaluateMember(Entry& e, absl::Time now, Effects& fx) {
  if (e.withdrawn || e.lease.Holding() || scan_ != ScanState::kDone || now < e.lease.retry_at) {
    return;
  }
  e.lease.retry_at = absl::InfiniteFuture();  // from now on its shared lease moves it
  if (Entry* lease = Resolve(e.shared)) {
    if (lease->lease.Holding()) SyncMember(e, *lease, now, fx);
  } else {
    JoinSharedLease(e, now, fx);
  }
}

void HeartbeatEngine::Impl::EvaluateGranting(Entry& e, absl::Time now, Effects& fx) {
  auto candidate = adoptable_.find(e.spec.identifier);
  if (candidate != adoptable_.end()) {
    Adoptable found = candidate->second;
    adoptable_.erase(candidate);
    if (!by_lease_.contains(found.lease)) {
      SetLeaseState(e, State::kProbing);
      e.lease.id = found.lease;
      e.heartbeat_count = found.count;
      by_lease_[found.lease] = e.slot;
      // Thousands adopted at once (a restart, a shard's share) queue their probes on the one
      // stream: a millisecond more per probe ahead of this one, so that an answer etcd is
      // merely slow to give is not taken for a lease it lacks (which it answers with TTL 0).
      e.lease.probe_deadline = now + options_.keepalive_timeout + absl::Milliseconds(probing_ - 1);
      NoteKeepAliveSent(e, now);
      fx.actions.push_back(Action{Action::Kind::kKeepAlive, e.slot, e.incarnation, found.lease});
      return;
    }
  }
  StartGrant(e, now, fx);
}

void HeartbeatEngine::Impl::StartGrant(Entry& e, absl::Time now, Effects& fx) {
  if (!TakeSlot(e, Track::kLease, /*urgent=*/true, now)) return;
  e.lease.grant = Request::kInFlight;
  Action grant{Action::Kind::kGrant, e.slot, e.incarnation};
  grant.ttl = e.spec.ttl_seconds;
  fx.actions.push_back(std::move(grant));
}

bool HeartbeatEngine::Impl::EvaluateHeld(Entry& e, absl::Time now, Effects& fx) {
  if (now >= e.lease.deadline && !stream_up_ && e.lease.state == State::kHeld) {
    RecheckLease(e, now, fx);
    return false;
  }
  if (now >= e.lease.deadline) {
    LoseLease(e, "no keep-alive answer before the lease deadline", now, fx);
    return false;
  }
  bool renewed = now >= e.lease.next_keepalive;
  if (renewed) SendKeepAlive(e, now, fx);
  if (e.lease.state == State::kRegranting && e.lease.grant == Request::kIdle &&
      now >= e.lease.retry_at) {
    StartGrant(e, now, fx);
  }
  return renewed;
}

void HeartbeatEngine::Impl::SendKeepAlive(Entry& e, absl::Time now, Effects& fx) {
  NoteKeepAliveSent(e, now);
  fx.actions.push_back(Action{Action::Kind::kKeepAlive, e.slot, e.incarnation, e.lease.id});
  absl::Duration period = KeepAlivePeriod(e);
  e.lease.next_keepalive += jitter_.Spread(period, options_.jitter);
  if (e.lease.next_keepalive <= now) {
    e.lease.next_keepalive = now + jitter_.Spread(period, options_.jitter);
  }
}

void HeartbeatEngine::Impl::RenewWithPut(Entry& e, bool renewed, absl::Time now, Effects& fx) {
  if (!RenewsWithPut(e) || !e.lease.Holding()) return;
  if (!renewed) {
    // Renewed less than a quarter period ago (the two drifted apart: a put that waited for a
    // slot, a new lease): not again so soon; they meet at a later put.
    if (e.lease.next_keepalive - now > KeepAlivePeriod(e) * 3 / 4) return;
    NoteKeepAliveSent(e, now);
    fx.actions.push_back(Action{Action::Kind::kKeepAlive, e.slot, e.incarnation, e.lease.id});
  }
  e.lease.next_keepalive = e.put.next_routine;
}

bool HeartbeatEngine::Impl::EvaluatePut(Entry& e, absl::Time now, Effects& fx) {
  if (e.role == Role::kShared || e.handing_over || !e.lease.Holding() ||
      e.put.request != Request::kIdle) {
    return false;
  }
  bool routine = now >= e.put.next_routine;
  bool extra = e.put.owed && now >= e.put.owed_not_before;
  if (!routine && !extra) return false;
  bool urgent = extra && e.health != Health::kHealthy;
  if (!TakeSlot(e, Track::kPut, urgent, routine ? e.put.next_routine : now)) return false;
  if (routine) {
    stats_.beat_lateness.Record(now - e.put.next_routine);
    absl::Duration period = PutPeriod(e);
    e.put.next_routine += jitter_.Spread(period, options_.jitter);
    if (e.put.next_routine <= now) {  // a whole period late: skip the missed beats
      stats_.beats_skipped.fetch_add(static_cast<uint64_t>((now - e.put.next_routine) / period) + 1,
                                     std::memory_order_relaxed);
      e.put.next_routine = now + jitter_.Spread(period, options_.jitter);
    }
  }
  e.put.owed = false;
  e.put.request = Request::kInFlight;
  Action put{Action::Kind::kPut, e.slot, e.incarnation, e.lease.id};
  put.count = e.heartbeat_count + 1;
  put.key = e.key;
  put.value = RenderValue(e, fx.WallNow(clock_), put.count);
  fx.actions.push_back(std::move(put));
  return routine;
}

absl::Time HeartbeatEngine::Impl::NextDue(const Entry& e) const {
  // No grant before the adoption scan is done (it may find this capability's lease).
  if (e.handing_over) {
    if (e.lease.state != State::kHeld) return absl::InfinitePast();  // to be forgotten
    return std::min({e.handed_over_until, e.lease.next_keepalive, e.lease.deadline});
  }
  bool scan_gated = e.lease.state == State::kGranting && (scan_ != ScanState::kDone || e.withdrawn);
  absl::Time next = scan_gated ? absl::InfiniteFuture() : e.lease.Due();
  if (e.lease.Holding() && e.role != Role::kShared) next = std::min(next, e.put.Due());
  return next;
}

void HeartbeatEngine::Impl::SetHealth(Entry& e, Health health, std::string message, Effects& fx) {
  if (e.health == health && e.message == message) return;
  e.health = health;
  e.message = std::move(message);
  if (e.role != Role::kShared) fx.changed.push_back(e.spec.identifier);  // not a capability
}

void HeartbeatEngine::Impl::LoseLease(Entry& e, absl::string_view why, absl::Time now,
                                      Effects& fx) {
  stats_.leases_lost.fetch_add(1, std::memory_order_relaxed);
  LogLimited(LogLevel::kWarning, "Lease lost; re-granting",
             {{"id", e.spec.identifier}, {"lease", LeaseIdHex(e.lease.id)}, {"reason", why}});
  const int64_t lost = e.lease.id;
  by_lease_.erase(e.lease.id);
  e.lease.id = 0;
  SetLeaseState(e, State::kGranting);  // a TTL change's grant in flight serves as the re-grant
  e.lease.keepalive_sent = absl::InfinitePast();
  e.lease.retry_at = now + jitter_.UpTo(std::min(KeepAlivePeriod(e) / 4, absl::Milliseconds(500)));
  e.put.owed = true;
  e.put.owed_not_before = absl::InfinitePast();
  if (e.put.request == Request::kQueued) e.put.request = Request::kIdle;  // its item goes stale
  SetHealth(e, Health::kLeaseLost, std::string(why), fx);
  if (e.role == Role::kShared) SharedLeaseLost(e, lost, std::string(why), fx);
}

void HeartbeatEngine::Impl::RecheckLease(Entry& e, absl::Time now, Effects& fx) {
  LogLimited(LogLevel::kWarning,
             "Lease deadline passed while etcd is unreachable; checking it when etcd answers",
             {{"id", e.spec.identifier}, {"lease", LeaseIdHex(e.lease.id)}});
  SetLeaseState(e, State::kProbing);
  e.rechecking = true;
  // Probe now (this also opens the stream if it never was), again every keep-alive timeout
  // while etcd stays away, and at once when the stream comes back.
  NoteKeepAliveSent(e, now);
  e.lease.probe_deadline = now + options_.keepalive_timeout;
  fx.actions.push_back(Action{Action::Kind::kKeepAlive, e.slot, e.incarnation, e.lease.id});
  if (e.put.request == Request::kQueued) e.put.request = Request::kIdle;  // its item goes stale
  e.put.owed = true;
  e.put.owed_not_before = absl::InfinitePast();
  const std::string why =
      "lease deadline passed while etcd was unreachable; checking whether etcd still has it";
  SetHealth(e, Health::kLeaseLost, why, fx);
  if (e.role == Role::kShared) SharedLeaseLost(e, e.lease.id, why, fx);
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

std::string HeartbeatEngine::Impl::RenderValue(const Entry& e, absl::Time wall_now,
                                               uint64_t count) const {
  // One value reused for every beat: assigning its strings keeps their capacity.
  HealthValue& value = scratch_value_;
  value.status = "healthy";
  value.timestamp = wall_now;
  value.identifier = e.spec.identifier;
  value.heartbeat_count = count;
  value.lease_id = e.lease.id;
  value.ttl_seconds = e.spec.ttl_seconds;
  value.interval = e.spec.interval;
  value.mode = WriteModeName(options_.mode);
  value.source = e.spec.source;
  value.writer = options_.writer;
  value.check.clear();
  value.reason.clear();
  value.since = absl::InfinitePast();
  value.consecutive_failures = 0;
  value.latency = -absl::InfiniteDuration();
  value.dependencies.clear();
  value.flapping = false;
  RenderCheckFields(e, value);
  std::string out;
  RenderHealthValue(value, out);
  return out;
}

HeartbeatStatus HeartbeatEngine::Impl::Snapshot(const Entry& e) const {
  HeartbeatStatus s;
  s.identifier = e.spec.identifier;
  s.key = e.key;
  s.source = e.spec.source;
  s.health = e.health;
  s.message = e.message;
  s.lease_id = e.lease.Holding() ? e.lease.id : 0;
  s.ttl_seconds = e.spec.ttl_seconds;
  s.interval = e.spec.interval;
  s.heartbeat_count = e.heartbeat_count;
  s.last_heartbeat = e.last_ok;
  if (e.role == Role::kMember && e.lease.Holding() && e.shared.slot < slots_.size()) {
    const Entry* lease = slots_[e.shared.slot].get();  // its shared lease keeps the deadline
    if (lease != nullptr && lease->incarnation == e.shared.incarnation && lease->lease.Holding()) {
      s.lease_deadline = lease->lease.deadline;
    }
  } else if (e.lease.Holding()) {
    s.lease_deadline = e.lease.deadline;
  }
  if (e.check) s.check = *e.check;
  return s;
}

std::optional<HeartbeatStatus> HeartbeatEngine::Impl::GetStatus(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(id);
  // A handed-over capability is its new owner's to report.
  if (it == by_id_.end() || slots_[it->second]->handing_over) return std::nullopt;
  return Snapshot(*slots_[it->second]);
}

std::vector<HeartbeatStatus> HeartbeatEngine::Impl::AllStatuses() const {
  absl::MutexLock lock(&mu_);
  std::vector<HeartbeatStatus> all;
  all.reserve(by_id_.size());
  for (const auto& slot : slots_) {
    if (slot && slot->role != Role::kShared && !slot->handing_over) all.push_back(Snapshot(*slot));
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
  g.keys_held = held_keys_;
  g.in_flight = in_flight_;
  g.waiting_for_slot = static_cast<int64_t>(urgent_.size() + normal_.size());
  g.lag = lag_;
  g.falling_behind = behind_;
  g.keepalives_congested = congested_;
  g.keepalive_latency = ka_latency_;
  g.keepalive_stream_up = stream_up_;
  g.etcd_no_space = no_space_;
  return g;
}

}  // namespace hb::heartbeat
