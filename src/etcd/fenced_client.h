// FencedEtcdClient: an EtcdClient that lets one replica write only while it leads.
//
// Two guards stand between the engine and etcd, so that a replica that was paused, cut off
// or replaced never writes next to the new leader:
//  - a local permit on the monotonic clock: writes are refused (FailedPrecondition) unless
//    Clock::Now() is before the permit's end, which the leader moves forward after each
//    renewal of its leader-election Lease (attempt start + renew deadline). A process that
//    wakes from a pause finds its permit over before it sends anything;
//  - a fencing token in etcd itself: Take() writes the fence key (compare-and-swap) and
//    remembers the revision it wrote at; from then on every put and deletion is one
//    transaction that compares the key's mod_revision with that token. A replica that
//    takes the key later makes every write of this one fail atomically, with nothing
//    written; this client then reports kStale once (the stale hook) and refuses every
//    write after it.
// Lease grants and revokes cannot sit in a transaction: each waits for a fence check (a
// transaction with only the comparison) that started after it was asked for, and is sent
// only if that check held. Concurrent grants and revokes share one check. Keep-alives
// need the local permit only (renewing a lease is what any leader would do with it).
// Reads, watches and keep-alive answers pass through untouched.
//
// Before Take() succeeded (and after the permit ended or the token went stale) writes
// fail with FailedPrecondition; `Passthrough()` makes a client that never fences (one
// process, no leader election).
//
// Thread-safe. The inner client must outlive this one; callbacks come from its threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "etcd/etcd_client.h"

namespace hb::etcd {

class FencedEtcdClient final : public EtcdClient {
 public:
  enum class State { kUnfenced, kPassthrough, kHeld, kStale };

  FencedEtcdClient(EtcdClient& inner, Clock& clock);
  static std::unique_ptr<FencedEtcdClient> Passthrough(EtcdClient& inner, Clock& clock);

  // Takes the fence: reads `key`, then writes `holder` to it if nobody wrote it since (a
  // compare-and-swap, retried while another writer races). `done` gets OK once held (the
  // token is the revision of that write), or the etcd error. Writes are allowed once it is
  // held and the permit has not ended. Non-blocking; one Take at a time.
  void Take(std::string key, std::string holder, std::function<void(absl::Status)> done);
  // Allows writes until `until` (Clock::Now() time); never moves the end backwards.
  void PermitUntil(absl::Time until);
  // Ends the permit at once (leadership given up or lost).
  void EndPermit();
  // Called once, from an etcd callback thread, when a fenced write or check found that
  // another writer holds the fence (`holder` is the key's value, maybe empty).
  void SetStaleHook(std::function<void(const std::string& holder)> hook);

  State state() const;
  int64_t token() const;
  // Whether a write would be sent now (state held and permit running, or passthrough).
  bool Writable() const;

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

 private:
  // Why a write cannot be sent now; OK when it can. `fence` gets the fence to use.
  absl::Status Admit(Fence* fence) const;
  // Sends a fenced transaction and maps a fence that did not hold to FailedPrecondition.
  void Write(std::vector<PutRequest> puts, std::vector<RangeRequest> deletes,
             std::function<void(absl::StatusOr<FencedWriteResult>)> done);
  // The status a fenced call reports: OK when it applied; for a fence that did not hold,
  // FencedError (and the state turns stale, once) or, when the fence key vanished while
  // the permit runs, Unavailable while the key is taken again.
  absl::Status OnFenceResult(const Fence& used, const absl::StatusOr<FencedWriteResult>& result);
  // Runs `then` after a fence check that starts after this call (OK: the fence held).
  void AfterCheck(std::function<void(absl::Status)> then);
  // Starts the next check unless one is in flight (never with mu_ held: the inner client
  // may answer before it returns).
  void RunChecks();
  void TakeAttempt(std::string key, std::string holder, std::function<void(absl::Status)> done,
                   int attempt);

  EtcdClient& inner_;
  Clock& clock_;

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kUnfenced;
  Fence fence_ ABSL_GUARDED_BY(mu_);
  std::string holder_value_ ABSL_GUARDED_BY(mu_);  // what Take() writes to the fence key
  absl::Time permit_end_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::function<void(const std::string&)> stale_hook_ ABSL_GUARDED_BY(mu_);
  bool checking_ ABSL_GUARDED_BY(mu_) = false;
  // Waiting for the next check / covered by the check in flight.
  std::vector<std::function<void(absl::Status)>> next_check_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(absl::Status)>> this_check_ ABSL_GUARDED_BY(mu_);
};

// "fenced: <key> is now held by <holder>": the error of a write refused by the fence.
bool IsFenced(const absl::Status& status);

}  // namespace hb::etcd
