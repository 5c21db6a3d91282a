// HeartbeatEngine::Impl: shared leases (LeaseMode::kShared, all under mu_).
//
// A shared lease is an entry of its own (Role::kShared): its lease track grants, renews,
// probes and loses the lease exactly as a capability's would, and it has no key. Its
// members (Role::kMember) keep only a put track: they hold the shared lease while it is
// held and owe a put on its successor when it is lost, so a lost lease brings back every
// key it carried in one burst of batched transactions.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "heartbeat/engine_impl.h"

namespace hb::heartbeat {

using State = LeaseTrack::State;

namespace {

// FNV-1a, 64 bits: the same in every process and build, so that a restarted process puts
// each key on the lease it was on (absl::Hash is seeded per process).
uint64_t StableHash(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

int HeartbeatEngine::Impl::SharedIndex(const std::string& identifier) const {
  return static_cast<int>(StableHash(identifier) %
                          static_cast<uint64_t>(std::max(1, options_.shared_leases)));
}

Entry& HeartbeatEngine::Impl::NewSharedLease(int64_t ttl, int index, absl::Time now) {
  uint32_t slot = AllocateSlot();
  auto entry = std::make_unique<Entry>();
  entry->slot = slot;
  entry->incarnation = next_incarnation_++;
  entry->role = Role::kShared;
  entry->shared_index = index;
  entry->spec.identifier =
      absl::StrCat("shared-lease/ttl=", ttl, "/", index >= 0 ? absl::StrCat(index) : "adopted");
  entry->spec.ttl_seconds = ttl;
  entry->spec.interval = absl::Seconds(ttl) / 3;
  Entry& e = *entry;
  slots_[slot] = std::move(entry);
  if (index >= 0) shared_[{ttl, index}] = slot;
  Schedule(e, now);
  return e;
}

Entry& HeartbeatEngine::Impl::SharedLeaseFor(int64_t ttl, int index, absl::Time now) {
  auto it = shared_.find({ttl, index});
  if (it != shared_.end()) return *slots_[it->second];
  return NewSharedLease(ttl, index, now);
}

void HeartbeatEngine::Impl::JoinSharedLease(Entry& m, absl::Time now, Effects& fx) {
  const int64_t ttl = m.spec.ttl_seconds;
  const int index = SharedIndex(m.spec.identifier);
  auto candidate = adoptable_.find(m.spec.identifier);
  if (candidate != adoptable_.end()) {
    Adoptable found = candidate->second;
    adoptable_.erase(candidate);
    m.heartbeat_count = found.count;
    m.found_lease = found.lease;
    auto known = by_lease_.find(found.lease);
    if (known != by_lease_.end() && slots_[known->second]->role == Role::kShared) {
      Attach(m, *slots_[known->second], now, fx);
      return;
    }
    if (known == by_lease_.end()) {
      // The first key found on this lease: probe it. It takes this key's place in the layout
      // when that place is free; else it is kept only until its keys have moved.
      Entry& lease = NewSharedLease(ttl, shared_.contains({ttl, index}) ? -1 : index, now);
      SetLeaseState(lease, State::kProbing);
      lease.lease.id = found.lease;
      by_lease_[found.lease] = lease.slot;
      lease.lease.probe_deadline = now + options_.keepalive_timeout;
      NoteKeepAliveSent(lease, now);
      fx.actions.push_back(
          Action{Action::Kind::kKeepAlive, lease.slot, lease.incarnation, found.lease});
      Attach(m, lease, now, fx);
      return;
    }
  }
  Attach(m, SharedLeaseFor(ttl, index, now), now, fx);
}

void HeartbeatEngine::Impl::Attach(Entry& m, Entry& lease, absl::Time now, Effects& fx) {
  m.shared = EntryRef{lease.slot, lease.incarnation};
  lease.members.insert(m.slot);
  m.lease.retry_at = absl::InfiniteFuture();  // a member never grants: its lease does
  if (lease.lease.Holding()) SyncMember(m, lease, now, fx);
}

void HeartbeatEngine::Impl::Detach(Entry& m) {
  if (Entry* lease = Resolve(m.shared)) lease->members.erase(m.slot);
  m.shared = EntryRef{};
}

void HeartbeatEngine::Impl::Move(Entry& m, absl::Time now, Effects& fx) {
  Entry* current = Resolve(m.shared);
  Entry& target = SharedLeaseFor(m.spec.ttl_seconds, SharedIndex(m.spec.identifier), now);
  if (current == &target) return;
  if (current != nullptr && !m.previous && m.lease.Holding() && m.lease.id == current->lease.id) {
    m.previous = m.shared;  // the key stays on it until a put on the target succeeds
    ++current->previous_refs;
  }
  Detach(m);
  Attach(m, target, now, fx);
  if (current != nullptr) MaybeRetire(*current);
}

void HeartbeatEngine::Impl::DropPrevious(Entry& m) {
  Entry* previous = Resolve(m.previous);
  m.previous = EntryRef{};
  if (previous == nullptr) return;
  --previous->previous_refs;
  MaybeRetire(*previous);
}

bool HeartbeatEngine::Impl::Retirable(const Entry& lease) const {
  return !shutting_down_ && lease.shared_index < 0 && lease.members.empty() &&
         lease.previous_refs == 0;
}

void HeartbeatEngine::Impl::MaybeRetire(Entry& lease) {
  if (Retirable(lease)) Schedule(lease, clock_.Now());  // Evaluate() retires it
}

void HeartbeatEngine::Impl::Retire(Entry& lease, Effects& fx) {
  LogInfo("Retiring a shared lease whose keys have moved",
          {{"lease", LeaseIdHex(lease.lease.id)}, {"ttl", lease.spec.ttl_seconds}});
  EraseEntry(lease, /*revoke=*/true, 0, fx);
}

void HeartbeatEngine::Impl::SyncMember(Entry& m, Entry& lease, absl::Time now, Effects& fx) {
  if (m.withdrawn || (m.lease.Holding() && m.lease.id == lease.lease.id)) return;
  const bool key_on_it = m.found_lease != 0 && m.found_lease == lease.lease.id;
  m.found_lease = 0;
  m.lease.id = lease.lease.id;
  m.lease.granted_ttl = lease.lease.granted_ttl;
  SetLeaseState(m, State::kHeld);
  m.lease.deadline = absl::InfiniteFuture();  // the shared lease keeps these
  m.lease.next_keepalive = absl::InfiniteFuture();
  m.lease.retry_at = absl::InfiniteFuture();
  if (!m.phases_placed) {
    m.put.next_routine = now + jitter_.UpTo(PutPeriod(m));
    m.phases_placed = true;
  }
  if (key_on_it) {  // adopted: as a lease of its own found alive, rewritten at once
    m.put.owed = true;
    SetHealth(m, Health::kHealthy, "", fx);
  } else {
    m.put.owed = true;
    m.put.owed_not_before = absl::InfinitePast();
  }
  Schedule(m, now);
}

void HeartbeatEngine::Impl::SharedLeaseHeld(Entry& lease, absl::Time now, Effects& fx) {
  std::vector<uint32_t> members(lease.members.begin(), lease.members.end());
  for (uint32_t slot : members) {
    Entry& m = *slots_[slot];
    SyncMember(m, lease, now, fx);
    // Found on a lease outside the layout, or with another TTL: move it where it belongs.
    if (lease.shared_index < 0 || m.spec.ttl_seconds != lease.spec.ttl_seconds) Move(m, now, fx);
  }
}

void HeartbeatEngine::Impl::SharedLeaseLost(Entry& lease, int64_t lost, const std::string& why,
                                            Effects& fx) {
  LogLimited(LogLevel::kWarning, "Shared lease lost; its keys are re-put on its successor",
             {{"lease", LeaseIdHex(lost)},
              {"ttl", lease.spec.ttl_seconds},
              {"keys", static_cast<int64_t>(lease.members.size())},
              {"reason", why}});
  for (uint32_t slot : lease.members) {
    Entry& m = *slots_[slot];
    if (!m.lease.Holding() || m.lease.id != lost) continue;  // moving in, still on its previous
    m.lease.id = 0;
    SetLeaseState(m, State::kGranting);
    m.lease.retry_at = absl::InfiniteFuture();
    m.put.owed = true;
    m.put.owed_not_before = absl::InfinitePast();
    if (m.put.request == Request::kQueued) m.put.request = Request::kIdle;  // item goes stale
    SetHealth(m, Health::kLeaseLost, why, fx);
    Schedule(m, NextDue(m));
  }
}

void HeartbeatEngine::Impl::DeleteMemberKey(Entry& m, uint64_t removal) {
  if (removal == 0) QueueDelete(m.key, 0);  // Remove() queued its own with `removal`
  if (m.put.request != Request::kInFlight) return;
  after_put_[{m.slot, m.incarnation}] = AfterPut{m.spec.identifier, m.key, removal};
  if (removal != 0) ++removals_[removal].outstanding;
}

void HeartbeatEngine::Impl::TakeAfterPut(uint32_t slot, uint64_t incarnation, Effects& fx) {
  auto it = after_put_.find({slot, incarnation});
  if (it == after_put_.end()) return;
  AfterPut after = std::move(it->second);
  after_put_.erase(it);
  auto again = by_id_.find(after.identifier);
  if (again != by_id_.end() && !slots_[again->second]->withdrawn) {
    // Declared again (or registered again) since: its own puts follow; the key must stay.
    if (after.removal != 0) SettleRemoval(after.removal, absl::OkStatus(), fx);
    return;
  }
  Action del{Action::Kind::kDelete};
  del.key = std::move(after.key);
  del.removal = after.removal;  // counted when the deletion was deferred
  cleanups_.push_back(std::move(del));
  fx.wake = true;
}

}  // namespace hb::heartbeat
