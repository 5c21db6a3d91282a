// HeartbeatEngine: the public operations, scheduling, in-flight slots and queues.
#include "heartbeat/engine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "check/checker.h"
#include "heartbeat/engine_impl.h"
#include "heartbeat/health_key.h"

namespace hb::heartbeat {

const char* WriteModeName(WriteMode mode) {
  return mode == WriteMode::kOnChange ? "on-change" : "every-beat";
}

const char* LeaseModeName(LeaseMode mode) {
  return mode == LeaseMode::kShared ? "shared" : "per-capability";
}

const char* HealthName(Health health) {
  switch (health) {
    case Health::kPending:
      return "Pending";
    case Health::kHealthy:
      return "Healthy";
    case Health::kFailing:
      return "Failing";
    case Health::kDeregistered:
      return "Deregistered";
    case Health::kLeaseLost:
      return "LeaseLost";
  }
  return "Pending";
}

// ---- HeartbeatEngine: forwarding ----

HeartbeatEngine::HeartbeatEngine(etcd::EtcdClient& etcd, Clock& clock, EngineOptions options)
    : checker_(options.checker),
      impl_(std::make_unique<Impl>(etcd, clock, std::move(options), stats_)) {
  if (checker_ != nullptr) {
    checker_->SetReportHook(
        [this](const std::string& id, const check::CheckReport& report) { SetCheck(id, report); });
    checker_->SetSeedHook([this](const std::string& id) { return CheckSeedFor(id); });
  }
}
HeartbeatEngine::~HeartbeatEngine() = default;
void HeartbeatEngine::SetWakeHook(std::function<void()> wake) {
  impl_->SetWakeHook(std::move(wake));
}
void HeartbeatEngine::AddChangeHook(std::function<void(const std::string&)> changed) {
  impl_->AddChangeHook(std::move(changed));
}
absl::Status HeartbeatEngine::Upsert(const CapabilitySpec& spec) {
  absl::Status status = impl_->Upsert(spec);
  if (status.ok() && checker_ != nullptr) {
    checker_->Upsert(spec.identifier, spec.check ? *spec.check : check::NoCheck(""));
  }
  return status;
}
void HeartbeatEngine::Remove(const std::string& id, Removal removal, RemovalDone done) {
  if (checker_ != nullptr) checker_->Remove(id);
  impl_->Remove(id, removal, std::move(done));
}
void HeartbeatEngine::SetCheck(const std::string& id, const check::CheckReport& report) {
  impl_->SetCheck(id, report);
}
std::optional<check::CheckSeed> HeartbeatEngine::CheckSeedFor(const std::string& id) const {
  return impl_->CheckSeedFor(id);
}
absl::Time HeartbeatEngine::RunDue() { return impl_->RunDue(); }
void HeartbeatEngine::BeginShutdown(bool revoke) { impl_->BeginShutdown(revoke); }
void HeartbeatEngine::RescanExistingKeys() { impl_->RescanExistingKeys(); }
absl::Duration HeartbeatEngine::ShortestInterval() const { return impl_->ShortestInterval(); }
bool HeartbeatEngine::Drained() const { return impl_->Drained(); }
std::optional<HeartbeatStatus> HeartbeatEngine::GetStatus(const std::string& id) const {
  return impl_->GetStatus(id);
}
std::vector<HeartbeatStatus> HeartbeatEngine::AllStatuses() const { return impl_->AllStatuses(); }
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

void HeartbeatEngine::Impl::AddChangeHook(std::function<void(const std::string&)> changed) {
  changed_.push_back(std::move(changed));
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
      uint32_t slot = AllocateSlot();
      auto entry = std::make_unique<Entry>();
      entry->slot = slot;
      entry->incarnation = next_incarnation_++;
      entry->role = SharedMode() ? Role::kMember : Role::kOwn;
      entry->spec = spec;
      ++intervals_[spec.interval];
      entry->key = HealthKey(options_.key_prefix, spec.identifier);
      Entry& e = *entry;
      slots_[slot] = std::move(entry);
      by_id_[spec.identifier] = slot;
      ExpectCheck(e);
      // A small spread of first grants; later beats get a random phase of their own.
      Schedule(e, now + jitter_.UpTo(std::min(spec.interval, absl::Seconds(1)) * 0.25));
      fx.changed.push_back(spec.identifier);
    } else {
      Entry& e = *slots_[it->second];
      if (e.handing_over) TakeBack(e, now, fx);
      CapabilitySpec old = e.spec;
      e.spec = spec;
      if (old.interval != spec.interval) {
        ForgetInterval(old.interval);
        ++intervals_[spec.interval];
      }
      ExpectCheck(e);
      if (old.ttl_seconds != spec.ttl_seconds && e.role == Role::kMember) {
        if (e.shared) Move(e, now, fx);  // to a lease of the new TTL; the key moves with a put
      } else if (old.ttl_seconds != spec.ttl_seconds && e.lease.state == LeaseTrack::State::kHeld) {
        SetLeaseState(e, LeaseTrack::State::kRegranting);  // a new lease; the key moves to it
        e.lease.retry_at = absl::InfinitePast();
      }
      if (old.interval != spec.interval) {
        e.put.next_routine = std::min(e.put.next_routine, now + spec.interval);
        if (e.role == Role::kOwn) {
          e.lease.next_keepalive = std::min(e.lease.next_keepalive, now + KeepAlivePeriod(e));
        }
      }
      if (options_.mode == WriteMode::kOnChange &&
          (old.interval != spec.interval || old.source != spec.source)) {
        e.put.owed = true;
      }
      Schedule(e, now);
    }
  }
  Apply(fx);
  return absl::OkStatus();
}

void HeartbeatEngine::Impl::Remove(const std::string& identifier, Removal removal,
                                   RemovalDone done) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(identifier);
    Entry* e = it == by_id_.end() ? nullptr : slots_[it->second].get();
    if (removal == Removal::kHandOver) {
      if (e == nullptr) {
        fx.removed.emplace_back(std::move(done), absl::OkStatus());
      } else if (e->role != Role::kOwn) {
        fx.removed.emplace_back(std::move(done), absl::FailedPreconditionError(
                                                     "a hand-over needs a lease per capability"));
      } else {
        StartHandOver(*e, clock_.Now(), std::move(done), fx);
      }
    } else if (removal == Removal::kLetExpire && (e == nullptr || e->role != Role::kMember)) {
      // (A shared lease stays renewed for the others: a member's key can only go by being
      // deleted, below.)
      if (e != nullptr) EraseEntry(*e, /*revoke=*/false, 0, fx);
      fx.removed.emplace_back(std::move(done), absl::OkStatus());
    } else if (shutting_down_) {
      fx.removed.emplace_back(std::move(done),
                              absl::UnavailableError("heartbeat engine is shutting down"));
    } else {
      uint64_t id = next_removal_++;
      removals_[id].done = std::move(done);
      // The key goes whatever lease it is on (a former leader's included); revoking the lease
      // then makes sure no put still in flight on it brings the key back.
      QueueDelete(HealthKey(options_.key_prefix, identifier), id);
      if (e != nullptr) EraseEntry(*e, /*revoke=*/true, id, fx);
      DrainQueues(clock_.Now(), fx);  // sent now when slots are free
    }
    fx.wake = true;
  }
  Apply(fx);
}

void HeartbeatEngine::Impl::EraseEntry(Entry& e, bool revoke, uint64_t removal, Effects& fx) {
  if (e.role == Role::kShared) {
    if (e.lease.id != 0) {
      by_lease_.erase(e.lease.id);
      if (revoke) QueueRevoke(e.lease.id, removal);  // its keys go with it
    }
    auto indexed = shared_.find({e.spec.ttl_seconds, e.shared_index});
    if (indexed != shared_.end() && indexed->second == e.slot) shared_.erase(indexed);
    SetLeaseState(e, LeaseTrack::State::kGranting);
    const uint32_t slot = e.slot;
    slots_[slot].reset();  // `e` is gone
    free_slots_.push_back(slot);
    return;
  }
  seeds_.erase(e.spec.identifier);
  if (e.hand_over_done) fx.removed.emplace_back(std::move(e.hand_over_done), absl::OkStatus());
  if (e.role == Role::kMember) {
    // The key was deleted by Remove(); once more after a put still in flight. At shutdown
    // the shared leases are revoked (or left to expire) instead.
    if (revoke && !shutting_down_) DeleteMemberKey(e, removal);
    Entry* current = Resolve(e.shared);
    Detach(e);
    DropPrevious(e);
    if (current != nullptr) MaybeRetire(*current);
    e.lease.id = 0;
  }
  if (e.lease.id != 0) {
    by_lease_.erase(e.lease.id);
    if (revoke) QueueRevoke(e.lease.id, removal);
  }
  if (e.lease.stale != 0) QueueRevoke(e.lease.stale);
  SetLeaseState(e, LeaseTrack::State::kGranting);
  fx.changed.push_back(e.spec.identifier);
  by_id_.erase(e.spec.identifier);
  ForgetInterval(e.spec.interval);
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
    for (auto& slot : slots_) {  // members before shared leases, which revoke their keys
      // A handed-over lease is its new owner's: never revoked here.
      if (slot && slot->role != Role::kShared)
        EraseEntry(*slot, revoke && !slot->handing_over, 0, fx);
    }
    for (auto& slot : slots_) {
      if (slot) EraseEntry(*slot, revoke, 0, fx);
    }
    fx.wake = true;
  }
  Apply(fx);
}

bool HeartbeatEngine::Impl::Drained() const {
  absl::MutexLock lock(&mu_);
  return shutting_down_ && in_flight_ == 0 && cleanups_.empty() && scan_ != ScanState::kInFlight;
}

absl::Duration HeartbeatEngine::Impl::ShortestInterval() const {
  absl::MutexLock lock(&mu_);
  return intervals_.empty() ? absl::InfiniteDuration() : intervals_.begin()->first;
}

void HeartbeatEngine::Impl::ForgetInterval(absl::Duration interval) {
  auto it = intervals_.find(interval);
  if (it != intervals_.end() && --it->second == 0) intervals_.erase(it);
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
    fx.actions.reserve(actions_hint_);  // a batch's actions without growing the vector
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
    actions_hint_ = std::max(fx.actions.size(), actions_hint_ - actions_hint_ / 8);
  }
  Apply(fx);
  return next;
}

// ---- Impl: scheduling (under mu_) ----

uint32_t HeartbeatEngine::Impl::AllocateSlot() {
  if (!free_slots_.empty()) {
    uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  slots_.emplace_back();
  return static_cast<uint32_t>(slots_.size() - 1);
}

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

absl::Duration HeartbeatEngine::Impl::PutPeriod(const Entry& e) const {
  return options_.mode == WriteMode::kEveryBeat ? e.spec.interval : options_.refresh;
}

bool HeartbeatEngine::Impl::RenewsWithPut(const Entry& e) const {
  return e.role == Role::kOwn && KeepAlivePeriod(e) == PutPeriod(e);
}

void HeartbeatEngine::Impl::PlacePhases(Entry& e, absl::Time now) {
  // Random phases within one period spread the fleet evenly over time.
  e.put.next_routine = now + jitter_.UpTo(PutPeriod(e));
  e.lease.next_keepalive =
      RenewsWithPut(e) ? e.put.next_routine : now + jitter_.UpTo(KeepAlivePeriod(e));
  e.phases_placed = true;
}

void HeartbeatEngine::Impl::SetLeaseState(Entry& e, LeaseTrack::State state) {
  const bool lease = e.role != Role::kMember;
  const bool key = e.role != Role::kShared;
  if (e.lease.Holding()) {
    held_ -= lease;
    held_keys_ -= key;
  }
  probing_ +=
      (state == LeaseTrack::State::kProbing) - (e.lease.state == LeaseTrack::State::kProbing);
  e.lease.state = state;
  if (e.lease.Holding()) {
    held_ += lease;
    held_keys_ += key;
  }
}

bool HeartbeatEngine::Impl::TakeSlot(Entry& e, Track track, bool urgent, absl::Time scheduled) {
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
  if (track == Track::kLease) {
    e.lease.grant = Request::kQueued;
    e.lease.queued_at = scheduled;
  } else {
    e.put.request = Request::kQueued;
    e.put.queued_at = scheduled;
  }
  (urgent ? urgent_ : normal_).push_back(QueueItem{e.slot, e.incarnation, track});
  return false;
}

void HeartbeatEngine::Impl::ReleaseSlot(Effects& fx) {
  --in_flight_;
  if (!urgent_.empty() || !normal_.empty() || !cleanups_.empty()) fx.wake = true;
  if (shutting_down_ && in_flight_ == 0) fx.wake = true;  // the driver waits for Drained()
}

void HeartbeatEngine::Impl::QueueRevoke(int64_t lease, uint64_t removal) {
  Action revoke{Action::Kind::kRevoke, 0, 0, lease};
  revoke.removal = removal;
  QueueCleanup(std::move(revoke));
}

void HeartbeatEngine::Impl::QueueDelete(std::string key, uint64_t removal) {
  Action del{Action::Kind::kDelete};
  del.key = std::move(key);
  del.removal = removal;
  QueueCleanup(std::move(del));
}

void HeartbeatEngine::Impl::QueueCleanup(Action cleanup) {
  if (cleanup.removal != 0) ++removals_[cleanup.removal].outstanding;
  cleanups_.push_back(std::move(cleanup));
}

void HeartbeatEngine::Impl::SettleRemoval(uint64_t removal, const absl::Status& status,
                                          Effects& fx) {
  auto it = removals_.find(removal);
  if (it == removals_.end()) return;
  PendingRemoval& r = it->second;
  if (!status.ok() && r.status.ok()) r.status = status;
  if (--r.outstanding > 0) return;
  fx.removed.emplace_back(std::move(r.done), r.status);
  removals_.erase(it);
}

void HeartbeatEngine::Impl::DrainQueues(absl::Time now, Effects& fx) {
  while (!cleanups_.empty() && in_flight_ < options_.max_in_flight) {
    ++in_flight_;
    fx.actions.push_back(std::move(cleanups_.front()));
    cleanups_.pop_front();
  }
  for (auto* queue : {&urgent_, &normal_}) {
    if (queue == &normal_ && congested_) break;
    while (!queue->empty() && in_flight_ < options_.max_in_flight) {
      QueueItem item = queue->front();
      queue->pop_front();
      Entry* e = Find(item.slot, item.incarnation);
      if (e == nullptr) continue;
      reserved_ = true;  // the next TakeSlot() gets a slot ahead of the queues
      if (item.track == Track::kLease && e->lease.grant == Request::kQueued) {
        e->lease.grant = Request::kIdle;
        StartGrant(*e, now, fx);
      } else if (item.track == Track::kPut && e->put.request == Request::kQueued) {
        e->put.request = Request::kIdle;
        EvaluatePut(*e, now, fx);
      }
      reserved_ = false;
      Schedule(*e, NextDue(*e));
    }
  }
}

}  // namespace hb::heartbeat
