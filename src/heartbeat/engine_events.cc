// HeartbeatEngine::Impl: issuing etcd calls and taking their answers.
#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "heartbeat/engine_impl.h"
#include "heartbeat/health_value.h"

namespace hb::heartbeat {
namespace {

constexpr int64_t kScanPageSize = 1000;

bool IsBackPressure(const absl::Status& status) {
  return status.code() == absl::StatusCode::kResourceExhausted;
}

}  // namespace

void HeartbeatEngine::Impl::Apply(Effects& fx) {
  std::vector<Action*> puts;
  for (Action& a : fx.actions) {
    switch (a.kind) {
      case Action::Kind::kGrant: {
        absl::Time sent = clock_.Now();
        etcd_.LeaseGrant(a.ttl, [this, slot = a.slot, inc = a.incarnation,
                                 sent](absl::StatusOr<etcd::GrantedLease> result) {
          OnGrant(slot, inc, sent, std::move(result));
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
        etcd_.LeaseRevoke(a.lease, [this, lease = a.lease](absl::Status status) {
          OnRevoke(lease, std::move(status));
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
  if (changed_) {
    for (const std::string& id : fx.changed) changed_(id);
  }
}

void HeartbeatEngine::Impl::OnGrant(uint32_t slot, uint64_t incarnation, absl::Time sent,
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
      if (result.ok()) QueueRevoke(result->id);  // granted for a capability since removed
    } else if (!result.ok()) {
      e->grant_in_flight = false;
      e->retry_at = now + std::min(e->backoff.Next(jitter_), KeepAlivePeriod(*e));
      if (!IsBackPressure(result.status())) {
        if (e->backoff.failures() == 1) {  // first failure of a series
          LogLimited(LogLevel::kWarning, "Lease grant failed; retrying",
                     {{"id", e->spec.identifier}, {"error", result.status().message()}});
        }
        if (e->phase == Phase::kPending && e->health == Health::kLeaseLost) {
          SetHealth(*e, Health::kLeaseLost,
                    absl::StrCat("lease lost and re-grant failing: ", result.status().message()),
                    fx);
        } else if (e->phase == Phase::kPending) {
          SetHealth(*e, Health::kFailing,
                    absl::StrCat("cannot grant a lease: ", result.status().message()), fx);
        }
      }
      Schedule(*e, e->retry_at);
    } else {
      e->grant_in_flight = false;
      e->backoff.Reset();
      bool first = !e->phases_set;
      if (e->phase == Phase::kHeld) {  // TTL change: move the key to the new lease
        e->stale_lease = e->lease_id;
        by_lease_.erase(e->lease_id);
        e->regrant = false;
      }
      SetPhase(*e, Phase::kHeld);
      e->lease_id = result->id;
      e->lease_ttl = result->ttl;
      by_lease_[result->id] = e->slot;
      e->lease_deadline = sent + absl::Seconds(result->ttl);
      e->ka_awaiting = false;
      if (first) PlacePhases(*e, now);
      e->put_now = true;
      e->put_not_before = absl::InfinitePast();
      LogLimited(
          LogLevel::kInfo, first ? "Created lease" : "Re-granted lease",
          {{"id", e->spec.identifier}, {"lease", LeaseIdHex(result->id)}, {"ttl", result->ttl}});
      Schedule(*e, now);
    }
    fx.wake = fx.wake || announced_ == absl::InfinitePast();
  }
  Apply(fx);
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
    // One unknown lease fails the whole transaction: then each put goes alone, so
    // that only the capabilities whose lease is gone re-grant.
    auto retry = std::make_shared<std::vector<etcd::PutRequest>>(requests);
    etcd_.PutBatch(std::move(requests),
                   [this, metas = std::move(metas), retry](absl::StatusOr<etcd::PutResult> result) {
                     if (result.status().code() != absl::StatusCode::kNotFound) {
                       OnPuts(metas, result.status());
                       return;
                     }
                     for (size_t i = 0; i < metas.size(); ++i) {
                       etcd_.Put(std::move((*retry)[i]),
                                 [this, meta = metas[i]](absl::StatusOr<etcd::PutResult> single) {
                                   OnPuts({meta}, single.status());
                                 });
                     }
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
  if (status.ok()) {
    stats_.beats_ok.fetch_add(1, std::memory_order_relaxed);
    stats_.put_latency.Record(now - put.sent);
  } else if (IsBackPressure(status)) {
    stats_.beats_throttled.fetch_add(1, std::memory_order_relaxed);
  } else {
    stats_.beats_failed.fetch_add(1, std::memory_order_relaxed);
  }
  Entry* e = Find(put.slot, put.incarnation);
  if (e == nullptr) return;
  e->put_in_flight = false;
  if (put.lease != e->lease_id) {
    // An answer about a lease this capability no longer holds; the re-put follows.
  } else if (status.ok()) {
    e->heartbeat_count = put.count;
    e->last_ok = now;
    e->put_failures = 0;
    e->backoff.Reset();
    if (e->health != Health::kHealthy && e->health != Health::kPending) {
      LogLimited(LogLevel::kInfo, "Heartbeat restored", {{"id", e->spec.identifier}});
    }
    SetHealth(*e, Health::kHealthy, "", fx);
    if (e->stale_lease != 0) {
      QueueRevoke(e->stale_lease);
      e->stale_lease = 0;
    }
    LogDebug("Heartbeat sent", {{"id", e->spec.identifier}, {"count", put.count}});
  } else if (status.code() == absl::StatusCode::kNotFound) {
    LoseLease(*e, absl::StrCat("put refused: ", status.message()), now, fx);
  } else {
    e->put_now = true;
    e->put_not_before = now + std::min(e->backoff.Next(jitter_), e->spec.interval);
    if (!IsBackPressure(status)) {
      ++e->put_failures;
      LogDebug("Heartbeat failed", {{"id", e->spec.identifier}, {"error", status.message()}});
      if (e->put_failures >= 2 && e->health == Health::kHealthy) {
        LogLimited(LogLevel::kWarning, "Heartbeats failing",
                   {{"id", e->spec.identifier}, {"error", status.message()}});
      }
      if (e->put_failures >= 2 && e->health != Health::kLeaseLost) {
        SetHealth(*e, Health::kFailing, absl::StrCat("heartbeat put failed: ", status.message()),
                  fx);
      }
    }
  }
  // Usually the next beat, seconds away: the driver need not wake for it.
  Schedule(*e, NextDue(*e));
}

void HeartbeatEngine::Impl::OnRevoke(int64_t lease, absl::Status status) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    ReleaseSlot(fx);
    if (status.ok() || status.code() == absl::StatusCode::kNotFound) {
      stats_.leases_revoked.fetch_add(1, std::memory_order_relaxed);
    } else {
      LogLimited(LogLevel::kWarning, "Lease revoke failed; its key expires with the lease",
                 {{"lease", LeaseIdHex(lease)}, {"error", status.message()}});
    }
  }
  Apply(fx);
}

void HeartbeatEngine::Impl::OnScan(absl::StatusOr<etcd::RangeResult> result) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_.Now();
    if (result.ok()) {
      HandleScanPage(*result, fx);
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
        if (slot && slot->phase == Phase::kPending) Schedule(*slot, now);
      }
    }
    fx.wake = true;
  }
  Apply(fx);
}

void HeartbeatEngine::Impl::HandleScanPage(const etcd::RangeResult& page, Effects& /*fx*/) {
  for (const etcd::KeyValue& kv : page.kvs) {
    absl::string_view id = kv.key;
    if (kv.lease == 0 || !absl::ConsumePrefix(&id, options_.key_prefix) ||
        !absl::ConsumeSuffix(&id, "/health") || id.empty() ||
        id.find('/') != absl::string_view::npos) {
      continue;
    }
    auto value = ParseHealthValue(kv.value);
    adoptable_[std::string(id)] = Adoptable{kv.lease, value.ok() ? value->heartbeat_count : 0};
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
  if (e.ka_awaiting) stats_.keepalive_latency.Record(now - e.ka_sent_at);
  absl::Time basis = e.ka_awaiting ? e.ka_sent_at : now;
  e.ka_awaiting = false;
  if (e.phase == Phase::kProbing) {
    if (answer.ttl > 0) {
      SetPhase(e, Phase::kHeld);
      e.lease_ttl = answer.ttl;
      e.lease_deadline = basis + absl::Seconds(answer.ttl);
      PlacePhases(e, now);
      if (answer.ttl != e.spec.ttl_seconds) e.regrant = true;
      if (options_.mode == WriteMode::kOnChange) e.put_now = true;
      stats_.leases_adopted.fetch_add(1, std::memory_order_relaxed);
      LogLimited(
          LogLevel::kInfo, "Adopted live lease",
          {{"id", e.spec.identifier}, {"lease", LeaseIdHex(answer.lease)}, {"ttl", answer.ttl}});
      SetHealth(e, Health::kHealthy, "", fx);
    } else {
      by_lease_.erase(it);
      e.lease_id = 0;
      SetPhase(e, Phase::kPending);
      e.retry_at = now;
    }
    Schedule(e, NextDue(e));
  } else if (answer.ttl <= 0) {
    LoseLease(e, "keep-alive answered TTL 0: etcd no longer has the lease", now, fx);
    Schedule(e, e.retry_at);
  } else {
    e.lease_deadline = basis + absl::Seconds(answer.ttl);
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
    if (!stream_was_up_) {
      stream_was_up_ = true;
      return;
    }
    LogInfo("keep-alive stream to etcd restored; renewing every lease");
    absl::Time now = clock_.Now();
    for (auto& slot : slots_) {
      if (!slot || slot->phase == Phase::kPending) continue;
      Entry& e = *slot;
      if (e.phase == Phase::kProbing) {
        fx.actions.push_back(Action{Action::Kind::kKeepAlive, e.slot, e.incarnation, e.lease_id});
        continue;
      }
      // Soon, so that leases lost while etcd was away (wiped) are found and re-granted
      // within a fraction of an interval, but spread so that etcd is not hit at once.
      absl::Time soon =
          now + jitter_.UpTo(std::min(KeepAlivePeriod(e) / 4, absl::Milliseconds(500)));
      e.next_keepalive = std::min(e.next_keepalive, soon);
      Schedule(e, e.next_keepalive);
    }
    fx.wake = announced_ == absl::InfinitePast();
  }
  Apply(fx);
}

}  // namespace hb::heartbeat
