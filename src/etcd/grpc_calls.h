// UnaryCall: one asynchronous unary RPC on the transport's completion queue (internal).
//
// Run() picks the current connection, waits for its auth token (asynchronously), prepares
// the context (deadline, token), starts the call and deletes itself after handing the
// result to `done` on a completion-queue thread. A call refused for an expired auth token is
// retried once with a fresh token; a call cancelled because the client failed over from its
// endpoint is retried once on the next one.
#pragma once

#include <functional>
#include <memory>

#include "etcd/grpc_transport.h"
#include "google/protobuf/arena.h"

namespace hb::etcd::internal {

template <typename Response>
class UnaryCall final : public Tag {
 public:
  using Reader = grpc::ClientAsyncResponseReader<Response>;
  using Starter = std::function<std::unique_ptr<Reader>(Connection&, grpc::ClientContext*,
                                                        grpc::CompletionQueue*)>;
  using Done = std::function<void(const grpc::Status&, Response&)>;

  static void Run(GrpcTransport& transport, Starter starter, Done done) {
    (new UnaryCall(transport, std::move(starter), std::move(done)))->Start();
  }

  void Proceed(bool /*ok*/) override {
    bool moved = transport_.Untrack(*conn_, ctx_.get(), status_);
    bool retry = transport_.OnResult(conn_, status_) || moved;
    if (retry && !retried_) {
      retried_ = true;
      transport_.EndOp();
      Start();
      return;
    }
    done_(status_, *response_);
    transport_.EndOp();
    delete this;
  }

 private:
  UnaryCall(GrpcTransport& transport, Starter starter, Done done)
      : transport_(transport), starter_(std::move(starter)), done_(std::move(done)) {}

  void Start() {
    if (!transport_.BeginOp()) {
      Fail(grpc::Status(grpc::StatusCode::CANCELLED, "etcd client is shutting down"));
      return;
    }
    conn_ = transport_.Current();
    transport_.WithToken(conn_, [this](absl::Status ready, const std::string& token) {
      Launch(std::move(ready), token);
    });
  }

  // The token is known (or authentication failed): sends the call.
  void Launch(absl::Status ready, const std::string& token) {
    if (!ready.ok()) {
      transport_.OnResult(conn_, ToGrpc(ready));
      transport_.EndOp();
      Fail(ToGrpc(ready));
      return;
    }
    ctx_ = std::make_unique<grpc::ClientContext>();
    transport_.Prepare(ctx_.get(), token, /*deadline=*/true);
    // Failed over from while the token was fetched: start again on the current connection.
    if (!transport_.Track(*conn_, ctx_.get()) && !moved_) {
      moved_ = true;
      conn_ = transport_.Current();
      transport_.WithToken(conn_, [this](absl::Status again, const std::string& fresh) {
        Launch(std::move(again), fresh);
      });
      return;
    }
    response_->Clear();
    reader_ = starter_(*conn_, ctx_.get(), transport_.cq());
    reader_->StartCall();
    reader_->Finish(response_, &status_, this);
  }

  void Fail(const grpc::Status& status) {
    status_ = status;
    done_(status_, *response_);
    delete this;
  }

  GrpcTransport& transport_;
  Starter starter_;
  Done done_;
  bool retried_ = false;
  bool moved_ = false;  // started again on the current connection once
  std::shared_ptr<Connection> conn_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<Reader> reader_;
  // The answer is parsed onto the call's arena: the hundreds of messages of a batch's or a
  // scan's answer take a few blocks, freed at once with the call.
  google::protobuf::Arena arena_;
  Response* response_ = google::protobuf::Arena::CreateMessage<Response>(&arena_);
  grpc::Status status_;
};

}  // namespace hb::etcd::internal
