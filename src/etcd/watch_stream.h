// WatchStream: one etcd watch on its own gRPC stream (internal to src/etcd), on a
// ReconnectingStream.
//
// Opens the stream, sends one WatchCreateRequest and hands each batch of events to the
// listener. When the stream breaks it is re-opened with capped, jittered backoff from the
// revision after the last one delivered, so no event is lost or repeated; a compacted
// start revision or a refused watch ends it (fatal). Destroying it cancels the stream and
// returns once no callback is running. Thread-safe.
#pragma once

#include <memory>

#include "etcd/etcd_client.h"
#include "etcd/reconnecting_stream.h"

namespace hb::etcd::internal {

class WatchStream final
    : public WatchHandle,
      public ReconnectingStream<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse> {
 public:
  WatchStream(GrpcTransport& transport, hb::etcd::WatchRequest request, WatchListener* listener);
  ~WatchStream() override;

 private:
  std::unique_ptr<Stream> Open(Connection& conn, grpc::ClientContext* ctx,
                               grpc::CompletionQueue* cq) override;
  void OnUp(Later& later) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool OnMessage(const etcdserverpb::WatchResponse& response, Later& later) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnDown(const absl::Status& why, absl::Duration retry_in, Later& later) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const hb::etcd::WatchRequest request_;
  WatchListener* const listener_;
  int64_t next_revision_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb::etcd::internal
