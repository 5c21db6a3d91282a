// Internal state of HeartbeatEngine (see engine.h for the contract).
//
// Layout: entries live in slots (a slot index plus an incarnation number identifies an
// entry in callbacks, so an answer for a removed capability is recognised and ignored).
// Each entry is two state machines, its lease track and its put track (engine_tracks.h),
// and has at most one live item in a min-heap keyed by the earlier of the tracks' due
// times. Grants and puts need one of `max_in_flight` slots; when none is free they wait in
// FIFO queues (urgent: grants and re-puts; normal: routine beats). Revokes and key
// deletions wait in a cleanup queue under the same cap. All of it is guarded by `mu_`;
// etcd calls are collected as Actions under the lock and issued after releasing it.
//
// Files: engine.cc (public operations, scheduling, slots and queues), engine_eval.cc (what
// each track needs now), engine_events.cc (issuing calls and taking answers),
// engine_shared.cc (shared leases and their members), engine_load.cc (lag and keep-alive
// congestion).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/log_limiter.h"
#include "heartbeat/engine.h"
#include "heartbeat/engine_tracks.h"
#include "heartbeat/health_value.h"

namespace hb::heartbeat {

// What an entry is: a capability with a lease of its own (LeaseMode::kPerCapability); a
// capability whose key is on a shared lease (kMember: its lease track only mirrors the
// shared lease's, it never grants or renews); or a shared lease (kShared: a lease track and
// no key, not listed among the capabilities).
enum class Role { kOwn, kMember, kShared };

// A reference to another entry that stays valid when that entry's slot is reused.
struct EntryRef {
  uint32_t slot = 0;
  uint64_t incarnation = 0;  // 0: none
  explicit operator bool() const { return incarnation != 0; }
};

struct Entry {
  uint32_t slot = 0;
  uint64_t incarnation = 0;
  Role role = Role::kOwn;
  // kMember: the shared lease it belongs to, and the one its key may still be on after a
  // move (TTL change, a lease adopted from another layout) until a put on the new one
  // succeeds. kShared: how many members have it as `previous`, its TTL and its index among
  // the leases of that TTL (-1: adopted outside the layout; retired once it has no member).
  EntryRef shared;
  EntryRef previous;
  int64_t found_lease = 0;  // kMember: the lease its key was found on at start (adoption)
  absl::flat_hash_set<uint32_t> members;  // kShared: slots of its members
  int64_t previous_refs = 0;
  int shared_index = -1;
  CapabilitySpec spec;
  std::string key;
  LeaseTrack lease;
  PutTrack put;
  Health health = Health::kPending;
  std::string message;
  bool phases_placed = false;  // beat and keep-alive phases spread (after the first lease)
  // kProbing the lease it held, whose deadline passed while etcd was unreachable (not an
  // adoption): etcd may still have it (it extends leases when it restarts).
  bool rechecking = false;
  uint64_t heartbeat_count = 0;
  std::optional<absl::Time> last_ok;          // wall time of the last successful put
  std::unique_ptr<check::CheckReport> check;  // the checker's last report (with a checker)
  bool withdrawn = false;  // deregistered by its check: no lease, no key until it passes
  // Removal::kHandOver: no more puts; the lease is renewed until `handed_over_until`, then
  // the entry is forgotten. `hand_over_done` waits for a put still in flight.
  bool handing_over = false;
  absl::Time handed_over_until = absl::InfiniteFuture();
  std::function<void(absl::Status)> hand_over_done;

  absl::Time due = absl::InfiniteFuture();  // of the live heap item
  uint32_t version = 0;                     // of the live heap item
};

class HeartbeatEngine::Impl final : public etcd::KeepAliveListener {
 public:
  Impl(etcd::EtcdClient& etcd, Clock& clock, EngineOptions options, EngineStats& stats);
  ~Impl() override;

  void SetWakeHook(std::function<void()> wake);
  void AddChangeHook(std::function<void(const std::string&)> changed);
  absl::Status Upsert(const CapabilitySpec& spec);
  void Remove(const std::string& identifier, Removal removal, RemovalDone done);
  absl::Time RunDue();
  absl::Duration ShortestInterval() const;
  void BeginShutdown(bool revoke);
  void RescanExistingKeys();
  bool Drained() const;
  std::optional<HeartbeatStatus> GetStatus(const std::string& identifier) const;
  std::vector<HeartbeatStatus> AllStatuses() const;
  EngineGauges Gauges() const;
  void SetCheck(const std::string& identifier, const check::CheckReport& report);
  std::optional<check::CheckSeed> CheckSeedFor(const std::string& identifier) const;

  // Keep-alive answers are only queued here (they arrive by the thousand per second on
  // the client's thread); RunDue() applies them in bulk.
  void OnKeepAliveResponse(int64_t lease_id, int64_t ttl) override;
  void OnKeepAliveStreamState(bool up, const absl::Status& why) override;

 private:
  enum class Track { kLease, kPut };
  struct Action {
    enum class Kind { kGrant, kPut, kKeepAlive, kRevoke, kDelete, kScan };
    explicit Action(Kind k, uint32_t s = 0, uint64_t inc = 0, int64_t l = 0)
        : kind(k), slot(s), incarnation(inc), lease(l) {}
    Kind kind;
    uint32_t slot = 0;
    uint64_t incarnation = 0;
    int64_t lease = 0;
    int64_t ttl = 0;
    uint64_t count = 0;
    uint64_t removal = 0;  // kRevoke, kDelete: the removal waiting for it (0: none)
    std::string key;
    std::string value;
  };
  struct Effects {
    std::vector<Action> actions;
    std::vector<std::string> changed;
    std::vector<std::pair<RemovalDone, absl::Status>> removed;  // completions to report
    bool wake = false;
    // Wall time for the values written in this batch, read once.
    absl::Time WallNow(const Clock& clock) {
      if (wall_now == absl::InfinitePast()) wall_now = clock.WallNow();
      return wall_now;
    }
    absl::Time wall_now = absl::InfinitePast();
  };
  struct HeapItem {
    absl::Time due;
    uint32_t slot;
    uint32_t version;
    bool operator>(const HeapItem& o) const { return due > o.due; }
  };
  struct QueueItem {
    uint32_t slot;
    uint64_t incarnation;
    Track track;
  };
  // A Remove(kDeleteKey) waiting for its revoke and deletion to be answered.
  struct PendingRemoval {
    int outstanding = 0;
    absl::Status status;
    RemovalDone done;
  };
  struct KeepAliveAnswer {
    int64_t lease;
    int64_t ttl;
    absl::Time received;
  };
  struct Adoptable {
    int64_t lease = 0;
    uint64_t count = 0;
  };
  enum class ScanState { kWaiting, kInFlight, kDone };

  // --- under mu_: engine.cc ---
  Entry* Find(uint32_t slot, uint64_t incarnation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetInterval(absl::Duration interval) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint32_t AllocateSlot() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Schedule(Entry& e, absl::Time when) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool TakeSlot(Entry& e, Track track, bool urgent, absl::Time scheduled)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReleaseSlot(Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DrainQueues(absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Revokes and key deletions wait in cleanups_ for an in-flight slot; `removal` names the
  // Remove() waiting for them (0: none).
  void QueueRevoke(int64_t lease, uint64_t removal = 0) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueDelete(std::string key, uint64_t removal) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueCleanup(Action cleanup) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A revoke or deletion of `removal` was answered.
  void SettleRemoval(uint64_t removal, const absl::Status& status, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseEntry(Entry& e, bool revoke, uint64_t removal, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Duration KeepAlivePeriod(const Entry& e) const;
  absl::Duration PutPeriod(const Entry& e) const;
  // An own lease renewed with each routine put (the periods match): see RenewWithPut().
  bool RenewsWithPut(const Entry& e) const;
  void PlacePhases(Entry& e, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetLeaseState(Entry& e, LeaseTrack::State state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // --- under mu_: engine_eval.cc ---
  // Runs every track of `e` that is due at `now`, then schedules its next due time.
  void Evaluate(Entry& e, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // kGranting: probe an adoptable lease or ask for a grant slot.
  void EvaluateGranting(Entry& e, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // kHeld, kRegranting: lease deadline, keep-alive, and the TTL change's grant. True when it
  // sent a keep-alive.
  bool EvaluateHeld(Entry& e, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends the keep-alive due now and schedules the next one a period (jittered) later.
  void SendKeepAlive(Entry& e, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removal::kHandOver (engine_handover.cc): stops the puts, keeps the lease renewed.
  void StartHandOver(Entry& e, absl::Time now, RemovalDone done, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A handed-over entry: keep-alives while the lease is held and the grace runs, then it is
  // forgotten (no revoke). Never grants, never puts.
  void EvaluateHandOver(Entry& e, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Upsert() of a handed-over entry: the capability is this process's again.
  void TakeBack(Entry& e, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reports a hand-over's completion once no put is in flight.
  void MaybeFinishHandOver(Entry& e, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends a grant when a slot is free (or queues for one).
  void StartGrant(Entry& e, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The put owed or due now, if a slot is free; true when it was the routine put.
  bool EvaluatePut(Entry& e, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A lease renewed as often as its key is written (TTL/3 equal to the put period, as with
  // the defaults: TTL 30 s, interval 10 s) renews with each routine put: one visit to the
  // entry per period instead of two, and the keep-alive leaves in the put's batch. The
  // renewal that first joins a put comes early (by at most three quarters of a period, once);
  // from then on the two keep one cadence. `renewed`: a keep-alive left in this evaluation.
  void RenewWithPut(Entry& e, bool renewed, absl::Time now, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // kMember: joins its shared lease, or holds it again once it is held.
  void EvaluateMember(Entry& e, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time NextDue(const Entry& e) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void SetHealth(Entry& e, Health health, std::string message, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LoseLease(Entry& e, absl::string_view why, absl::Time now, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The lease's deadline passed while the keep-alive stream was down: probe it once etcd
  // answers instead of replacing it, so that the key keeps its lease when etcd kept it.
  void RecheckLease(Entry& e, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NoteKeepAliveSent(Entry& e, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  HeartbeatStatus Snapshot(const Entry& e) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::string RenderValue(const Entry& e, absl::Time wall_now, uint64_t count) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Per-capability lines go through a limiter per message, so that a fleet-wide event logs
  // examples and a count instead of one line per capability.
  void LogLimited(LogLevel level, absl::string_view msg, std::initializer_list<LogField> fields)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // --- under mu_: engine_checks.cc ---
  // With a checker: a pending report of the spec's kind until the checker reports (also
  // after the kind changed), so that no value claims a verdict nobody reached.
  void ExpectCheck(Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deregistration: the key goes (its lease revoked) and no grant follows until Restore().
  void Withdraw(Entry& e, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Restore(Entry& e, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fills the check fields of a value from the entry's report (or the seed found at start).
  void RenderCheckFields(const Entry& e, HealthValue& value) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Records the check state of a key found by the adoption scan.
  void NoteCheckSeed(const std::string& id, const HealthValue& value)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // --- under mu_: engine_shared.cc (LeaseMode::kShared) ---
  bool SharedMode() const { return options_.lease_mode == LeaseMode::kShared; }
  Entry* Resolve(const EntryRef& ref) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return ref ? Find(ref.slot, ref.incarnation) : nullptr;
  }
  // A member without a shared lease yet: joins the lease its key was found on (adoption) or
  // the lease of its TTL and hash, created when missing.
  void JoinSharedLease(Entry& m, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The shared lease for (ttl, index), created (granting) when missing.
  Entry& SharedLeaseFor(int64_t ttl, int index, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Entry& NewSharedLease(int64_t ttl, int index, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int SharedIndex(const std::string& identifier) const;
  void Attach(Entry& m, Entry& lease, absl::Time now, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Detach(Entry& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves a member to the shared lease of its TTL and hash; its key stays on the current one
  // (kept as `previous`) until the first put on the new one succeeds.
  void Move(Entry& m, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The member's key is on the new lease: the previous one loses a reference.
  void DropPrevious(Entry& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Brings a member in line with its shared lease once that lease is held: the member
  // holds it too and owes a put (none when its key is on it already, found at start).
  void SyncMember(Entry& m, Entry& lease, absl::Time now, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SharedLeaseHeld(Entry& lease, absl::Time now, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The shared lease is lost (or being rechecked): its members stop writing and owe a put
  // on its successor.
  void SharedLeaseLost(Entry& lease, int64_t lost, const std::string& why, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A shared lease outside the layout without members or previous references is retired
  // (revoked, erased) by its next Evaluate(), never under a caller that still uses it.
  bool Retirable(const Entry& lease) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void MaybeRetire(Entry& lease) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Retire(Entry& lease, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes a member's key (removal, deregistration), and again after a put still in flight
  // is answered, so that the put cannot bring the key back on the shared lease.
  void DeleteMemberKey(Entry& m, uint64_t removal) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A put of (slot, incarnation) was answered: the deletion deferred for it is queued.
  void TakeAfterPut(uint32_t slot, uint64_t incarnation, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // --- under mu_: engine_load.cc ---
  void TrackLag(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Routine puts pause while the oldest unanswered keep-alive is older than
  // options_.keepalive_congestion of its TTL (see engine.h).
  void TrackCongestion(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // --- without mu_: engine_events.cc ---
  void Apply(Effects& fx);
  void OnGrant(uint32_t slot, uint64_t incarnation, absl::Time sent, int64_t requested_ttl,
               absl::StatusOr<etcd::GrantedLease> result);
  void GrantFailed(Entry& e, const absl::Status& status, absl::Time now, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void GrantSucceeded(Entry& e, const etcd::GrantedLease& granted, absl::Time sent,
                      int64_t requested_ttl, absl::Time now, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  struct PutMeta {
    uint32_t slot;
    uint64_t incarnation;
    int64_t lease;
    uint64_t count;
    absl::Time sent;
  };
  // Issues the puts among `actions`, up to `max_batch` per etcd transaction.
  void IssuePuts(std::vector<Action*>& puts);
  void OnPuts(const std::vector<PutMeta>& puts, const absl::Status& status);
  // One unknown lease failed a transaction as a whole (`refused`): each of its puts goes
  // again alone, so that only the capabilities whose lease is gone re-grant.
  void PutAlone(const std::vector<PutMeta>& metas, const absl::Status& refused)
      ABSL_LOCKS_EXCLUDED(mu_);
  void HandlePut(const PutMeta& put, const absl::Status& status, absl::Time now, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnRevoke(int64_t lease, uint64_t removal, absl::Status status);
  void OnDelete(const std::string& key, uint64_t removal, absl::Status status);
  void OnScan(absl::StatusOr<etcd::RangeResult> result);
  void HandleScanPage(const etcd::RangeResult& page) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyKeepAlive(const KeepAliveAnswer& answer, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  etcd::EtcdClient& etcd_;
  Clock& clock_;
  const EngineOptions options_;
  EngineStats& stats_;
  Jitter jitter_;

  mutable absl::Mutex mu_;
  // Hooks are set before the first Upsert() and never changed, so read without mu_.
  std::function<void()> wake_;
  std::vector<std::function<void(const std::string&)>> changed_;  // set before use
  std::vector<std::unique_ptr<Entry>> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> free_slots_ ABSL_GUARDED_BY(mu_);
  uint64_t next_incarnation_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<std::string, uint32_t> by_id_ ABSL_GUARDED_BY(mu_);
  // How many capabilities have each interval (ShortestInterval()).
  absl::btree_map<absl::Duration, int64_t> intervals_ ABSL_GUARDED_BY(mu_);
  // About as many actions as the last RunDue()s had (decays by an eighth per call).
  size_t actions_hint_ ABSL_GUARDED_BY(mu_) = 0;
  // RenderValue()'s scratch value (every field is set before each use).
  mutable HealthValue scratch_value_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int64_t, uint32_t> by_lease_ ABSL_GUARDED_BY(mu_);
  std::priority_queue<HeapItem, std::vector<HeapItem>, std::greater<HeapItem>> heap_
      ABSL_GUARDED_BY(mu_);
  absl::Time announced_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // last RunDue answer
  std::deque<QueueItem> urgent_ ABSL_GUARDED_BY(mu_);
  std::deque<QueueItem> normal_ ABSL_GUARDED_BY(mu_);
  std::deque<Action> cleanups_ ABSL_GUARDED_BY(mu_);  // kRevoke and kDelete
  absl::flat_hash_map<uint64_t, PendingRemoval> removals_ ABSL_GUARDED_BY(mu_);
  // kShared: (ttl, index) -> the shared lease's slot.
  absl::flat_hash_map<std::pair<int64_t, int>, uint32_t> shared_ ABSL_GUARDED_BY(mu_);
  // kShared: deletions to send again once the removed member's put in flight is answered,
  // by (slot, incarnation) of the removed entry.
  struct AfterPut {
    std::string identifier;
    std::string key;
    uint64_t removal = 0;
  };
  absl::flat_hash_map<std::pair<uint32_t, uint64_t>, AfterPut> after_put_ ABSL_GUARDED_BY(mu_);
  uint64_t next_removal_ ABSL_GUARDED_BY(mu_) = 1;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool reserved_ ABSL_GUARDED_BY(mu_) = false;  // a dequeued entry may take a slot
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;

  ScanState scan_ ABSL_GUARDED_BY(mu_) = ScanState::kWaiting;
  std::string scan_from_ ABSL_GUARDED_BY(mu_);
  absl::Time scan_retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  Backoff scan_backoff_ ABSL_GUARDED_BY(mu_);
  bool scan_warned_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, Adoptable> adoptable_ ABSL_GUARDED_BY(mu_);
  // Check states found in existing keys, until the capability's first check result.
  absl::flat_hash_map<std::string, check::CheckSeed> seeds_ ABSL_GUARDED_BY(mu_);

  absl::Mutex inbox_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::vector<KeepAliveAnswer> inbox_ ABSL_GUARDED_BY(inbox_mu_);
  int64_t held_ ABSL_GUARDED_BY(mu_) = 0;       // leases held (kOwn and kShared entries)
  int64_t held_keys_ ABSL_GUARDED_BY(mu_) = 0;  // capabilities holding one (kOwn, kMember)
  int64_t probing_ ABSL_GUARDED_BY(mu_) = 0;    // entries probing a lease found (kProbing)

  bool stream_up_ ABSL_GUARDED_BY(mu_) = false;
  bool stream_was_up_ ABSL_GUARDED_BY(mu_) = false;
  bool behind_ ABSL_GUARDED_BY(mu_) = false;
  bool no_space_ ABSL_GUARDED_BY(mu_) = false;  // the last put answer was NOSPACE
  bool congested_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration ka_latency_ ABSL_GUARDED_BY(mu_);  // age of the oldest unanswered keep-alive
  // Keep-alives awaiting an answer, oldest first (stale items are skipped when read).
  struct SentKeepAlive {
    absl::Time sent;
    uint32_t slot;
    uint64_t incarnation;
  };
  std::deque<SentKeepAlive> ka_fifo_ ABSL_GUARDED_BY(mu_);
  absl::Duration lag_ ABSL_GUARDED_BY(mu_);
  // One limiter per message, so a flood of one kind never hides another.
  absl::flat_hash_map<std::string, LogLimiter> limiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb::heartbeat
