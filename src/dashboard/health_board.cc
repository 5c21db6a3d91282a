#include "dashboard/health_board.h"

#include <optional>
#include <set>
#include <utility>

#include "heartbeat/health_key.h"
#include "heartbeat/health_value.h"

namespace hb::dashboard {
namespace {

const std::string kExpired = "expired";

// Copies the value's fields into `row` (only those the page shows).
void Fill(CapabilityRow& row, const etcd::KeyValue& kv) {
  row.lease = kv.lease;
  row.mod_revision = kv.mod_revision;
  auto value = heartbeat::ParseHealthValue(kv.value);
  if (!value.ok()) {
    row.status = "unreadable";
    row.check.clear();
    row.reason = std::string(value.status().message());
    row.flapping = false;
    row.timestamp = absl::InfinitePast();
    row.heartbeat_count = 0;
    row.ttl_seconds = 0;
    row.interval_seconds = 0;
    row.mode.clear();
    row.writer.clear();
    return;
  }
  row.status = value->status;
  row.check = value->check;
  row.reason = value->reason;
  row.flapping = value->flapping;
  row.timestamp = value->timestamp;
  row.heartbeat_count = value->heartbeat_count;
  row.ttl_seconds = value->ttl_seconds;
  row.interval_seconds = absl::ToDoubleSeconds(value->interval);
  row.mode = value->mode;
  row.writer = value->writer;
}

}  // namespace

const std::string& CapabilityRow::state() const { return expired ? kExpired : status; }

std::string GoneReason(const CapabilityRow& row, absl::Time now) {
  if (row.ttl_seconds <= 0 || row.mode == "on-change" || row.timestamp == absl::InfinitePast()) {
    return "deleted";
  }
  absl::Duration silent = now - row.timestamp;
  return silent >= absl::Seconds(row.ttl_seconds) - absl::Seconds(1) ? "lease expired" : "removed";
}

HealthBoard::HealthBoard(std::string prefix, BoardLimits limits)
    : prefix_(std::move(prefix)), limits_(limits) {}

void HealthBoard::Load(const std::vector<etcd::KeyValue>& kvs, int64_t revision, absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::set<std::string> present;
  for (const etcd::KeyValue& kv : kvs) {
    if (auto id = heartbeat::ParseHealthKey(prefix_, kv.key)) {
      present.insert(*id);
      PutLocked(kv, now, /*loading=*/true);
    }
  }
  for (auto& [id, row] : rows_) {
    if (!row.expired && present.count(id) == 0) ExpireLocked(row, now);
  }
  revision_ = std::max(revision_, revision);
  EvictExpiredLocked();
}

void HealthBoard::Apply(const std::vector<etcd::WatchEvent>& events, absl::Time now) {
  absl::MutexLock lock(&mu_);
  for (const etcd::WatchEvent& event : events) {
    revision_ = std::max(revision_, event.kv.mod_revision);
    if (event.type == etcd::WatchEvent::Type::kPut) {
      PutLocked(event.kv, now, /*loading=*/false);
      continue;
    }
    std::optional<std::string> id = heartbeat::ParseHealthKey(prefix_, event.kv.key);
    if (!id) continue;
    auto found = rows_.find(*id);
    if (found == rows_.end() || found->second.expired) continue;
    // A deletion older than the value read (a replay after a Load) changes nothing.
    if (event.kv.mod_revision != 0 && event.kv.mod_revision < found->second.mod_revision) continue;
    ExpireLocked(found->second, now);
  }
  EvictExpiredLocked();
}

void HealthBoard::PutLocked(const etcd::KeyValue& kv, absl::Time now, bool loading) {
  std::optional<std::string> id = heartbeat::ParseHealthKey(prefix_, kv.key);
  if (!id) return;
  auto [it, added] = rows_.try_emplace(*id);
  CapabilityRow& row = it->second;
  if (!added && !loading && kv.mod_revision != 0 && kv.mod_revision < row.mod_revision) return;
  if (!added && loading && !row.expired && kv.mod_revision == row.mod_revision) return;
  std::string before = added ? std::string() : row.state();
  row.identifier = *id;
  if (row.expired) {
    row.expired = false;
    row.gone_at = absl::InfinitePast();
    row.gone_reason.clear();
    --expired_;
  }
  Fill(row, kv);
  row.seq = ++seq_;
  if (row.state() != before) {
    // A first sight: the verdict's own start when the value says it, else its timestamp.
    absl::Time at = now;
    if (added) {
      auto value = heartbeat::ParseHealthValue(kv.value);
      if (value.ok()) {
        at = value->since != absl::InfinitePast() ? value->since : value->timestamp;
      }
    }
    RecordLocked(row, at);
  }
}

void HealthBoard::ExpireLocked(CapabilityRow& row, absl::Time now) {
  row.gone_reason = GoneReason(row, now);
  row.expired = true;
  row.gone_at = now;
  ++expired_;
  row.seq = ++seq_;
  RecordLocked(row, now);
}

void HealthBoard::RecordLocked(CapabilityRow& row, absl::Time at) {
  row.transitions.push_back({row.state(), at});
  while (row.transitions.size() > limits_.max_transitions) row.transitions.pop_front();
}

void HealthBoard::EvictExpiredLocked() {
  while (expired_ > limits_.max_expired) {
    auto oldest = rows_.end();
    for (auto it = rows_.begin(); it != rows_.end(); ++it) {
      if (it->second.expired &&
          (oldest == rows_.end() || it->second.gone_at < oldest->second.gone_at)) {
        oldest = it;
      }
    }
    if (oldest == rows_.end()) break;
    rows_.erase(oldest);
    --expired_;
  }
}

std::vector<CapabilityRow> HealthBoard::ChangedSince(uint64_t after, uint64_t* seq) const {
  absl::MutexLock lock(&mu_);
  std::vector<CapabilityRow> changed;
  for (const auto& [id, row] : rows_) {
    if (row.seq > after) changed.push_back(row);
  }
  if (seq != nullptr) *seq = seq_;
  return changed;
}

BoardSummary HealthBoard::Summary() const {
  absl::MutexLock lock(&mu_);
  BoardSummary summary;
  for (const auto& [id, row] : rows_) {
    ++summary.total;
    if (row.expired) {
      ++summary.expired;
    } else if (row.status == "healthy") {
      ++summary.healthy;
    } else if (row.status == "unhealthy") {
      ++summary.unhealthy;
    } else {
      ++summary.pending;
    }
  }
  return summary;
}

int64_t HealthBoard::revision() const {
  absl::MutexLock lock(&mu_);
  return revision_;
}

}  // namespace hb::dashboard
