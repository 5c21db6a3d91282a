// HeartbeatEngine::Impl: issuing etcd calls and taking their answers.
#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "heartbeat/engine_impl.h"
#include "heartbeat/health_key.h"
#include "heartbeat/health_value.h"

namespace hb::heartbeat {

using State = LeaseTrack::State;

namespace {

constexpr int64_t kScanPageSize = 1000;

bool IsBackPressure(const absl::Status& status) {
  return status.code() == absl::StatusCode::kResourceExhausted && !etcd::IsNoSpace(status);
}

constexpr char kNoSpace[] =
    "etcd is out of space (NOSPACE alarm): the health value cannot be written (the lease is "
    "still renewed); compact and defragment etcd, then disarm the alarm";

}  // namespace

void HeartbeatEngine::Impl::Apply(Effects& fx) {
  std::vector<Action*> puts;
  for (Action& a : fx.actions) {
    switch (a.kind) {
      case Action::Kind::kGrant: {
        absl::Time sent = clock_.Now();
        etcd_.LeaseGrant(a.ttl, [this, slot = a.slot, inc = a.incarnation, sent,
                                 ttl = a.ttl](absl::StatusOr<etcd::GrantedLease> result) {
          OnGrant(slot, inc, sent, ttl, std::move(result));
        });
        break;
      }
      case Action::Kind::kPut:
        puts.push_back(&a);
        break;
      case Action::Kind::kKeepAlive:
        stats_.keepalives_sent.fetch_add(1, std::memory_order_relaxed);
        etcd_.KeepAlive(a.lease);
        break;
      case Action::Kind::kRevoke:
        etcd_.LeaseRevoke(a.lease,
                          [this, lease = a.lease, removal = a.removal](absl::Status status) {
                            OnRevoke(lease, removal, std::move(status));
                          });
        break;
      case Action::Kind::kDelete:
        etcd_.DeleteRange(
            etcd::RangeRequest{a.key, "", 0, false},
            [this, key = a.key, removal = a.removal](absl::StatusOr<etcd::DeleteResult> result) {
              OnDelete(key, removal, result.status());
            });
        break;
      case Action::Kind::kScan: {
        etcd::RangeRequest request = etcd::RangeRequest::Prefix(options_.key_prefix, kScanPageSize);
        if (!a.key.empty()) request.key = std::move(a.key);
        etcd_.Range(std::move(request), [this](absl::StatusOr<etcd::RangeResult> result) {
          OnScan(std::move(result));
        });
        break;
      }
    }
  }
  if (!puts.empty()) IssuePuts(puts);
  if (fx.wake && wake_) wake_();
  for (const auto& changed : changed_) {
    for (const std::string& id : fx.changed) changed(id);
  }
  for (auto& [done, status] : fx.removed) {
    if (done) done(status);
  }
}

void HeartbeatEngine::Impl::OnGrant(uint32_t slot, uint64_t incarnation, absl::Time sent,
                                    int64_t requested_ttl,
                                    absl::StatusOr<etcd::GrantedLease> result) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_.Now();
    ReleaseSlot(fx);
    Entry* e = Find(slot, incarnation);
    if (result.ok()) {
      stats_.leases_granted.fetch_add(1, std::memory_order_relaxed);
      stats_.grant_latency.Record(now - sent);
    } else if (!IsBackPressure(result.status())) {
      stats_.grant_failures.fetch_add(1, std::memory_order_relaxed);
    }
    if (e == nullptr) {
      // Granted for a capability since removed.
      if (result.ok()) QueueRevoke(result->id);
    } else if (e->withdrawn) {
      // Deregistered while the grant was in flight.
      e->lease.grant = Request::kIdle;
      if (result.ok()) QueueRevoke(result->id);
    } else if (!result.ok()) {
      GrantFailed(*e, result.status(), now, fx);
    } else {
      GrantSucceeded(*e, *result, sent, requested_ttl, now, fx);
    }
    fx.wake = fx.wake || announced_ == absl::InfinitePast();
  }
  Apply(fx);
}

void HeartbeatEngine::Impl::GrantFailed(Entry& e, const absl::Status& status, absl::Time now,
                                        Effects& fx) {
  e.lease.grant = Request::kIdle;
  absl::Duration delay = BackoffDelay(options_.retry, e.lease.grant_failures++, jitter_);
  e.lease.retry_at = now + std::min(delay, KeepAlivePeriod(e));
  if (!IsBackPressure(status)) {
    if (e.lease.grant_failures == 1) {  // first failure of a series
      LogLimited(LogLevel::kWarning, "Lease grant failed; retrying",
                 {{"id", e.spec.identifier}, {"error", status.message()}});
    }
    if (e.lease.state == State::kGranting && e.health == Health::kLeaseLost) {
      SetHealth(e, Health::kLeaseLost,
                absl::StrCat("lease lost and re-grant failing: ", status.message()), fx);
    } else if (e.lease.state == State::kGranting) {
      SetHealth(e, Health::kFailing, absl::StrCat("cannot grant a lease: ", status.message()), fx);
    }
    if (e.role == Role::kShared && e.lease.state == State::kGranting) {
      for (uint32_t slot : e.members) {  // its keys wait for it: say why
        Entry& m = *slots_[slot];
        if (m.lease.Holding() || m.withdrawn) continue;
        SetHealth(m, m.health == Health::kLeaseLost ? Health::kLeaseLost : Health::kFailing,
                  absl::StrCat(m.health == Health::kLeaseLost ? "lease lost and re-grant failing: "
                                                              : "cannot grant a lease: ",
                               status.message()),
                  fx);
      }
    }
  }
  Schedule(e, NextDue(e));
}

void HeartbeatEngine::Impl::GrantSucceeded(Entry& e, const etcd::GrantedLease& granted,
                                           absl::Time sent, int64_t requested_ttl, absl::Time now,
                                           Effects& fx) {
  e.lease.grant = Request::kIdle;
  e.lease.grant_failures = 0;
  bool first = !e.phases_placed;
  if (e.lease.Holding()) {  // TTL change: the key moves to the new lease with the next put
    if (e.lease.stale != 0) QueueRevoke(e.lease.stale);
    e.lease.stale = e.lease.id;
    by_lease_.erase(e.lease.id);
  }
  SetLeaseState(e, State::kHeld);
  e.lease.id = granted.id;
  e.lease.granted_ttl = granted.ttl;
  by_lease_[granted.id] = e.slot;
  e.lease.deadline = sent + absl::Seconds(granted.ttl);
  e.lease.keepalive_sent = absl::InfinitePast();
  if (first) PlacePhases(e, now);
  e.put.owed = true;
  e.put.owed_not_before = absl::InfinitePast();
  if (requested_ttl != e.spec.ttl_seconds) {  // the TTL changed again while this was granted
    SetLeaseState(e, State::kRegranting);
    e.lease.retry_at = absl::InfinitePast();
  }
  LogLimited(LogLevel::kInfo, first ? "Created lease" : "Re-granted lease",
             {{"id", e.spec.identifier}, {"lease", LeaseIdHex(granted.id)}, {"ttl", granted.ttl}});
  if (e.role == Role::kShared) SharedLeaseHeld(e, now, fx);
  Schedule(e, now);
}

void HeartbeatEngine::Impl::IssuePuts(std::vector<Action*>& puts) {
  absl::Time sent = clock_.Now();
  size_t batch = static_cast<size_t>(std::max(1, options_.max_batch));
  for (size_t first = 0; first < puts.size(); first += batch) {
    size_t last = std::min(puts.size(), first + batch);
    std::vector<PutMeta> metas;
    std::vector<etcd::PutRequest> requests;
    for (size_t i = first; i < last; ++i) {
      Action& a = *puts[i];
      metas.push_back(PutMeta{a.slot, a.incarnation, a.lease, a.count, sent});
      requests.push_back(etcd::PutRequest{std::move(a.key), std::move(a.value), a.lease});
    }
    if (requests.size() == 1) {
      etcd_.Put(std::move(requests[0]),
                [this, metas = std::move(metas)](absl::StatusOr<etcd::PutResult> result) {
                  OnPuts(metas, result.status());
                });
      continue;
    }
    etcd_.PutBatch(std::move(requests),
                   [this, metas = std::move(metas)](absl::StatusOr<etcd::PutResult> result) {
                     if (result.status().code() == absl::StatusCode::kNotFound) {
                       PutAlone(metas, result.status());
                     } else {
                       OnPuts(metas, result.status());
                     }
                   });
  }
}

void HeartbeatEngine::Impl::PutAlone(const std::vector<PutMeta>& metas,
                                     const absl::Status& refused) {
  // Rendered again rather than kept from the transaction: no copy of every batch for a case
  // this rare. A capability removed or on another lease since gets the refusal itself.
  std::vector<std::pair<PutMeta, etcd::PutRequest>> again;
  std::vector<PutMeta> answered;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time wall_now = clock_.WallNow();
    for (const PutMeta& meta : metas) {
      Entry* e = Find(meta.slot, meta.incarnation);
      if (e == nullptr || e->lease.id != meta.lease) {
        answered.push_back(meta);
        continue;
      }
      again.emplace_back(
          meta, etcd::PutRequest{e->key, RenderValue(*e, wall_now, meta.count), meta.lease});
    }
  }
  if (!answered.empty()) OnPuts(answered, refused);
  for (auto& [meta, request] : again) {
    etcd_.Put(std::move(request), [this, meta = meta](absl::StatusOr<etcd::PutResult> single) {
      OnPuts({meta}, single.status());
    });
  }
}

void HeartbeatEngine::Impl::OnPuts(const std::vector<PutMeta>& puts, const absl::Status& status) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_.Now();
    for (const PutMeta& put : puts) HandlePut(put, status, now, fx);
    fx.wake = fx.wake || announced_ == absl::InfinitePast();
  }
  Apply(fx);
}

void HeartbeatEngine::Impl::HandlePut(const PutMeta& put, const absl::Status& status,
                                      absl::Time now, Effects& fx) {
  ReleaseSlot(fx);
  bool no_space = etcd::IsNoSpace(status);
  if (status.ok()) {
    stats_.beats_ok.fetch_add(1, std::memory_order_relaxed);
    stats_.put_latency.Record(now - put.sent);
  } else if (no_space) {
    stats_.beats_no_space.fetch_add(1, std::memory_order_relaxed);
  } else if (IsBackPressure(status)) {
    stats_.beats_throttled.fetch_add(1, std::memory_order_relaxed);
  } else {
    stats_.beats_failed.fetch_add(1, std::memory_order_relaxed);
  }
  if (no_space && !no_space_) {
    LogError(kNoSpace, {{"error", status.message()}});
  } else if (status.ok() && no_space_) {
    LogInfo("etcd accepts writes again (NOSPACE alarm cleared)");
  }
  if (no_space || status.ok()) no_space_ = no_space;
  if (!after_put_.empty()) TakeAfterPut(put.slot, put.incarnation, fx);
  Entry* e = Find(put.slot, put.incarnation);
  if (e == nullptr) return;
  if (e->put.request == Request::kInFlight) e->put.request = Request::kIdle;
  if (put.lease != e->lease.id) {
    // An answer about a lease this capability no longer holds; the re-put follows.
  } else if (status.ok()) {
    e->heartbeat_count = put.count;
    e->last_ok = fx.WallNow(clock_);
    e->put.failures = 0;
    e->put.retries = 0;
    if (e->health != Health::kHealthy && e->health != Health::kPending) {
      LogLimited(LogLevel::kInfo, "Heartbeat restored", {{"id", e->spec.identifier}});
    }
    SetHealth(*e, Health::kHealthy, "", fx);
    if (e->previous) DropPrevious(*e);  // the key is on its new shared lease now
    if (e->lease.stale != 0) {
      QueueRevoke(e->lease.stale);
      e->lease.stale = 0;
    }
    if (DebugLogging()) {
      LogDebug("Heartbeat sent", {{"id", e->spec.identifier}, {"count", put.count}});
    }
  } else if (status.code() == absl::StatusCode::kNotFound && e->role == Role::kMember) {
    Entry* lease = Resolve(e->shared);
    std::string why = absl::StrCat("put refused: ", status.message());
    if (lease != nullptr && lease->lease.Holding() && lease->lease.id == put.lease) {
      LoseLease(*lease, why, now, fx);  // all its keys go to its successor
      Schedule(*lease, NextDue(*lease));
    } else {  // it was still on its previous lease, which is gone: on to the current one
      e->lease.id = 0;
      SetLeaseState(*e, State::kGranting);
      e->put.owed = true;
      e->put.owed_not_before = absl::InfinitePast();
      SetHealth(*e, Health::kLeaseLost, why, fx);
      DropPrevious(*e);
      e->lease.retry_at = now;  // EvaluateMember holds the current lease once it is held
    }
  } else if (status.code() == absl::StatusCode::kNotFound) {
    LoseLease(*e, absl::StrCat("put refused: ", status.message()), now, fx);
  } else {
    e->put.owed = true;
    absl::Duration delay = BackoffDelay(options_.retry, e->put.retries++, jitter_);
    e->put.owed_not_before = now + std::min(delay, e->spec.interval);
    if (!IsBackPressure(status)) {
      ++e->put.failures;
      LogDebug("Heartbeat failed", {{"id", e->spec.identifier}, {"error", status.message()}});
      if (e->put.failures >= 2 && e->health == Health::kHealthy) {
        LogLimited(LogLevel::kWarning, "Heartbeats failing",
                   {{"id", e->spec.identifier}, {"error", status.message()}});
      }
      if (no_space && e->health != Health::kLeaseLost) {
        SetHealth(*e, Health::kFailing, kNoSpace, fx);  // at once: waiting does not help
      } else if (e->put.failures >= 2 && e->health != Health::kLeaseLost) {
        SetHealth(*e, Health::kFailing, absl::StrCat("heartbeat put failed: ", status.message()),
                  fx);
      }
    }
  }
  MaybeFinishHandOver(*e, fx);
  // Usually the next beat, seconds away: the driver need not wake for it.
  Schedule(*e, NextDue(*e));
}

void HeartbeatEngine::Impl::OnRevoke(int64_t lease, uint64_t removal, absl::Status status) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    ReleaseSlot(fx);
    bool gone = status.ok() || status.code() == absl::StatusCode::kNotFound;
    if (gone) {
      stats_.leases_revoked.fetch_add(1, std::memory_order_relaxed);
    } else {
      LogLimited(LogLevel::kWarning, "Lease revoke failed; its key expires with the lease",
                 {{"lease", LeaseIdHex(lease)}, {"error", status.message()}});
    }
    if (removal != 0) {
      SettleRemoval(
          removal,
          gone ? absl::OkStatus()
               : absl::UnavailableError(absl::StrCat("cannot revoke lease ", LeaseIdHex(lease),
                                                     " in etcd: ", status.message())),
          fx);
    }
  }
  Apply(fx);
}

void HeartbeatEngine::Impl::OnDelete(const std::string& key, uint64_t removal,
                                     absl::Status status) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    ReleaseSlot(fx);
    if (!status.ok()) {
      LogLimited(LogLevel::kWarning, "Cannot delete a health key; retrying",
                 {{"key", key}, {"error", status.message()}});
      status = absl::UnavailableError(
          absl::StrCat("cannot delete ", key, " from etcd: ", status.message()));
    }
    SettleRemoval(removal, status, fx);
  }
  Apply(fx);
}

void HeartbeatEngine::Impl::OnScan(absl::StatusOr<etcd::RangeResult> result) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_.Now();
    if (result.ok()) {
      HandleScanPage(*result);
    } else if (result.status().code() == absl::StatusCode::kPermissionDenied) {
      LogWarning("cannot read existing health keys; leases will not be adopted",
                 {{"prefix", options_.key_prefix}, {"error", result.status().message()}});
      adoptable_.clear();
      scan_ = ScanState::kDone;
    } else {
      if (!scan_warned_ && scan_backoff_.failures() >= 1) {  // quiet about one fail-over
        LogWarning("cannot read existing health keys yet; retrying",
                   {{"prefix", options_.key_prefix}, {"error", result.status().message()}});
        scan_warned_ = true;
      }
      scan_ = ScanState::kWaiting;
      scan_retry_at_ = now + scan_backoff_.Next(jitter_);
    }
    if (scan_ == ScanState::kDone) {
      for (auto& slot : slots_) {
        if (slot && slot->lease.state == State::kGranting) Schedule(*slot, now);
      }
    }
    fx.wake = true;
  }
  Apply(fx);
}

void HeartbeatEngine::Impl::HandleScanPage(const etcd::RangeResult& page) {
  for (const etcd::KeyValue& kv : page.kvs) {
    std::optional<std::string> id = ParseHealthKey(options_.key_prefix, kv.key);
    if (kv.lease == 0 || !id) continue;
    auto value = ParseHealthValue(kv.value);
    adoptable_[*id] = Adoptable{kv.lease, value.ok() ? value->heartbeat_count : 0};
    if (value.ok()) NoteCheckSeed(*id, *value);
  }
  if (page.more && !page.kvs.empty()) {
    scan_from_ = page.kvs.back().key + std::string(1, '\0');
    scan_ = ScanState::kWaiting;
    scan_retry_at_ = absl::InfinitePast();
    return;
  }
  scan_ = ScanState::kDone;
  scan_backoff_.Reset();
  LogInfo("Scanned existing health keys", {{"prefix", options_.key_prefix},
                                           {"adoptable", static_cast<int64_t>(adoptable_.size())}});
}

void HeartbeatEngine::Impl::OnKeepAliveResponse(int64_t lease_id, int64_t ttl) {
  stats_.keepalives_answered.fetch_add(1, std::memory_order_relaxed);
  {
    absl::MutexLock lock(&inbox_mu_);
    inbox_.push_back(KeepAliveAnswer{lease_id, ttl, clock_.Now()});
  }
  // A lease that is gone is re-granted at once; renewals wait for the next batch.
  if (ttl <= 0 && wake_) wake_();
}

void HeartbeatEngine::Impl::ApplyKeepAlive(const KeepAliveAnswer& answer, Effects& fx) {
  auto it = by_lease_.find(answer.lease);
  if (it == by_lease_.end()) return;
  Entry& e = *slots_[it->second];
  absl::Time now = answer.received;
  bool awaited = e.lease.AwaitingKeepAlive();
  if (awaited) stats_.keepalive_latency.Record(now - e.lease.keepalive_sent);
  absl::Time basis = awaited ? e.lease.keepalive_sent : now;
  e.lease.keepalive_sent = absl::InfinitePast();
  if (e.lease.state == State::kProbing && e.rechecking) {
    e.rechecking = false;
    if (answer.ttl > 0) {
      SetLeaseState(e, State::kHeld);
      e.lease.deadline = basis + absl::Seconds(answer.ttl);
      e.lease.next_keepalive = now + jitter_.UpTo(KeepAlivePeriod(e));
      LogLimited(LogLevel::kInfo, "Lease kept: etcd still has it",
                 {{"id", e.spec.identifier}, {"lease", LeaseIdHex(answer.lease)}});
      // Healthy again with the next put (owed since the deadline passed).
      if (e.role == Role::kShared) SharedLeaseHeld(e, now, fx);
    } else {
      LoseLease(e, "etcd no longer has the lease (checked after it was unreachable)", now, fx);
    }
    Schedule(e, NextDue(e));
  } else if (e.lease.state == State::kProbing) {
    if (answer.ttl > 0) {
      SetLeaseState(e, State::kHeld);
      e.lease.granted_ttl = answer.ttl;
      e.lease.deadline = basis + absl::Seconds(answer.ttl);
      PlacePhases(e, now);
      if (e.role == Role::kShared && answer.ttl != e.spec.ttl_seconds) {
        // Not the TTL it was filed under: renewed at its own, kept until its keys moved.
        auto indexed = shared_.find({e.spec.ttl_seconds, e.shared_index});
        if (indexed != shared_.end() && indexed->second == e.slot) shared_.erase(indexed);
        e.shared_index = -1;
        e.spec.ttl_seconds = answer.ttl;
        e.spec.interval = absl::Seconds(answer.ttl) / 3;
      } else if (answer.ttl != e.spec.ttl_seconds) {  // adopted with another TTL: a new lease
        SetLeaseState(e, State::kRegranting);
        e.lease.retry_at = absl::InfinitePast();
      }
      // The key still carries the former writer's value and time: this process's at once.
      e.put.owed = true;
      stats_.leases_adopted.fetch_add(1, std::memory_order_relaxed);
      LogLimited(
          LogLevel::kInfo, "Adopted live lease",
          {{"id", e.spec.identifier}, {"lease", LeaseIdHex(answer.lease)}, {"ttl", answer.ttl}});
      SetHealth(e, Health::kHealthy, "", fx);
      if (e.role == Role::kShared) SharedLeaseHeld(e, now, fx);
    } else {
      by_lease_.erase(it);
      e.lease.id = 0;
      SetLeaseState(e, State::kGranting);
      e.lease.retry_at = now;
    }
    Schedule(e, NextDue(e));
  } else if (answer.ttl <= 0) {
    LoseLease(e, "keep-alive answered TTL 0: etcd no longer has the lease", now, fx);
    Schedule(e, NextDue(e));
  } else {
    e.lease.deadline = basis + absl::Seconds(answer.ttl);
  }
}

void HeartbeatEngine::Impl::OnKeepAliveStreamState(bool up, const absl::Status& why) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    stream_up_ = up;
    ka_fifo_.clear();  // what was sent on the broken stream is no measure of etcd's speed
    if (!up) {
      LogWarning("keep-alive stream to etcd broke; renewals resume when it is back",
                 {{"error", why.message()}});
      return;
    }
    bool first = !stream_was_up_;
    stream_was_up_ = true;
    if (!first) LogInfo("keep-alive stream to etcd restored; renewing every lease");
    absl::Time now = clock_.Now();
    for (auto& slot : slots_) {
      if (!slot || slot->role == Role::kMember || slot->lease.state == State::kGranting) continue;
      Entry& e = *slot;
      // Keep-alives sent before died with the old stream: only answers to new ones count.
      if (!first) e.lease.keepalive_sent = absl::InfinitePast();
      if (e.lease.state == State::kProbing && (!first || e.rechecking)) {
        // Probes sent while etcd was away (also before the first stream) were dropped;
        // adoption probes sent before the first stream wait in its queue.
        e.lease.keepalive_sent = absl::InfinitePast();
        NoteKeepAliveSent(e, now);
        e.lease.probe_deadline = now + options_.keepalive_timeout;
        fx.actions.push_back(Action{Action::Kind::kKeepAlive, e.slot, e.incarnation, e.lease.id});
        Schedule(e, NextDue(e));
        continue;
      }
      if (first) continue;
      // Soon, so that leases lost while etcd was away (wiped) are found and re-granted
      // within a fraction of an interval, but spread so that etcd is not hit at once.
      absl::Time soon =
          now + jitter_.UpTo(std::min(KeepAlivePeriod(e) / 4, absl::Milliseconds(500)));
      e.lease.next_keepalive = std::min(e.lease.next_keepalive, soon);
      Schedule(e, e.lease.next_keepalive);
    }
    fx.wake = announced_ == absl::InfinitePast();
  }
  Apply(fx);
}

}  // namespace hb::heartbeat
