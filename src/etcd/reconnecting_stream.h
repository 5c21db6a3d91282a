// ReconnectingStream: one long-lived bidirectional gRPC stream to etcd that comes back after
// every failure (internal to src/etcd). The keep-alive stream and each watch are built on it.
//
// It owns the stream's life cycle: the attempts (one gRPC call each) and the operations
// each has queued on the completion queue, the attempts retired while their last operations
// complete, Finish, the reconnect backoff (capped, jittered) and its alarm, and Close(). A
// concrete stream supplies what it sends and what it does with what it reads, through the
// hooks below. Hooks run with the stream's lock held; what must reach a listener goes into
// `later`, run once the lock is released (Close() waits for those calls too).
//
//   kIdle --Connect()--> kConnecting --started--> kUp --read/write failed, etcd ended it--+
//                            ^                                                            |
//                            +--------- backoff alarm <-- kRetryWait <--------------------+
//   OnMessage() returning false ends the stream for good (kDone); Close() -> kClosed.
//
// Thread-safe. Subclasses call Close() in their destructor, before their members go.
#pragma once

#include <grpcpp/alarm.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/backoff.h"
#include "common/jitter.h"
#include "etcd/grpc_transport.h"

namespace hb::etcd::internal {

template <typename Request, typename Response>
class ReconnectingStream {
 public:
  ReconnectingStream(const ReconnectingStream&) = delete;
  ReconnectingStream& operator=(const ReconnectingStream&) = delete;

  // Cancels the stream and returns once no operation or callback of it is running.
  // Idempotent.
  void Close();

 protected:
  using Stream = grpc::ClientAsyncReaderWriter<Request, Response>;
  // What to run once the lock is released; rarely more than one call, so kept inline.
  using Later = absl::InlinedVector<std::function<void()>, 2>;
  enum class State { kIdle, kConnecting, kUp, kRetryWait, kDone, kClosed };

  // `name` names the stream in log lines ("keep-alive", "watch").
  ReconnectingStream(GrpcTransport& transport, std::string name);
  virtual ~ReconnectingStream();

  // Opens a new attempt (from kIdle, or kConnecting set by the caller under the lock).
  void Connect() ABSL_LOCKS_EXCLUDED(mu_);

  // --- hooks, called with mu_ held ---
  // The gRPC call of a new attempt.
  virtual std::unique_ptr<Stream> Open(Connection& conn, grpc::ClientContext* ctx,
                                       grpc::CompletionQueue* cq) = 0;
  // The call started (state kUp, reading): send what the stream needs.
  virtual void OnUp(Later& later) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // A message arrived; false ends the stream for good.
  virtual bool OnMessage(const Response& response, Later& later)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // The write in flight completed: the next one may go.
  virtual void OnWritable(Later& /*later*/) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {}
  // The attempt ended (`why` is never OK); a reconnect follows after `retry_in`.
  virtual void OnDown(const absl::Status& why, absl::Duration retry_in, Later& later)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // Close() began: drop listeners.
  virtual void OnClose() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {}

  // --- for the hooks and subclasses, with mu_ held ---
  // Writes on the current attempt; false when one write is in flight already or the stream
  // is not up (one write at a time: the request buffer lives until it completes). With
  // `more`, gRPC may hold the message back until the next write without it, so that a burst
  // of requests leaves in one send instead of one each.
  bool Write(const Request& request, bool more = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Writing() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stream works: the next failure reconnects after the initial delay again.
  void ResetBackoff() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { backoff_.Reset(); }
  // Stall watchdog (streams whose every request gets one answer): a request was written
  // that expects an answer / an answer arrived. When requests wait and nothing arrives
  // for ClientOptions::stall_timeout, the member is taken as not answering: the transport
  // fails over and the attempt is cancelled (then reconnects, to the next endpoint).
  void ExpectAnswer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Answered() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  GrpcTransport& transport_;
  absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kIdle;

 private:
  struct Attempt;

  // The auth token for a new attempt on `conn` is ready (or authentication failed).
  void OpenAttempt(const std::shared_ptr<Connection>& conn, absl::Status ready,
                   const std::string& token) ABSL_LOCKS_EXCLUDED(mu_);
  void OnStarted(Attempt* a, bool ok);
  void OnRead(Attempt* a, bool ok);
  void OnWritten(Attempt* a, bool ok);
  void OnFinished(Attempt* a);
  void OnRetryAlarm(bool ok);
  void OnWatchdog(bool ok);
  void ArmWatchdog(absl::Time at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When the operation that completed failed, or the stream is over: finishes the attempt
  // (completing that operation) and returns true.
  bool FinishIfFailed(Attempt* a, bool ok) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReadNext(Attempt* a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartFinish(Attempt* a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OpDone(Attempt* a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReapRetired() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Idle() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool Over() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return state_ == State::kClosed || state_ == State::kDone;
  }
  // Before the lock is released: counts `later` as running, so that Close() waits for it.
  void CountLater(const Later& later) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After: runs `later` (counted by CountLater()) without the lock.
  void RunLater(Later later) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string name_;
  Jitter jitter_;
  std::unique_ptr<Attempt> attempt_ ABSL_GUARDED_BY(mu_);
  // Broken attempts whose last operations have not completed yet.
  std::vector<std::unique_ptr<Attempt>> retired_ ABSL_GUARDED_BY(mu_);
  Backoff backoff_ ABSL_GUARDED_BY(mu_);
  grpc::Alarm alarm_;
  std::unique_ptr<FnTag> alarm_tag_;
  bool alarm_pending_ ABSL_GUARDED_BY(mu_) = false;
  // Stall watchdog: answers owed on the current attempt, since when one has been awaited
  // (monotonic), and its alarm.
  int64_t owed_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time awaiting_since_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  grpc::Alarm watchdog_;
  std::unique_ptr<FnTag> watchdog_tag_;
  bool watchdog_pending_ ABSL_GUARDED_BY(mu_) = false;
  int callbacks_running_ ABSL_GUARDED_BY(mu_) = 0;
  int token_waits_ ABSL_GUARDED_BY(mu_) = 0;  // Connect()s waiting for an auth token
};

}  // namespace hb::etcd::internal
