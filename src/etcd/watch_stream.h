// WatchStream: one etcd watch on its own gRPC stream (internal to src/etcd).
//
// Opens the stream, sends one WatchCreateRequest and hands each batch of events to the
// listener. When the stream breaks it is re-opened with capped, jittered backoff from the
// revision after the last one delivered, so no event is lost or repeated; a compacted
// start revision or a refused watch ends it (fatal). Destroying it cancels the stream and
// returns once no callback is running. Thread-safe.
#pragma once

#include <grpcpp/alarm.h>

#include <memory>
#include <vector>

#include "common/backoff.h"
#include "common/jitter.h"
#include "etcd/etcd_client.h"
#include "etcd/grpc_transport.h"

namespace hb::etcd::internal {

class WatchStream final : public WatchHandle {
 public:
  WatchStream(GrpcTransport& transport, WatchRequest request, WatchListener* listener);
  ~WatchStream() override;

 private:
  struct Attempt;

  void Connect();
  void OnStarted(Attempt* a, bool ok);
  void OnWritten(Attempt* a, bool ok);
  void OnRead(Attempt* a, bool ok);
  void OnFinished(Attempt* a);
  void OnRetryAlarm(bool ok);
  void StartFinish(Attempt* a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OpDone(Attempt* a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReapRetired() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Idle() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void Deliver(std::vector<WatchEvent> events, absl::Status error, bool fatal);

  GrpcTransport& transport_;
  const WatchRequest request_;
  WatchListener* const listener_;
  Jitter jitter_;

  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // fatal error delivered
  int64_t next_revision_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Attempt> attempt_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Attempt>> retired_ ABSL_GUARDED_BY(mu_);
  Backoff backoff_ ABSL_GUARDED_BY(mu_);
  grpc::Alarm alarm_;
  std::unique_ptr<FnTag> alarm_tag_;
  bool alarm_pending_ ABSL_GUARDED_BY(mu_) = false;
  int callbacks_running_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hb::etcd::internal
