#include "etcd/watch_stream.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace hb::etcd::internal {

using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;

struct WatchStream::Attempt {
  std::shared_ptr<Connection> conn;
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<WatchRequest, WatchResponse>> rw;
  WatchRequest create;
  WatchResponse response;
  grpc::Status finish_status;
  std::unique_ptr<FnTag> start_tag, write_tag, read_tag, finish_tag;
  int ops = 0;
  bool finishing = false;
  bool finished = false;
};

namespace {

KeyValue FromProto(const mvccpb::KeyValue& kv) {
  return KeyValue{kv.key(),          kv.value(),  kv.lease(), kv.create_revision(),
                  kv.mod_revision(), kv.version()};
}

}  // namespace

WatchStream::WatchStream(GrpcTransport& transport, hb::etcd::WatchRequest request,
                         WatchListener* listener)
    : transport_(transport),
      request_(std::move(request)),
      listener_(listener),
      jitter_(Jitter::RandomSeed()),
      next_revision_(request_.start_revision),
      backoff_(transport.options().reconnect) {
  alarm_tag_ = std::make_unique<FnTag>([this](bool ok) { OnRetryAlarm(ok); });
  Connect();
}

WatchStream::~WatchStream() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  if (attempt_ != nullptr && !attempt_->finished) attempt_->ctx.TryCancel();
  if (alarm_pending_) alarm_.Cancel();
  mu_.Await(absl::Condition(this, &WatchStream::Idle));
}

bool WatchStream::Idle() const {
  if (callbacks_running_ > 0 || alarm_pending_) return false;
  if (attempt_ != nullptr && attempt_->ops > 0) return false;
  for (const auto& a : retired_) {
    if (a->ops > 0) return false;
  }
  return true;
}

void WatchStream::ReapRetired() {
  retired_.erase(std::remove_if(retired_.begin(), retired_.end(),
                                [](const std::unique_ptr<Attempt>& a) { return a->ops == 0; }),
                 retired_.end());
}

void WatchStream::Connect() {
  auto attempt = std::make_unique<Attempt>();
  attempt->conn = transport_.Current();
  absl::Status prepared = transport_.PrepareContext(*attempt->conn, &attempt->ctx, false);
  Attempt* failed = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    ReapRetired();
    if (attempt_ != nullptr) retired_.push_back(std::move(attempt_));
    if (prepared.ok() && transport_.BeginOp()) {
      Attempt* a = attempt.get();
      auto* create = a->create.mutable_create_request();
      create->set_key(request_.key);
      create->set_range_end(request_.range_end);
      create->set_start_revision(next_revision_);
      create->set_prev_kv(request_.prev_kv);
      create->set_progress_notify(true);
      a->start_tag = std::make_unique<FnTag>([this, a](bool ok) { OnStarted(a, ok); });
      a->write_tag = std::make_unique<FnTag>([this, a](bool ok) { OnWritten(a, ok); });
      a->read_tag = std::make_unique<FnTag>([this, a](bool ok) { OnRead(a, ok); });
      a->finish_tag = std::make_unique<FnTag>([this, a](bool) { OnFinished(a); });
      a->rw = a->conn->watch->PrepareAsyncWatch(&a->ctx, transport_.cq());
      a->ops = 1;
      a->rw->StartCall(a->start_tag.get());
      attempt_ = std::move(attempt);
      return;
    }
    attempt->finish_status =
        prepared.ok() ? grpc::Status(grpc::StatusCode::CANCELLED, "etcd client is shutting down")
                      : ToGrpc(prepared);
    attempt->finished = true;
    attempt_ = std::move(attempt);
    failed = attempt_.get();
  }
  OnFinished(failed);
}

void WatchStream::OnStarted(Attempt* a, bool ok) {
  absl::MutexLock lock(&mu_);
  if (!ok || closed_) {
    StartFinish(a);
  } else {
    a->ops += 2;
    a->rw->Write(a->create, a->write_tag.get());
    a->rw->Read(&a->response, a->read_tag.get());
  }
  OpDone(a);
}

void WatchStream::OnWritten(Attempt* a, bool /*ok*/) {
  absl::MutexLock lock(&mu_);
  OpDone(a);  // a failed write also fails the pending read, which finishes the stream
}

void WatchStream::OnRead(Attempt* a, bool ok) {
  std::vector<WatchEvent> events;
  absl::Status error;
  bool fatal = false;
  {
    absl::MutexLock lock(&mu_);
    if (!ok || closed_ || done_) {
      StartFinish(a);
      OpDone(a);
      return;
    }
    const WatchResponse& r = a->response;
    if (r.compact_revision() != 0 || r.canceled()) {
      fatal = true;
      error = r.compact_revision() != 0
                  ? absl::OutOfRangeError(
                        absl::StrCat("etcd watch start revision was compacted (oldest available: ",
                                     r.compact_revision(), ")"))
                  : absl::FailedPreconditionError(absl::StrCat(
                        "etcd cancelled the watch: ",
                        r.cancel_reason().empty() ? "no reason given" : r.cancel_reason()));
      done_ = true;
      a->ctx.TryCancel();
      StartFinish(a);
    } else {
      backoff_.Reset();
      for (const auto& e : r.events()) {
        WatchEvent event;
        event.type =
            e.type() == mvccpb::Event::DELETE ? WatchEvent::Type::kDelete : WatchEvent::Type::kPut;
        event.kv = FromProto(e.kv());
        event.has_prev_kv = e.has_prev_kv();
        if (event.has_prev_kv) event.prev_kv = FromProto(e.prev_kv());
        events.push_back(std::move(event));
      }
      if (r.header().revision() >= next_revision_) next_revision_ = r.header().revision() + 1;
      ++a->ops;
      a->rw->Read(&a->response, a->read_tag.get());
    }
    OpDone(a);
    if (events.empty() && !fatal) return;
    ++callbacks_running_;
  }
  Deliver(std::move(events), error, fatal);
}

void WatchStream::Deliver(std::vector<WatchEvent> events, absl::Status error, bool fatal) {
  if (!events.empty()) listener_->OnWatchEvents(events);
  if (!error.ok()) listener_->OnWatchError(error, fatal);
  absl::MutexLock lock(&mu_);
  --callbacks_running_;
}

void WatchStream::StartFinish(Attempt* a) {
  if (a->finishing) return;
  a->finishing = true;
  ++a->ops;
  a->rw->Finish(&a->finish_status, a->finish_tag.get());
}

void WatchStream::OpDone(Attempt* a) {
  if (--a->ops == 0) transport_.EndOp();
}

void WatchStream::OnFinished(Attempt* a) {
  absl::Status why = FromGrpc(a->finish_status);
  {
    absl::MutexLock lock(&mu_);
    if (!a->finished) {
      a->finished = true;
      OpDone(a);
    }
    if (closed_ || done_) return;
    transport_.OnResult(a->conn, a->finish_status);
    if (why.ok()) why = absl::UnavailableError("watch stream closed by etcd");
    absl::Duration delay = backoff_.Next(jitter_);
    alarm_pending_ = true;
    alarm_.Set(transport_.cq(), absl::ToChronoTime(absl::Now() + delay), alarm_tag_.get());
    ++callbacks_running_;
  }
  Deliver({}, why, /*fatal=*/false);
}

void WatchStream::OnRetryAlarm(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    alarm_pending_ = false;
    if (!ok || closed_ || done_) return;
  }
  Connect();
}

}  // namespace hb::etcd::internal
