// HealthBoard: the dashboard's picture of every health key under a prefix, as etcd holds it.
//
// Fed by a full read (Load: a Range's keys) and then by watch events (Apply), it keeps one
// row per capability: the fields of its health value (heartbeat/health_value.h), its lease,
// and the last `max_transitions` changes of its state. A deleted key (its lease expired or
// it was removed) stays as an expired row, with when and, from its last value, most likely
// why; a key written again is live again. A Load marks the live rows it does not contain as
// expired (they went while nobody watched). Keys that are not health keys are ignored; a
// value that does not parse is a row with status "unreadable".
//
// Every change stamps the row with the board's next sequence number, so that a publisher can
// ask for the rows changed since the sequence it last published (ChangedSince) and send each
// change once however often it happened in between.
//
// Bounds: at most `max_transitions` per row; at most `max_expired` expired rows (beyond them
// the longest expired is forgotten). Live rows are as many as etcd holds.
//
// Only the fields listed in CapabilityRow are kept from a value: nothing else of it (nor
// anything about the etcd connection) reaches the page.
//
// Thread-safety: every method is thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "etcd/etcd_client.h"

namespace hb::dashboard {

// A change of a row's state ("healthy", "unhealthy", "pending", "unreadable", "expired"...).
struct Transition {
  std::string state;
  absl::Time at;
};

struct CapabilityRow {
  std::string identifier;
  std::string status;  // the value's status, "unreadable"; kept as it was once expired
  bool expired = false;
  absl::Time gone_at = absl::InfinitePast();  // expired: when the dashboard saw the DELETE
  std::string gone_reason;  // "lease expired", "removed" or "deleted" (cannot tell which)

  // From the last value (zero or empty when unreadable).
  std::string check;
  std::string reason;
  bool flapping = false;
  absl::Time timestamp = absl::InfinitePast();  // of the last heartbeat
  uint64_t heartbeat_count = 0;
  int64_t ttl_seconds = 0;
  double interval_seconds = 0;
  std::string mode;
  std::string writer;

  int64_t lease = 0;  // the key's lease (0: none)
  int64_t mod_revision = 0;
  std::deque<Transition> transitions;  // oldest first
  uint64_t seq = 0;                    // the board sequence of its last change

  // "expired" when expired, else the status.
  const std::string& state() const;
};

struct BoardSummary {
  int64_t total = 0;
  int64_t healthy = 0;
  int64_t unhealthy = 0;
  int64_t pending = 0;  // any other live state: pending, unreadable, ...
  int64_t expired = 0;
};

struct BoardLimits {
  size_t max_transitions = 10;
  size_t max_expired = 10000;
};

class HealthBoard {
 public:
  explicit HealthBoard(std::string prefix, BoardLimits limits = {});

  // A full read of the prefix at `revision`.
  void Load(const std::vector<etcd::KeyValue>& kvs, int64_t revision, absl::Time now);
  // Events of one watch batch, in order.
  void Apply(const std::vector<etcd::WatchEvent>& events, absl::Time now);

  // The rows changed after sequence `after`, by identifier; `*seq` gets the board's sequence
  // they bring a reader up to.
  std::vector<CapabilityRow> ChangedSince(uint64_t after, uint64_t* seq) const;
  std::vector<CapabilityRow> Rows(uint64_t* seq) const { return ChangedSince(0, seq); }
  BoardSummary Summary() const;
  // The etcd revision the board reflects (the last Load or event).
  int64_t revision() const;
  const std::string& prefix() const { return prefix_; }

 private:
  void PutLocked(const etcd::KeyValue& kv, absl::Time now, bool loading)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireLocked(CapabilityRow& row, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordLocked(CapabilityRow& row, absl::Time at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictExpiredLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const std::string prefix_;
  const BoardLimits limits_;

  mutable absl::Mutex mu_;
  std::map<std::string, CapabilityRow> rows_ ABSL_GUARDED_BY(mu_);
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  size_t expired_ ABSL_GUARDED_BY(mu_) = 0;
};

// Why a key holding `row`'s last value was deleted at `now`: a value older than its TTL had
// "lease expired"; a fresher one was "removed"; on-change values cannot tell ("deleted").
std::string GoneReason(const CapabilityRow& row, absl::Time now);

}  // namespace hb::dashboard
