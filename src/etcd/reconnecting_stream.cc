#include "etcd/reconnecting_stream.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"

namespace hb::etcd::internal {

// One gRPC call; lives until its last queued operation has completed.
template <typename Request, typename Response>
struct ReconnectingStream<Request, Response>::Attempt {
  std::shared_ptr<Connection> conn;
  grpc::ClientContext ctx;
  std::unique_ptr<Stream> rw;
  Request write_request;
  Response read_response;
  grpc::Status finish_status;
  std::unique_ptr<FnTag> start_tag, read_tag, write_tag, finish_tag;
  int ops = 0;  // queued operations not yet completed
  bool writing = false;
  bool finishing = false;
  bool finished = false;
  bool stalled = false;  // cancelled by the stall watchdog
};

template <typename Request, typename Response>
ReconnectingStream<Request, Response>::ReconnectingStream(GrpcTransport& transport,
                                                          std::string name)
    : transport_(transport),
      name_(std::move(name)),
      jitter_(transport.NextJitterSeed()),
      backoff_(transport.options().reconnect) {
  alarm_tag_ = std::make_unique<FnTag>([this](bool ok) { OnRetryAlarm(ok); });
  watchdog_tag_ = std::make_unique<FnTag>([this](bool ok) { OnWatchdog(ok); });
}

template <typename Request, typename Response>
ReconnectingStream<Request, Response>::~ReconnectingStream() = default;

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::Connect() {
  std::shared_ptr<Connection> conn = transport_.Current();
  {
    absl::MutexLock lock(&mu_);
    if (Over()) return;
    state_ = State::kConnecting;
    ++token_waits_;  // Close() waits for the token callback
  }
  transport_.WithToken(conn, [this, conn](absl::Status ready, const std::string& token) {
    OpenAttempt(conn, std::move(ready), token);
  });
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::OpenAttempt(const std::shared_ptr<Connection>& conn,
                                                        absl::Status ready,
                                                        const std::string& token) {
  auto attempt = std::make_unique<Attempt>();
  attempt->conn = conn;
  Attempt* failed = nullptr;
  {
    absl::MutexLock lock(&mu_);
    --token_waits_;
    if (Over()) return;
    ReapRetired();
    if (attempt_ != nullptr) retired_.push_back(std::move(attempt_));
    if (ready.ok() && transport_.BeginOp()) {
      Attempt* a = attempt.get();
      transport_.Prepare(&a->ctx, token, /*deadline=*/false);
      a->start_tag = std::make_unique<FnTag>([this, a](bool ok) { OnStarted(a, ok); });
      a->read_tag = std::make_unique<FnTag>([this, a](bool ok) { OnRead(a, ok); });
      a->write_tag = std::make_unique<FnTag>([this, a](bool ok) { OnWritten(a, ok); });
      a->finish_tag = std::make_unique<FnTag>([this, a](bool) { OnFinished(a); });
      a->rw = Open(*a->conn, &a->ctx, transport_.cq());
      a->ops = 1;
      a->rw->StartCall(a->start_tag.get());
      attempt_ = std::move(attempt);
      return;
    }
    attempt->finish_status =
        ready.ok() ? grpc::Status(grpc::StatusCode::CANCELLED, "etcd client is shutting down")
                   : ToGrpc(ready);
    attempt->finished = true;  // nothing was queued for it
    attempt_ = std::move(attempt);
    failed = attempt_.get();
  }
  OnFinished(failed);
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::ReapRetired() {
  retired_.erase(std::remove_if(retired_.begin(), retired_.end(),
                                [](const std::unique_ptr<Attempt>& a) { return a->ops == 0; }),
                 retired_.end());
}

template <typename Request, typename Response>
bool ReconnectingStream<Request, Response>::Idle() const {
  if (callbacks_running_ > 0 || alarm_pending_ || watchdog_pending_ || token_waits_ > 0) {
    return false;
  }
  if (attempt_ != nullptr && attempt_->ops > 0) return false;
  for (const auto& a : retired_) {
    if (a->ops > 0) return false;
  }
  return true;
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::OnStarted(Attempt* a, bool ok) {
  Later later;
  {
    absl::MutexLock lock(&mu_);
    if (FinishIfFailed(a, ok)) return;
    state_ = State::kUp;
    owed_ = 0;
    awaiting_since_ = absl::InfiniteFuture();
    ReadNext(a);
    OnUp(later);
    OpDone(a);
    CountLater(later);
  }
  RunLater(std::move(later));
}

template <typename Request, typename Response>
bool ReconnectingStream<Request, Response>::Write(const Request& request, bool more) {
  Attempt* a = attempt_.get();
  if (state_ != State::kUp || a == nullptr || a->writing || a->finishing) return false;
  a->write_request = request;
  a->writing = true;
  ++a->ops;
  grpc::WriteOptions options;
  if (more) options.set_buffer_hint();  // sent with the next write that has no hint
  a->rw->Write(a->write_request, options, a->write_tag.get());
  return true;
}

template <typename Request, typename Response>
bool ReconnectingStream<Request, Response>::Writing() const {
  return attempt_ != nullptr && attempt_->writing;
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::OnWritten(Attempt* a, bool ok) {
  Later later;
  {
    absl::MutexLock lock(&mu_);
    a->writing = false;
    // A failed write also fails the pending read, which finishes the attempt.
    if (ok && state_ == State::kUp && a == attempt_.get()) OnWritable(later);
    OpDone(a);
    CountLater(later);
  }
  RunLater(std::move(later));
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::OnRead(Attempt* a, bool ok) {
  Later later;
  {
    absl::MutexLock lock(&mu_);
    if (FinishIfFailed(a, ok)) return;
    if (OnMessage(a->read_response, later)) {
      ReadNext(a);
    } else {
      state_ = State::kDone;
      a->ctx.TryCancel();
      StartFinish(a);
    }
    OpDone(a);
    CountLater(later);
  }
  RunLater(std::move(later));
}

template <typename Request, typename Response>
bool ReconnectingStream<Request, Response>::FinishIfFailed(Attempt* a, bool ok) {
  if (ok && !Over()) return false;
  StartFinish(a);
  OpDone(a);
  return true;
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::ReadNext(Attempt* a) {
  ++a->ops;
  a->rw->Read(&a->read_response, a->read_tag.get());
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::StartFinish(Attempt* a) {
  if (a->finishing) return;
  a->finishing = true;
  ++a->ops;
  a->rw->Finish(&a->finish_status, a->finish_tag.get());
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::OpDone(Attempt* a) {
  if (--a->ops == 0) transport_.EndOp();
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::OnFinished(Attempt* a) {
  Later later;
  {
    absl::MutexLock lock(&mu_);
    if (!a->finished) {
      a->finished = true;
      OpDone(a);
    }
    if (Over()) return;
    absl::Status why = FromGrpc(a->finish_status);
    if (a->stalled) {
      why = absl::DeadlineExceededError(name_ + " stream: etcd member not answering");
    } else {
      transport_.OnResult(a->conn, a->finish_status);  // the watchdog reported it already
    }
    if (why.ok()) why = absl::UnavailableError(name_ + " stream closed by etcd");
    state_ = State::kRetryWait;
    absl::Duration delay = backoff_.Next(jitter_);
    alarm_pending_ = true;
    alarm_.Set(transport_.cq(), transport_.GrpcDeadline(delay), alarm_tag_.get());
    LogDebug(name_ + " stream down; reconnecting",
             {{"error", std::string(why.message())},
              {"retry_in", absl::FormatDuration(absl::Trunc(delay, absl::Milliseconds(1)))}});
    OnDown(why, delay, later);
    CountLater(later);
  }
  RunLater(std::move(later));
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::OnRetryAlarm(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    alarm_pending_ = false;
    if (!ok || Over()) return;
  }
  Connect();
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::ExpectAnswer() {
  if (owed_++ == 0) awaiting_since_ = RealClock::Get().Now();
  absl::Duration stall = transport_.options().stall_timeout;
  if (stall > absl::ZeroDuration() && !watchdog_pending_) ArmWatchdog(awaiting_since_ + stall);
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::Answered() {
  if (owed_ > 0) --owed_;
  awaiting_since_ = owed_ > 0 ? RealClock::Get().Now() : absl::InfiniteFuture();
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::ArmWatchdog(absl::Time at) {
  watchdog_pending_ = true;
  absl::Duration in = std::max(absl::ZeroDuration(), at - RealClock::Get().Now());
  watchdog_.Set(transport_.cq(), transport_.GrpcDeadline(in), watchdog_tag_.get());
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::OnWatchdog(bool ok) {
  absl::MutexLock lock(&mu_);
  watchdog_pending_ = false;
  if (!ok || Over() || owed_ == 0 || state_ != State::kUp) return;
  absl::Duration stall = transport_.options().stall_timeout;
  absl::Time now = RealClock::Get().Now();
  if (now < awaiting_since_ + stall) {
    ArmWatchdog(awaiting_since_ + stall);  // an answer came meanwhile; others are owed
    return;
  }
  Attempt* a = attempt_.get();
  if (a == nullptr || a->finishing) return;
  a->stalled = true;
  transport_.OnStalled(a->conn, absl::StrCat(name_, " stream: no answer for ",
                                             absl::FormatDuration(absl::Trunc(
                                                 now - awaiting_since_, absl::Milliseconds(1)))));
  owed_ = 0;
  awaiting_since_ = absl::InfiniteFuture();
  a->ctx.TryCancel();  // the pending read fails and finishes the attempt
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::CountLater(const Later& later) {
  if (!later.empty()) ++callbacks_running_;  // Close() now waits for RunLater()
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::RunLater(Later later) {
  if (later.empty()) return;
  for (auto& fn : later) fn();
  absl::MutexLock lock(&mu_);
  --callbacks_running_;
}

template <typename Request, typename Response>
void ReconnectingStream<Request, Response>::Close() {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kClosed && attempt_ == nullptr) return;
  state_ = State::kClosed;
  OnClose();
  if (attempt_ != nullptr && !attempt_->finished) attempt_->ctx.TryCancel();
  if (alarm_pending_) alarm_.Cancel();
  if (watchdog_pending_) watchdog_.Cancel();
  mu_.Await(absl::Condition(this, &ReconnectingStream::Idle));
  attempt_.reset();
  retired_.clear();
}

template class ReconnectingStream<etcdserverpb::LeaseKeepAliveRequest,
                                  etcdserverpb::LeaseKeepAliveResponse>;
template class ReconnectingStream<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;

}  // namespace hb::etcd::internal
