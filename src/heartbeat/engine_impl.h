// Internal state of HeartbeatEngine (see engine.h for the contract).
//
// Layout: entries live in slots (a slot index plus an incarnation number identifies an
// entry in callbacks, so an answer for a removed capability is recognised and ignored).
// Each entry has at most one live item in a min-heap keyed by its next due time. Entries
// that need a put/grant slot while `max_in_flight` are busy wait in FIFO queues (urgent:
// grants and re-puts; normal: routine beats). All of it is guarded by `mu_`; etcd calls
// are collected as Actions under the lock and issued after releasing it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/log_limiter.h"
#include "heartbeat/engine.h"

namespace hb::heartbeat {

enum class Phase {
  kPending,  // needs a lease (grant or adoption probe)
  kProbing,  // adoption: a keep-alive was sent for a lease found in etcd
  kHeld,     // holds a lease
};

struct Entry {
  uint32_t slot = 0;
  uint64_t incarnation = 0;
  CapabilitySpec spec;
  std::string key;
  Phase phase = Phase::kPending;
  Health health = Health::kPending;
  std::string message;

  int64_t lease_id = 0;
  int64_t lease_ttl = 0;
  int64_t stale_lease = 0;  // previous lease after a TTL change; revoked after the next put
  absl::Time lease_deadline = absl::InfinitePast();
  bool regrant = false;  // TTL changed: grant a new lease while keeping the current one
  bool grant_in_flight = false;
  absl::Time retry_at = absl::InfinitePast();  // no grant before this
  absl::Time probe_deadline = absl::InfiniteFuture();
  bool phases_set = false;  // beat and keep-alive phases placed

  absl::Time next_keepalive = absl::InfiniteFuture();
  absl::Time ka_sent_at = absl::InfinitePast();  // oldest unanswered keep-alive
  bool ka_awaiting = false;

  absl::Time next_put = absl::InfiniteFuture();  // next routine beat / refresh
  bool put_now = false;                          // an extra put is owed (first, re-put, change)
  absl::Time put_not_before = absl::InfinitePast();
  bool put_in_flight = false;
  int put_failures = 0;  // consecutive

  bool waiting = false;  // queued for an in-flight slot
  absl::Time waiting_since_schedule;

  uint64_t heartbeat_count = 0;
  std::optional<absl::Time> last_ok;
  Backoff backoff;

  absl::Time due = absl::InfiniteFuture();
  uint32_t version = 0;
};

class HeartbeatEngine::Impl final : public etcd::KeepAliveListener {
 public:
  Impl(etcd::EtcdClient& etcd, Clock& clock, EngineOptions options, EngineStats& stats);
  ~Impl() override;

  void SetWakeHook(std::function<void()> wake);
  void SetChangeHook(std::function<void(const std::string&)> changed);
  absl::Status Upsert(const CapabilitySpec& spec);
  void Remove(const std::string& identifier, bool revoke);
  absl::Time RunDue();
  void BeginShutdown(bool revoke);
  void RescanExistingKeys();
  bool Drained() const;
  std::optional<CapabilityStatus> GetStatus(const std::string& identifier) const;
  std::vector<CapabilityStatus> AllStatuses() const;
  EngineGauges Gauges() const;

  // Keep-alive answers are only queued here (they arrive by the thousand per second on
  // the client's thread); RunDue() applies them in bulk.
  void OnKeepAliveResponse(int64_t lease_id, int64_t ttl) override;
  void OnKeepAliveStreamState(bool up, const absl::Status& why) override;

 private:
  struct Action {
    enum class Kind { kGrant, kPut, kKeepAlive, kRevoke, kScan };
    explicit Action(Kind k, uint32_t s = 0, uint64_t inc = 0, int64_t l = 0)
        : kind(k), slot(s), incarnation(inc), lease(l) {}
    Kind kind;
    uint32_t slot = 0;
    uint64_t incarnation = 0;
    int64_t lease = 0;
    int64_t ttl = 0;
    uint64_t count = 0;
    std::string key;
    std::string value;
  };
  struct Effects {
    std::vector<Action> actions;
    std::vector<std::string> changed;
    bool wake = false;
  };
  struct HeapItem {
    absl::Time due;
    uint32_t slot;
    uint32_t version;
    bool operator>(const HeapItem& o) const { return due > o.due; }
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

  // --- under mu_ (engine.cc) ---
  Entry* Find(uint32_t slot, uint64_t incarnation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Schedule(Entry& e, absl::Time when) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Evaluate(Entry& e, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvaluateLease(Entry& e, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvaluatePut(Entry& e, absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time NextDue(const Entry& e) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool TakeSlot(Entry& e, bool urgent, absl::Time scheduled) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReleaseSlot(Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DrainQueues(absl::Time now, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueRevoke(int64_t lease) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetHealth(Entry& e, Health health, std::string message, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LoseLease(Entry& e, absl::string_view why, absl::Time now, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PlacePhases(Entry& e, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetPhase(Entry& e, Phase phase) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TrackLag(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Routine puts pause while the oldest unanswered keep-alive is older than
  // options_.keepalive_congestion of its TTL (see engine.h).
  void TrackCongestion(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NoteKeepAliveSent(Entry& e, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseEntry(Entry& e, bool revoke, Effects& fx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Duration KeepAlivePeriod(const Entry& e) const;
  CapabilityStatus Snapshot(const Entry& e) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::string RenderValue(const Entry& e, absl::Time now, uint64_t count) const;
  // Per-capability lines go through a limiter per message, so that a fleet-wide event logs
  // examples and a count instead of one line per capability.
  void LogLimited(LogLevel level, absl::string_view msg, std::initializer_list<LogField> fields)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // --- without mu_ (engine_events.cc) ---
  void Apply(Effects& fx);
  void OnGrant(uint32_t slot, uint64_t incarnation, absl::Time sent,
               absl::StatusOr<etcd::GrantedLease> result);
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
  void HandlePut(const PutMeta& put, const absl::Status& status, absl::Time now, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnRevoke(int64_t lease, absl::Status status);
  void OnScan(absl::StatusOr<etcd::RangeResult> result);
  void HandleScanPage(const etcd::RangeResult& page, Effects& fx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
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
  std::function<void(const std::string&)> changed_;
  std::vector<std::unique_ptr<Entry>> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> free_slots_ ABSL_GUARDED_BY(mu_);
  uint64_t next_incarnation_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<std::string, uint32_t> by_id_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int64_t, uint32_t> by_lease_ ABSL_GUARDED_BY(mu_);
  std::priority_queue<HeapItem, std::vector<HeapItem>, std::greater<HeapItem>> heap_
      ABSL_GUARDED_BY(mu_);
  absl::Time announced_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // last RunDue answer
  std::deque<std::pair<uint32_t, uint64_t>> urgent_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<uint32_t, uint64_t>> normal_ ABSL_GUARDED_BY(mu_);
  std::deque<int64_t> revokes_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool reserved_ ABSL_GUARDED_BY(mu_) = false;  // a dequeued entry may take a slot
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;

  ScanState scan_ ABSL_GUARDED_BY(mu_) = ScanState::kWaiting;
  std::string scan_from_ ABSL_GUARDED_BY(mu_);
  absl::Time scan_retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  Backoff scan_backoff_ ABSL_GUARDED_BY(mu_);
  bool scan_warned_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, Adoptable> adoptable_ ABSL_GUARDED_BY(mu_);

  absl::Mutex inbox_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::vector<KeepAliveAnswer> inbox_ ABSL_GUARDED_BY(inbox_mu_);
  int64_t held_ ABSL_GUARDED_BY(mu_) = 0;  // entries in Phase::kHeld

  bool stream_up_ ABSL_GUARDED_BY(mu_) = false;
  bool stream_was_up_ ABSL_GUARDED_BY(mu_) = false;
  bool behind_ ABSL_GUARDED_BY(mu_) = false;
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
