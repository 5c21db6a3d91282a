// FakeEtcd: an in-memory EtcdClient on virtual time, for unit tests.
//
// Semantics follow etcd's where the engine depends on them: a put attached to an unknown
// lease fails with NotFound "requested lease not found"; leases expire on the injected
// clock and take their keys with them; keep-alive answers carry the full TTL, or 0 for an
// unknown lease; revoking deletes the lease's keys.
//
// Effects apply when a call is made; answers (callbacks) are queued and handed out by
// Deliver(), after the configured latency, on the calling thread, with no lock held, so
// tests control exactly when the engine sees them. Faults: SetDown() (etcd stopped: every
// call fails with UNAVAILABLE, the keep-alive stream drops, leases do not expire meanwhile
// and get a full TTL when it is back, as etcd's lessor does after a restart), Wipe() (etcd
// restarted on an empty data directory), FailNext() (the next calls of one kind fail with a
// given status), DropKeepAlives() (a stream that takes requests and answers nothing).
// Watch is not simulated (returns a handle that never reports).
// Thread-safe.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "etcd/etcd_client.h"

namespace hb::etcd {

class FakeEtcd final : public EtcdClient {
 public:
  enum class Op {
    kRange,
    kPut,
    kPutBatch,
    kDelete,
    kFencedWrite,
    kGrant,
    kRevoke,
    kTimeToLive,
    kStatus
  };

  explicit FakeEtcd(Clock& clock);

  // EtcdClient
  void Range(RangeRequest request, Callback<RangeResult> done) override;
  void Put(PutRequest request, Callback<PutResult> done) override;
  void PutBatch(std::vector<PutRequest> requests, Callback<PutResult> done) override;
  void DeleteRange(RangeRequest request, Callback<DeleteResult> done) override;
  void FencedWrite(Fence fence, std::vector<PutRequest> puts, std::vector<RangeRequest> deletes,
                   Callback<FencedWriteResult> done) override;
  void LeaseGrant(int64_t ttl_seconds, Callback<GrantedLease> done) override;
  void LeaseRevoke(int64_t lease_id, DoneCallback done) override;
  void LeaseTimeToLive(int64_t lease_id, bool with_keys, Callback<LeaseTtl> done) override;
  void SetKeepAliveListener(KeepAliveListener* listener) override;
  void KeepAlive(int64_t lease_id) override;
  void Status(Callback<ServerStatus> done) override;
  std::unique_ptr<WatchHandle> Watch(WatchRequest request, WatchListener* listener) override;

  // Test controls.
  void SetLatency(absl::Duration latency);
  // Runs every answer as soon as the call that caused it returns (no Deliver() needed):
  // for tests of code that waits for answers synchronously.
  void SetAutoDeliver(bool on);
  // Extra delay of keep-alive answers only (a saturated lessor).
  void SetKeepAliveLatency(absl::Duration latency);
  // Expires leases due at clock.Now() and runs every answer that is due; returns how many
  // answers ran.
  int Deliver();
  void SetDown(bool down);
  void Wipe();
  void FailNext(Op op, absl::Status status, int times = 1);
  void ClearFailures(Op op);  // the failures FailNext() queued and not used yet
  // Keep-alives vanish without an answer while set (a stuck stream).
  void DropKeepAlives(bool drop);
  // Puts a key as another client would (lease 0 = none); for adoption tests.
  void Seed(const std::string& key, const std::string& value, int64_t lease);
  int64_t SeedLease(int64_t ttl_seconds);

  // Inspection.
  std::optional<KeyValue> Get(const std::string& key);
  bool LeaseAlive(int64_t lease_id);
  int64_t live_leases();
  int64_t deletes_of(const std::string& key);  // deletions of `key` so far (expiry included)
  int64_t calls(Op op);
  int64_t keys_written();  // puts applied, batched or not
  int64_t keepalives();

 private:
  struct Lease {
    int64_t ttl = 0;
    absl::Time expires;
  };
  struct Pending {
    absl::Time due;
    std::function<void()> run;
  };

  void Enqueue(std::function<void()> run, absl::Duration extra = absl::ZeroDuration())
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Admit(Op op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireLeases() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeleteKey(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropLease(int64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t Write(PutRequest request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<std::string> KeysIn(const RangeRequest& range) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Runs the answers that are due when a public method returns, in auto-deliver mode.
  class AutoDeliver {
   public:
    explicit AutoDeliver(FakeEtcd* etcd) : etcd_(etcd) {}
    ~AutoDeliver() {
      if (etcd_->auto_deliver_.load()) etcd_->Deliver();
    }

   private:
    FakeEtcd* etcd_;
  };

  Clock& clock_;
  std::atomic<bool> auto_deliver_{false};
  absl::Mutex mu_;
  absl::Duration latency_ ABSL_GUARDED_BY(mu_);
  absl::Duration keepalive_latency_ ABSL_GUARDED_BY(mu_);
  bool down_ ABSL_GUARDED_BY(mu_) = false;
  bool stream_up_ ABSL_GUARDED_BY(mu_) = false;
  bool drop_keepalives_ ABSL_GUARDED_BY(mu_) = false;
  KeepAliveListener* listener_ ABSL_GUARDED_BY(mu_) = nullptr;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t next_lease_ ABSL_GUARDED_BY(mu_) = 0x694d77aa1e7f0000;
  std::map<std::string, KeyValue> kvs_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, Lease> leases_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> deletes_ ABSL_GUARDED_BY(mu_);
  std::map<Op, std::deque<absl::Status>> failures_ ABSL_GUARDED_BY(mu_);
  std::map<Op, int64_t> calls_ ABSL_GUARDED_BY(mu_);
  int64_t keepalives_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t keys_written_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb::etcd
