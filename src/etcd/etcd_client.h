// EtcdClient: the asynchronous seam between heartbeat-operator and etcd's v3 API.
//
// The heartbeat engine and the commands talk only to this interface; GrpcEtcdClient is the
// real implementation, FakeEtcd an in-memory one for unit tests on virtual time.
//
// Contract for every implementation:
//  - All methods are thread-safe and never block on the network; results arrive through
//    the callback, exactly once, on an implementation thread (possibly before the method
//    returns, for a fake). Callbacks must not block.
//  - Errors are absl::Status codes carrying etcd's message:
//      kUnavailable / kDeadlineExceeded  etcd not reachable or too slow; retry later
//      kNotFound                         "requested lease not found"
//      kResourceExhausted                "too many requests": back-pressure, retry later;
//                                        or "database space exceeded" (IsNoSpace()): etcd's
//                                        NOSPACE alarm, writes refused until an operator
//                                        compacts, defragments and disarms it
//      kUnauthenticated / kPermissionDenied  authentication or authorisation refused
//      kCancelled                        the client is shutting down
//  - Keep-alives travel on one multiplexed stream owned by the client. KeepAlive() queues a
//    request (de-duplicated per lease while queued); answers go to the KeepAliveListener.
//    Requests queued while the stream is down are dropped; the listener hears the stream go
//    down and come back up and must re-send what it needs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace hb::etcd {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t lease = 0;  // 0: no lease attached
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
};

// etcd refuses writes because its database reached its quota (the NOSPACE alarm): not
// back-pressure, nothing gets better by waiting.
bool IsNoSpace(const absl::Status& status);

// The smallest key greater than every key starting with `prefix` (etcd's range_end for a
// prefix query).
std::string PrefixEnd(const std::string& prefix);

struct RangeRequest {
  std::string key;
  std::string range_end;  // empty: just `key`; PrefixEnd(key): every key with that prefix
  int64_t limit = 0;      // 0: no limit
  bool keys_only = false;
  static RangeRequest Prefix(std::string prefix, int64_t limit = 0);
};

struct RangeResult {
  std::vector<KeyValue> kvs;
  bool more = false;  // a limit cut the answer short
  int64_t revision = 0;
};

struct PutRequest {
  std::string key;
  std::string value;
  int64_t lease = 0;
};

struct PutResult {
  int64_t revision = 0;
};

struct DeleteResult {
  int64_t deleted = 0;
  int64_t revision = 0;
};

// The condition of a fenced write: it applies only while `key`'s mod_revision equals
// `mod_revision` (0: while `key` is absent). The writer's fencing token is the revision at
// which it last wrote `key`; whoever writes `key` after it makes its writes fail.
// `value`, when set, must match too (a revision alone could recur after etcd lost its data
// and counted revisions afresh).
struct Fence {
  std::string key;
  int64_t mod_revision = 0;
  std::string value;
};

struct FencedWriteResult {
  bool applied = false;  // false: the fence did not hold and nothing was written
  int64_t revision = 0;  // the transaction's revision (the new mod_revision of each put)
  int64_t deleted = 0;   // keys deleted (applied only)
  std::optional<KeyValue> fence_kv;  // not applied: the fence key as etcd holds it now
};

struct GrantedLease {
  int64_t id = 0;
  int64_t ttl = 0;
};

struct LeaseTtl {
  int64_t id = 0;
  int64_t ttl = -1;  // seconds remaining; -1 when the lease does not exist
  int64_t granted_ttl = 0;
  std::vector<std::string> keys;
};

struct ServerStatus {
  std::string endpoint;
  std::string version;
  uint64_t member_id = 0;
  uint64_t leader = 0;
};

struct WatchRequest {
  std::string key;
  std::string range_end;
  int64_t start_revision = 0;  // 0: from now
  bool prev_kv = false;
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;
  bool has_prev_kv = false;
  KeyValue prev_kv;
};

class KeepAliveListener {
 public:
  virtual ~KeepAliveListener() = default;
  // An answer on the keep-alive stream. `ttl` <= 0 means the lease no longer exists.
  virtual void OnKeepAliveResponse(int64_t lease_id, int64_t ttl) = 0;
  // The stream came up (`up`), or broke (`why` tells how). Called once per change.
  virtual void OnKeepAliveStreamState(bool up, const absl::Status& why) = 0;
};

class WatchListener {
 public:
  virtual ~WatchListener() = default;
  // Events of one etcd revision batch, in order.
  virtual void OnWatchEvents(const std::vector<WatchEvent>& events) = 0;
  // The watch broke; it is resumed automatically from the next unseen revision unless
  // `fatal` (the revision was compacted or the watch was refused), after which the
  // watch is over.
  virtual void OnWatchError(const absl::Status& status, bool fatal) = 0;
};

// A running watch; destroying it cancels the watch and waits until no callback runs.
class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
};

template <typename T>
using Callback = std::function<void(absl::StatusOr<T>)>;
using DoneCallback = std::function<void(absl::Status)>;

class EtcdClient {
 public:
  virtual ~EtcdClient() = default;

  virtual void Range(RangeRequest request, Callback<RangeResult> done) = 0;
  virtual void Put(PutRequest request, Callback<PutResult> done) = 0;
  // Writes every put in one transaction: one round trip and one raft entry for all of
  // them. All or nothing: if any put's lease is unknown the whole batch fails with
  // NotFound "requested lease not found" and nothing is written. etcd bounds the batch
  // size (--max-txn-ops, 128 by default).
  virtual void PutBatch(std::vector<PutRequest> requests, Callback<PutResult> done) = 0;
  virtual void DeleteRange(RangeRequest request, Callback<DeleteResult> done) = 0;
  // One transaction: if `fence` holds, every put and deletion (in that order); otherwise
  // nothing but a read of the fence key. No puts and no deletions: a check of the fence.
  // Lease errors fail the whole call as PutBatch does.
  virtual void FencedWrite(Fence fence, std::vector<PutRequest> puts,
                           std::vector<RangeRequest> deletes, Callback<FencedWriteResult> done) = 0;

  virtual void LeaseGrant(int64_t ttl_seconds, Callback<GrantedLease> done) = 0;
  virtual void LeaseRevoke(int64_t lease_id, DoneCallback done) = 0;
  virtual void LeaseTimeToLive(int64_t lease_id, bool with_keys, Callback<LeaseTtl> done) = 0;

  // At most one listener; set it before the first KeepAlive(). `listener` must outlive
  // the client or be replaced by nullptr first.
  virtual void SetKeepAliveListener(KeepAliveListener* listener) = 0;
  virtual void KeepAlive(int64_t lease_id) = 0;

  virtual void Status(Callback<ServerStatus> done) = 0;

  // `listener` must outlive the returned handle.
  virtual std::unique_ptr<WatchHandle> Watch(WatchRequest request, WatchListener* listener) = 0;
};

// Blocking helpers for commands and tests (never call from a client callback thread).
absl::StatusOr<RangeResult> RangeSync(EtcdClient& client, RangeRequest request);
absl::StatusOr<PutResult> PutSync(EtcdClient& client, PutRequest request);
absl::StatusOr<DeleteResult> DeleteRangeSync(EtcdClient& client, RangeRequest request);
absl::StatusOr<FencedWriteResult> FencedWriteSync(EtcdClient& client, Fence fence,
                                                  std::vector<PutRequest> puts,
                                                  std::vector<RangeRequest> deletes = {});
absl::StatusOr<GrantedLease> LeaseGrantSync(EtcdClient& client, int64_t ttl_seconds);
absl::Status LeaseRevokeSync(EtcdClient& client, int64_t lease_id);
absl::StatusOr<LeaseTtl> LeaseTimeToLiveSync(EtcdClient& client, int64_t lease_id);
absl::StatusOr<ServerStatus> StatusSync(EtcdClient& client);

}  // namespace hb::etcd
