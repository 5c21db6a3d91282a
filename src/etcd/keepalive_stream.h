// KeepAliveStream: the one multiplexed LeaseKeepAlive stream of a GrpcEtcdClient
// (internal to src/etcd).
//
// Send() queues a lease id (at most once while queued) and returns at once; a single
// writer drains the queue onto the stream, one message in flight, hinting gRPC to batch
// when more are queued. Answers are handed to the listener as they arrive. The stream is
// opened on the first Send() and re-opened after any failure with capped, jittered
// backoff; the listener hears each up/down change once. Ids queued when the stream breaks,
// or sent while it waits to reconnect, are dropped (the listener re-sends after "up").
//
// Thread-safe. Close() cancels the stream and returns once no callback is running.
#pragma once

#include <grpcpp/alarm.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "common/backoff.h"
#include "common/jitter.h"
#include "etcd/etcd_client.h"
#include "etcd/grpc_transport.h"

namespace hb::etcd::internal {

class KeepAliveStream {
 public:
  explicit KeepAliveStream(GrpcTransport& transport);
  ~KeepAliveStream();

  void SetListener(KeepAliveListener* listener);
  void Send(int64_t lease_id);
  void Close();

 private:
  struct Attempt;
  enum class State { kIdle, kConnecting, kUp, kRetryWait, kClosed };

  void Connect();
  void OnStarted(Attempt* attempt, bool ok);
  void OnRead(Attempt* attempt, bool ok);
  void OnWritten(Attempt* attempt, bool ok);
  void OnFinished(Attempt* attempt);
  void OnRetryAlarm(bool ok);
  void StartFinish(Attempt* attempt) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeWrite(Attempt* attempt) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OpDone(Attempt* attempt) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NotifyState(bool up, const absl::Status& why);
  void ReapRetired() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Idle() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  GrpcTransport& transport_;
  Jitter jitter_;

  absl::Mutex mu_;
  KeepAliveListener* listener_ ABSL_GUARDED_BY(mu_) = nullptr;
  State state_ ABSL_GUARDED_BY(mu_) = State::kIdle;
  bool reported_up_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<Attempt> attempt_ ABSL_GUARDED_BY(mu_);
  // Broken streams whose last operations have not completed yet.
  std::vector<std::unique_ptr<Attempt>> retired_ ABSL_GUARDED_BY(mu_);
  std::deque<int64_t> queue_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<int64_t> queued_ ABSL_GUARDED_BY(mu_);
  Backoff backoff_ ABSL_GUARDED_BY(mu_);
  grpc::Alarm alarm_;
  std::unique_ptr<Tag> alarm_tag_;
  bool alarm_pending_ ABSL_GUARDED_BY(mu_) = false;
  int callbacks_running_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hb::etcd::internal
