#include "etcd/keepalive_stream.h"

#include <algorithm>
#include <functional>

#include "common/log.h"

namespace hb::etcd::internal {

using etcdserverpb::LeaseKeepAliveRequest;
using etcdserverpb::LeaseKeepAliveResponse;

// One gRPC stream; lives until its last queued operation has completed.
struct KeepAliveStream::Attempt {
  std::shared_ptr<Connection> conn;
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<LeaseKeepAliveRequest, LeaseKeepAliveResponse>> rw;
  LeaseKeepAliveRequest write_request;
  LeaseKeepAliveResponse read_response;
  grpc::Status finish_status;
  std::unique_ptr<FnTag> start_tag, read_tag, write_tag, finish_tag;
  int ops = 0;  // queued operations not yet completed
  bool writing = false;
  bool finishing = false;
  bool finished = false;
};

KeepAliveStream::KeepAliveStream(GrpcTransport& transport)
    : transport_(transport),
      jitter_(Jitter::RandomSeed()),
      backoff_(transport.options().reconnect) {
  alarm_tag_ = std::make_unique<FnTag>([this](bool ok) { OnRetryAlarm(ok); });
}

KeepAliveStream::~KeepAliveStream() { Close(); }

void KeepAliveStream::SetListener(KeepAliveListener* listener) {
  absl::MutexLock lock(&mu_);
  listener_ = listener;
}

void KeepAliveStream::Send(int64_t lease_id) {
  bool connect = false;
  {
    absl::MutexLock lock(&mu_);
    if (state_ == State::kClosed) return;
    if (state_ == State::kIdle) {
      state_ = State::kConnecting;
      connect = true;
    }
    if (state_ == State::kRetryWait) return;  // dropped: the listener re-sends on "up"
    if (queued_.insert(lease_id).second) queue_.push_back(lease_id);
    if (state_ == State::kUp) MaybeWrite(attempt_.get());
  }
  if (connect) Connect();
}

void KeepAliveStream::Connect() {
  auto attempt = std::make_unique<Attempt>();
  attempt->conn = transport_.Current();
  absl::Status prepared = transport_.PrepareContext(*attempt->conn, &attempt->ctx, false);
  Attempt* failed = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (state_ == State::kClosed) return;
    ReapRetired();
    if (attempt_ != nullptr) retired_.push_back(std::move(attempt_));
    if (prepared.ok() && transport_.BeginOp()) {
      Attempt* a = attempt.get();
      a->start_tag = std::make_unique<FnTag>([this, a](bool ok) { OnStarted(a, ok); });
      a->read_tag = std::make_unique<FnTag>([this, a](bool ok) { OnRead(a, ok); });
      a->write_tag = std::make_unique<FnTag>([this, a](bool ok) { OnWritten(a, ok); });
      a->finish_tag = std::make_unique<FnTag>([this, a](bool) { OnFinished(a); });
      a->rw = a->conn->lease->PrepareAsyncLeaseKeepAlive(&a->ctx, transport_.cq());
      a->ops = 1;
      a->rw->StartCall(a->start_tag.get());
      attempt_ = std::move(attempt);
      return;
    }
    attempt->finish_status =
        prepared.ok() ? grpc::Status(grpc::StatusCode::CANCELLED, "etcd client is shutting down")
                      : ToGrpc(prepared);
    attempt->finished = true;  // nothing was queued for it
    attempt_ = std::move(attempt);
    failed = attempt_.get();
  }
  OnFinished(failed);
}

void KeepAliveStream::ReapRetired() {
  retired_.erase(std::remove_if(retired_.begin(), retired_.end(),
                                [](const std::unique_ptr<Attempt>& a) { return a->ops == 0; }),
                 retired_.end());
}

bool KeepAliveStream::Idle() const {
  if (callbacks_running_ > 0 || alarm_pending_) return false;
  if (attempt_ != nullptr && attempt_->ops > 0) return false;
  for (const auto& a : retired_) {
    if (a->ops > 0) return false;
  }
  return true;
}

void KeepAliveStream::OnStarted(Attempt* a, bool ok) {
  bool notify = false;
  {
    absl::MutexLock lock(&mu_);
    if (!ok || state_ == State::kClosed) {
      StartFinish(a);
      OpDone(a);
      return;
    }
    state_ = State::kUp;
    backoff_.Reset();
    notify = !reported_up_;
    reported_up_ = true;
    ++a->ops;
    a->rw->Read(&a->read_response, a->read_tag.get());
    MaybeWrite(a);
    OpDone(a);
  }
  if (notify) NotifyState(true, absl::OkStatus());
}

void KeepAliveStream::MaybeWrite(Attempt* a) {
  if (a == nullptr || a->writing || a->finishing || queue_.empty()) return;
  int64_t id = queue_.front();
  queue_.pop_front();
  queued_.erase(id);
  a->write_request.set_id(id);
  a->writing = true;
  ++a->ops;
  a->rw->Write(a->write_request, a->write_tag.get());
}

void KeepAliveStream::OnWritten(Attempt* a, bool ok) {
  absl::MutexLock lock(&mu_);
  a->writing = false;
  if (ok && state_ == State::kUp) MaybeWrite(a);
  OpDone(a);
}

void KeepAliveStream::OnRead(Attempt* a, bool ok) {
  int64_t id = 0;
  int64_t ttl = 0;
  KeepAliveListener* listener = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (!ok || state_ == State::kClosed) {
      StartFinish(a);
      OpDone(a);
      return;
    }
    id = a->read_response.id();
    ttl = a->read_response.ttl();
    ++a->ops;
    a->rw->Read(&a->read_response, a->read_tag.get());
    OpDone(a);
    listener = listener_;
    if (listener != nullptr) ++callbacks_running_;
  }
  if (listener == nullptr) return;
  listener->OnKeepAliveResponse(id, ttl);
  absl::MutexLock lock(&mu_);
  --callbacks_running_;
}

void KeepAliveStream::StartFinish(Attempt* a) {
  if (a->finishing) return;
  a->finishing = true;
  ++a->ops;
  a->rw->Finish(&a->finish_status, a->finish_tag.get());
}

void KeepAliveStream::OpDone(Attempt* a) {
  if (--a->ops == 0) transport_.EndOp();
}

void KeepAliveStream::OnFinished(Attempt* a) {
  bool was_up = false;
  absl::Status why = FromGrpc(a->finish_status);
  {
    absl::MutexLock lock(&mu_);
    if (!a->finished) {
      a->finished = true;
      OpDone(a);
    }
    if (state_ == State::kClosed) return;
    transport_.OnResult(a->conn, a->finish_status);
    queue_.clear();
    queued_.clear();
    was_up = reported_up_;
    reported_up_ = false;
    state_ = State::kRetryWait;
    if (why.ok()) why = absl::UnavailableError("keep-alive stream closed by etcd");
    absl::Duration delay = backoff_.Next(jitter_);
    alarm_pending_ = true;
    alarm_.Set(transport_.cq(), absl::ToChronoTime(absl::Now() + delay), alarm_tag_.get());
    LogDebug("keep-alive stream down; reconnecting",
             {{"error", std::string(why.message())},
              {"retry_in", absl::FormatDuration(absl::Trunc(delay, absl::Milliseconds(1)))}});
  }
  if (was_up) NotifyState(false, why);
}

void KeepAliveStream::OnRetryAlarm(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    alarm_pending_ = false;
    if (!ok || state_ == State::kClosed) return;
    state_ = State::kConnecting;
  }
  Connect();
}

void KeepAliveStream::NotifyState(bool up, const absl::Status& why) {
  KeepAliveListener* listener = nullptr;
  {
    absl::MutexLock lock(&mu_);
    listener = listener_;
    if (listener == nullptr || state_ == State::kClosed) return;
    ++callbacks_running_;
  }
  listener->OnKeepAliveStreamState(up, why);
  absl::MutexLock lock(&mu_);
  --callbacks_running_;
}

void KeepAliveStream::Close() {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kClosed && attempt_ == nullptr) return;
  state_ = State::kClosed;
  listener_ = nullptr;
  if (attempt_ != nullptr && !attempt_->finished) attempt_->ctx.TryCancel();
  if (alarm_pending_) alarm_.Cancel();
  mu_.Await(absl::Condition(this, &KeepAliveStream::Idle));
  attempt_.reset();
  retired_.clear();
}

}  // namespace hb::etcd::internal
