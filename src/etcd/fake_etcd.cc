#include "etcd/fake_etcd.h"

#include <algorithm>
#include <utility>

namespace hb::etcd {
namespace {

const char kLeaseNotFound[] = "etcdserver: requested lease not found";

class NullWatch final : public WatchHandle {};

}  // namespace

FakeEtcd::FakeEtcd(Clock& clock) : clock_(clock) {}

void FakeEtcd::Enqueue(std::function<void()> run, absl::Duration extra) {
  // Answers are kept in due order (a stable insert: equal times keep call order).
  Pending item{clock_.Now() + latency_ + extra, std::move(run)};
  auto it = std::upper_bound(pending_.begin(), pending_.end(), item.due,
                             [](absl::Time due, const Pending& p) { return due < p.due; });
  pending_.insert(it, std::move(item));
}

absl::Status FakeEtcd::Admit(Op op) {
  ++calls_[op];
  ExpireLeases();
  if (down_) return absl::UnavailableError("connection refused (fake etcd is down)");
  auto& queue = failures_[op];
  if (!queue.empty()) {
    absl::Status status = queue.front();
    queue.pop_front();
    return status;
  }
  return absl::OkStatus();
}

void FakeEtcd::ExpireLeases() {
  if (down_) return;  // nobody runs the lessor
  absl::Time now = clock_.Now();
  for (auto it = leases_.begin(); it != leases_.end();) {
    if (it->second.expires <= now) {
      int64_t id = it->first;
      ++it;
      DropLease(id);
    } else {
      ++it;
    }
  }
}

void FakeEtcd::DeleteKey(const std::string& key) {
  if (kvs_.erase(key) > 0) {
    ++deletes_[key];
    ++revision_;
  }
}

void FakeEtcd::DropLease(int64_t id) {
  leases_.erase(id);
  std::vector<std::string> doomed;
  for (const auto& [key, kv] : kvs_) {
    if (kv.lease == id) doomed.push_back(key);
  }
  for (const auto& key : doomed) DeleteKey(key);
}

void FakeEtcd::Range(RangeRequest request, Callback<RangeResult> done) {
  AutoDeliver deliver(this);
  absl::MutexLock lock(&mu_);
  absl::Status status = Admit(Op::kRange);
  RangeResult result;
  result.revision = revision_;
  if (status.ok()) {
    auto it = kvs_.lower_bound(request.key);
    for (; it != kvs_.end(); ++it) {
      bool in_range = request.range_end.empty()                   ? it->first == request.key
                      : request.range_end == std::string(1, '\0') ? true
                                                                  : it->first < request.range_end;
      if (!in_range) break;
      if (request.limit > 0 && static_cast<int64_t>(result.kvs.size()) == request.limit) {
        result.more = true;
        break;
      }
      result.kvs.push_back(it->second);
      if (request.keys_only) result.kvs.back().value.clear();
    }
  }
  Enqueue([done = std::move(done), status, result = std::move(result)]() mutable {
    if (status.ok()) {
      done(std::move(result));
    } else {
      done(status);
    }
  });
}

void FakeEtcd::Put(PutRequest request, Callback<PutResult> done) {
  AutoDeliver deliver(this);
  absl::MutexLock lock(&mu_);
  absl::Status status = Admit(Op::kPut);
  if (status.ok() && request.lease != 0 && leases_.count(request.lease) == 0) {
    status = absl::NotFoundError(kLeaseNotFound);
  }
  int64_t revision = status.ok() ? Write(std::move(request)) : 0;
  Enqueue([done = std::move(done), status, revision] {
    if (status.ok()) {
      done(PutResult{revision});
    } else {
      done(status);
    }
  });
}

int64_t FakeEtcd::Write(PutRequest request) {
  int64_t revision = ++revision_;
  KeyValue& kv = kvs_[request.key];
  if (kv.key.empty()) {
    kv.key = request.key;
    kv.create_revision = revision;
  }
  kv.value = std::move(request.value);
  kv.lease = request.lease;
  kv.mod_revision = revision;
  ++kv.version;
  ++keys_written_;
  return revision;
}

void FakeEtcd::PutBatch(std::vector<PutRequest> requests, Callback<PutResult> done) {
  AutoDeliver deliver(this);
  absl::MutexLock lock(&mu_);
  absl::Status status = Admit(Op::kPutBatch);
  for (const PutRequest& request : requests) {
    if (status.ok() && request.lease != 0 && leases_.count(request.lease) == 0) {
      status = absl::NotFoundError(kLeaseNotFound);
    }
  }
  int64_t revision = 0;
  if (status.ok()) {
    for (PutRequest& request : requests) revision = Write(std::move(request));
  }
  Enqueue([done = std::move(done), status, revision] {
    if (status.ok()) {
      done(PutResult{revision});
    } else {
      done(status);
    }
  });
}

std::vector<std::string> FakeEtcd::KeysIn(const RangeRequest& range) {
  std::vector<std::string> keys;
  for (auto it = kvs_.lower_bound(range.key); it != kvs_.end(); ++it) {
    if (range.range_end.empty() ? it->first != range.key : it->first >= range.range_end) break;
    keys.push_back(it->first);
  }
  return keys;
}

void FakeEtcd::FencedWrite(Fence fence, std::vector<PutRequest> puts,
                           std::vector<RangeRequest> deletes, Callback<FencedWriteResult> done) {
  AutoDeliver deliver(this);
  absl::MutexLock lock(&mu_);
  absl::Status status = Admit(Op::kFencedWrite);
  FencedWriteResult result;
  auto fence_kv = kvs_.find(fence.key);
  int64_t current = fence_kv == kvs_.end() ? 0 : fence_kv->second.mod_revision;
  result.applied =
      current == fence.mod_revision &&
      (fence.value.empty() || (fence_kv != kvs_.end() && fence_kv->second.value == fence.value));
  for (const PutRequest& request : puts) {
    if (status.ok() && result.applied && request.lease != 0 && leases_.count(request.lease) == 0) {
      status = absl::NotFoundError(kLeaseNotFound);
    }
  }
  if (status.ok() && result.applied) {
    if (!puts.empty() || !deletes.empty()) ++revision_;  // one revision for the transaction
    for (PutRequest& request : puts) {
      --revision_;
      Write(std::move(request));
    }
    for (const RangeRequest& range : deletes) {
      for (const std::string& key : KeysIn(range)) {
        kvs_.erase(key);
        ++deletes_[key];
        ++result.deleted;
      }
    }
  } else if (status.ok() && fence_kv != kvs_.end()) {
    result.fence_kv = fence_kv->second;
  }
  result.revision = revision_;
  Enqueue([done = std::move(done), status, result = std::move(result)]() mutable {
    if (status.ok()) {
      done(std::move(result));
    } else {
      done(status);
    }
  });
}

void FakeEtcd::DeleteRange(RangeRequest request, Callback<DeleteResult> done) {
  AutoDeliver deliver(this);
  absl::MutexLock lock(&mu_);
  absl::Status status = Admit(Op::kDelete);
  int64_t deleted = 0;
  if (status.ok()) {
    std::vector<std::string> doomed = KeysIn(request);
    for (const auto& key : doomed) DeleteKey(key);
    deleted = static_cast<int64_t>(doomed.size());
  }
  Enqueue([done = std::move(done), status, deleted, revision = revision_] {
    if (status.ok()) {
      done(DeleteResult{deleted, revision});
    } else {
      done(status);
    }
  });
}

void FakeEtcd::LeaseGrant(int64_t ttl_seconds, Callback<GrantedLease> done) {
  AutoDeliver deliver(this);
  absl::MutexLock lock(&mu_);
  absl::Status status = Admit(Op::kGrant);
  GrantedLease granted;
  if (status.ok()) {
    granted = GrantedLease{++next_lease_, ttl_seconds};
    leases_[granted.id] = Lease{ttl_seconds, clock_.Now() + absl::Seconds(ttl_seconds)};
  }
  Enqueue([done = std::move(done), status, granted] {
    if (status.ok()) {
      done(granted);
    } else {
      done(status);
    }
  });
}

void FakeEtcd::LeaseRevoke(int64_t lease_id, DoneCallback done) {
  AutoDeliver deliver(this);
  absl::MutexLock lock(&mu_);
  absl::Status status = Admit(Op::kRevoke);
  if (status.ok()) {
    if (leases_.count(lease_id) == 0) {
      status = absl::NotFoundError(kLeaseNotFound);
    } else {
      DropLease(lease_id);
    }
  }
  Enqueue([done = std::move(done), status] { done(status); });
}

void FakeEtcd::LeaseTimeToLive(int64_t lease_id, bool with_keys, Callback<LeaseTtl> done) {
  AutoDeliver deliver(this);
  absl::MutexLock lock(&mu_);
  absl::Status status = Admit(Op::kTimeToLive);
  LeaseTtl ttl{lease_id, -1, 0, {}};
  auto it = leases_.find(lease_id);
  if (status.ok() && it != leases_.end()) {
    ttl.ttl = absl::ToInt64Seconds(it->second.expires - clock_.Now());
    ttl.granted_ttl = it->second.ttl;
    for (const auto& [key, kv] : kvs_) {
      if (with_keys && kv.lease == lease_id) ttl.keys.push_back(key);
    }
  }
  Enqueue([done = std::move(done), status, ttl] {
    if (status.ok()) {
      done(ttl);
    } else {
      done(status);
    }
  });
}

void FakeEtcd::SetKeepAliveListener(KeepAliveListener* listener) {
  absl::MutexLock lock(&mu_);
  listener_ = listener;
}

void FakeEtcd::KeepAlive(int64_t lease_id) {
  AutoDeliver deliver(this);
  absl::MutexLock lock(&mu_);
  ExpireLeases();
  if (down_ || drop_keepalives_) return;  // dropped, as on a broken or stuck stream
  ++keepalives_;
  if (!stream_up_) {
    stream_up_ = true;
    Enqueue([this] {
      KeepAliveListener* listener;
      {
        absl::MutexLock inner(&mu_);
        listener = listener_;
      }
      if (listener != nullptr) listener->OnKeepAliveStreamState(true, absl::OkStatus());
    });
  }
  int64_t ttl = 0;
  auto it = leases_.find(lease_id);
  if (it != leases_.end()) {
    it->second.expires = clock_.Now() + absl::Seconds(it->second.ttl);
    ttl = it->second.ttl;
  }
  Enqueue(
      [this, lease_id, ttl] {
        KeepAliveListener* listener;
        {
          absl::MutexLock inner(&mu_);
          listener = listener_;
        }
        if (listener != nullptr) listener->OnKeepAliveResponse(lease_id, ttl);
      },
      keepalive_latency_);
}

void FakeEtcd::Status(Callback<ServerStatus> done) {
  AutoDeliver deliver(this);
  absl::MutexLock lock(&mu_);
  absl::Status status = Admit(Op::kStatus);
  Enqueue([done = std::move(done), status] {
    if (status.ok()) {
      done(ServerStatus{"fake", "3.4.0-fake", 1, 1});
    } else {
      done(status);
    }
  });
}

std::unique_ptr<WatchHandle> FakeEtcd::Watch(WatchRequest, WatchListener*) {
  return std::make_unique<NullWatch>();
}

void FakeEtcd::SetLatency(absl::Duration latency) {
  absl::MutexLock lock(&mu_);
  latency_ = latency;
}

void FakeEtcd::SetAutoDeliver(bool on) { auto_deliver_.store(on); }

void FakeEtcd::SetKeepAliveLatency(absl::Duration latency) {
  absl::MutexLock lock(&mu_);
  keepalive_latency_ = latency;
}

int FakeEtcd::Deliver() {
  int ran = 0;
  while (true) {
    std::function<void()> run;
    {
      absl::MutexLock lock(&mu_);
      ExpireLeases();
      if (pending_.empty() || pending_.front().due > clock_.Now()) return ran;
      run = std::move(pending_.front().run);
      pending_.pop_front();
    }
    run();
    ++ran;
  }
}

void FakeEtcd::SetDown(bool down) {
  AutoDeliver deliver(this);
  absl::MutexLock lock(&mu_);
  if (down_ == down) return;
  down_ = down;
  if (down && stream_up_) {
    stream_up_ = false;
    Enqueue([this] {
      KeepAliveListener* listener;
      {
        absl::MutexLock inner(&mu_);
        listener = listener_;
      }
      if (listener != nullptr) {
        listener->OnKeepAliveStreamState(false, absl::UnavailableError("fake etcd is down"));
      }
    });
  }
  if (!down) {
    // etcd's lessor extends every lease by its TTL when a leader takes office (after a
    // restart): leases do not expire while etcd is down, and get a full TTL on its return.
    for (auto& [id, lease] : leases_) lease.expires = clock_.Now() + absl::Seconds(lease.ttl);
    // The real client reconnects on its own; so does the fake stream.
    stream_up_ = true;
    Enqueue([this] {
      KeepAliveListener* listener;
      {
        absl::MutexLock inner(&mu_);
        listener = listener_;
      }
      if (listener != nullptr) listener->OnKeepAliveStreamState(true, absl::OkStatus());
    });
  }
}

void FakeEtcd::Wipe() {
  absl::MutexLock lock(&mu_);
  kvs_.clear();
  leases_.clear();
}

void FakeEtcd::FailNext(Op op, absl::Status status, int times) {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < times; ++i) failures_[op].push_back(status);
}

void FakeEtcd::ClearFailures(Op op) {
  absl::MutexLock lock(&mu_);
  failures_[op].clear();
}

void FakeEtcd::DropKeepAlives(bool drop) {
  absl::MutexLock lock(&mu_);
  drop_keepalives_ = drop;
}

void FakeEtcd::Seed(const std::string& key, const std::string& value, int64_t lease) {
  absl::MutexLock lock(&mu_);
  int64_t revision = ++revision_;
  kvs_[key] = KeyValue{key, value, lease, revision, revision, 1};
}

int64_t FakeEtcd::SeedLease(int64_t ttl_seconds) {
  absl::MutexLock lock(&mu_);
  int64_t id = ++next_lease_;
  leases_[id] = Lease{ttl_seconds, clock_.Now() + absl::Seconds(ttl_seconds)};
  return id;
}

std::optional<KeyValue> FakeEtcd::Get(const std::string& key) {
  absl::MutexLock lock(&mu_);
  ExpireLeases();
  auto it = kvs_.find(key);
  if (it == kvs_.end()) return std::nullopt;
  return it->second;
}

bool FakeEtcd::LeaseAlive(int64_t lease_id) {
  absl::MutexLock lock(&mu_);
  ExpireLeases();
  return leases_.count(lease_id) > 0;
}

int64_t FakeEtcd::live_leases() {
  absl::MutexLock lock(&mu_);
  ExpireLeases();
  return static_cast<int64_t>(leases_.size());
}

int64_t FakeEtcd::deletes_of(const std::string& key) {
  absl::MutexLock lock(&mu_);
  ExpireLeases();
  auto it = deletes_.find(key);
  return it == deletes_.end() ? 0 : it->second;
}

int64_t FakeEtcd::calls(Op op) {
  absl::MutexLock lock(&mu_);
  return calls_[op];
}

int64_t FakeEtcd::keys_written() {
  absl::MutexLock lock(&mu_);
  return keys_written_;
}

int64_t FakeEtcd::keepalives() {
  absl::MutexLock lock(&mu_);
  return keepalives_;
}

}  // namespace hb::etcd
