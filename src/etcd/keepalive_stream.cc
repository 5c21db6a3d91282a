#include "etcd/keepalive_stream.h"

namespace hb::etcd::internal {

using etcdserverpb::LeaseKeepAliveRequest;
using etcdserverpb::LeaseKeepAliveResponse;

KeepAliveStream::KeepAliveStream(GrpcTransport& transport)
    : ReconnectingStream(transport, "keep-alive") {}

KeepAliveStream::~KeepAliveStream() { Close(); }

void KeepAliveStream::SetListener(KeepAliveListener* listener) {
  absl::MutexLock lock(&mu_);
  listener_ = listener;
}

void KeepAliveStream::Send(int64_t lease_id) {
  bool connect = false;
  {
    absl::MutexLock lock(&mu_);
    if (state_ == State::kClosed || state_ == State::kDone) return;
    if (state_ == State::kIdle) {
      state_ = State::kConnecting;
      connect = true;
    }
    if (state_ == State::kRetryWait) return;  // dropped: the listener re-sends on "up"
    if (queued_.insert(lease_id).second) queue_.push_back(lease_id);
    if (state_ == State::kUp) MaybeWrite();
  }
  if (connect) Connect();
}

std::unique_ptr<KeepAliveStream::Stream> KeepAliveStream::Open(Connection& conn,
                                                               grpc::ClientContext* ctx,
                                                               grpc::CompletionQueue* cq) {
  return conn.lease->PrepareAsyncLeaseKeepAlive(ctx, cq);
}

void KeepAliveStream::MaybeWrite() {
  if (queue_.empty() || Writing()) return;
  LeaseKeepAliveRequest request;
  request.set_id(queue_.front());
  if (!Write(request, /*more=*/queue_.size() > 1)) return;
  ExpectAnswer();
  queued_.erase(queue_.front());
  queue_.pop_front();
}

void KeepAliveStream::OnUp(Later& later) {
  ResetBackoff();
  MaybeWrite();
  bool notify = !reported_up_ && listener_ != nullptr;
  reported_up_ = true;
  if (!notify) return;
  KeepAliveListener* listener = listener_;
  later.push_back([listener] { listener->OnKeepAliveStreamState(true, absl::OkStatus()); });
}

bool KeepAliveStream::OnMessage(const LeaseKeepAliveResponse& response, Later& later) {
  Answered();
  if (listener_ == nullptr) return true;
  answers_.push_back(Answer{response.id(), response.ttl()});
  if (answers_.size() == 1) later.push_back([this] { DeliverAnswers(); });
  return true;
}

void KeepAliveStream::DeliverAnswers() {
  // One buffer per completion-queue thread, swapped with answers_: capacities are reused.
  thread_local std::vector<Answer> batch;
  KeepAliveListener* listener;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(answers_);
    listener = listener_;
  }
  if (listener != nullptr) {
    for (const Answer& a : batch) listener->OnKeepAliveResponse(a.id, a.ttl);
  }
  batch.clear();
}

void KeepAliveStream::OnWritable(Later& /*later*/) { MaybeWrite(); }

void KeepAliveStream::OnDown(const absl::Status& why, absl::Duration /*retry_in*/, Later& later) {
  queue_.clear();
  queued_.clear();
  bool was_up = reported_up_;
  reported_up_ = false;
  if (!was_up || listener_ == nullptr) return;
  KeepAliveListener* listener = listener_;
  later.push_back([listener, why] { listener->OnKeepAliveStreamState(false, why); });
}

void KeepAliveStream::OnClose() { listener_ = nullptr; }

}  // namespace hb::etcd::internal
