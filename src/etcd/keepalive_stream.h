// KeepAliveStream: the one multiplexed LeaseKeepAlive stream of a GrpcEtcdClient
// (internal to src/etcd), on a ReconnectingStream.
//
// Send() queues a lease id (at most once while queued) and returns at once; the queue is
// drained onto the stream one message in flight at a time. Answers are handed to the
// listener as they arrive. The stream is opened on the first Send() and re-opened after any
// failure with capped, jittered backoff; the listener hears each up/down change once. Ids
// queued when the stream breaks, or sent while it waits to reconnect, are dropped (the
// listener re-sends after "up").
//
// Thread-safe. Close() cancels the stream and returns once no callback is running.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "etcd/etcd_client.h"
#include "etcd/reconnecting_stream.h"

namespace hb::etcd::internal {

class KeepAliveStream final : public ReconnectingStream<etcdserverpb::LeaseKeepAliveRequest,
                                                        etcdserverpb::LeaseKeepAliveResponse> {
 public:
  explicit KeepAliveStream(GrpcTransport& transport);
  ~KeepAliveStream() override;

  void SetListener(KeepAliveListener* listener);
  void Send(int64_t lease_id);

 private:
  std::unique_ptr<Stream> Open(Connection& conn, grpc::ClientContext* ctx,
                               grpc::CompletionQueue* cq) override;
  void OnUp(Later& later) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool OnMessage(const etcdserverpb::LeaseKeepAliveResponse& response, Later& later) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnWritable(Later& later) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnDown(const absl::Status& why, absl::Duration retry_in, Later& later) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnClose() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands the answers collected so far to the listener (outside the lock).
  void DeliverAnswers();

  struct Answer {
    int64_t id;
    int64_t ttl;
  };

  KeepAliveListener* listener_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool reported_up_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<int64_t> queue_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<int64_t> queued_ ABSL_GUARDED_BY(mu_);
  // Answers read and not yet delivered; one delivery call takes them all, so that reading
  // thousands of answers a second allocates nothing per answer.
  std::vector<Answer> answers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb::etcd::internal
