// GrpcTransport: what every gRPC call to etcd shares (internal to src/etcd).
//
//  - one CompletionQueue polled by a small fixed pool of threads; each queued operation's
//    tag is a Tag whose Proceed() runs on one of those threads;
//  - one connection (channel + stubs + auth token) per endpoint, created lazily; calls go
//    to the current endpoint, and a call failing with UNAVAILABLE or DEADLINE_EXCEEDED, or a
//    keep-alive stream that stalls, moves the client to the next one (fail-over);
//  - username/password authentication (grpc_auth.cc): a token per connection, fetched
//    asynchronously by one Authenticate call at a time (callers wait for it, never block a
//    thread); after a refusal calls fail at once until a capped, jittered backoff ends, the
//    password file is read again, and the log has one line per change of state;
//  - reachability state, logged once per change (never once per failed call);
//  - accounting of operations in flight, so that Shutdown() can wait for every callback.
//
// Thread-safe. Passwords and tokens are never logged.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/jitter.h"
#include "etcd/api/etcdserverpb/rpc.grpc.pb.h"
#include "etcd/endpoints.h"

namespace hb::etcd::internal {

class Tag {
 public:
  virtual ~Tag() = default;
  // `ok` is the completion queue's verdict on the operation.
  virtual void Proceed(bool ok) = 0;
};

// A Tag running a function; owned by whoever queued the operation (it must outlive it).
class FnTag final : public Tag {
 public:
  explicit FnTag(std::function<void(bool)> fn) : fn_(std::move(fn)) {}
  void Proceed(bool ok) override { fn_(ok); }

 private:
  std::function<void(bool)> fn_;
};

struct Connection {
  Connection(size_t index, std::string endpoint, std::shared_ptr<grpc::Channel> channel);

  const size_t index;
  const std::string endpoint;
  const std::shared_ptr<grpc::Channel> channel;
  const std::unique_ptr<etcdserverpb::KV::Stub> kv;
  const std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  const std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  const std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
  const std::unique_ptr<etcdserverpb::Auth::Stub> auth;

  // Authentication (grpc_auth.cc): the token, the Authenticate call in flight and who
  // waits for it, and the backoff after a refusal.
  absl::Mutex auth_mu;
  std::string token ABSL_GUARDED_BY(auth_mu);
  bool authenticating ABSL_GUARDED_BY(auth_mu) = false;
  std::vector<std::function<void(absl::Status, const std::string&)>> token_waiters
      ABSL_GUARDED_BY(auth_mu);
  int auth_failures ABSL_GUARDED_BY(auth_mu) = 0;
  absl::Time auth_retry_at ABSL_GUARDED_BY(auth_mu) = absl::InfinitePast();  // monotonic
  absl::Status auth_error ABSL_GUARDED_BY(auth_mu);

  // Unary calls in flight on this connection, cancelled when the client fails over away
  // from it (they would otherwise wait out their deadline on a member that does not answer).
  absl::Mutex calls_mu;
  absl::flat_hash_set<grpc::ClientContext*> calls ABSL_GUARDED_BY(calls_mu);
};

absl::Status FromGrpc(const grpc::Status& status);
grpc::Status ToGrpc(const absl::Status& status);

class GrpcTransport {
 public:
  static absl::StatusOr<std::unique_ptr<GrpcTransport>> Create(const ClientOptions& options);
  ~GrpcTransport();

  grpc::CompletionQueue* cq() { return &cq_; }
  const ClientOptions& options() const { return options_; }
  // A seed for one stream's reconnect jitter: derived from options().jitter_seed when set,
  // so that tests are reproducible; random otherwise.
  uint64_t NextJitterSeed();
  // A gRPC call or alarm deadline `delay` from now (gRPC turns it into a time on its own
  // monotonic clock when it is set, so a step of the system clock later does not move it).
  static std::chrono::system_clock::time_point GrpcDeadline(absl::Duration delay);

  // Registers an operation about to be queued; false once shutdown has begun (fail the
  // operation with CANCELLED instead). Every true return needs one EndOp().
  bool BeginOp();
  void EndOp();

  std::shared_ptr<Connection> Current();
  // Calls `ready` with the auth token to send on `conn` ("" without authentication), or why
  // there is none: at once when the token is known (or authentication was refused and its
  // backoff runs), else when the one Authenticate call in flight answers (on a
  // completion-queue thread). Never blocks; `ready` runs without transport locks held.
  using TokenReady = std::function<void(absl::Status, const std::string& token)>;
  void WithToken(const std::shared_ptr<Connection>& conn, TokenReady ready);
  // Adds the token's metadata and, when `deadline`, the per-call deadline to `ctx`.
  void Prepare(grpc::ClientContext* ctx, const std::string& token, bool deadline) const;
  // Records the outcome of a call made on `conn`; returns true when the call failed on an
  // expired or missing auth token and is worth one retry (the token has been dropped).
  // UNAVAILABLE (no connection) and DEADLINE_EXCEEDED (connected, no answer in time) count
  // as failures of the endpoint and move the client to the next one; CANCELLED (this client
  // gave up) counts as nothing; any other answer means the endpoint works.
  bool OnResult(const std::shared_ptr<Connection>& conn, const grpc::Status& status);
  // A unary call's context, tracked while in flight on `conn`. Track() returns false when
  // `conn` is no longer the current connection (start on the current one instead).
  bool Track(Connection& conn, grpc::ClientContext* ctx);
  // Untracks; true when the call was cancelled by a fail-over (worth one retry elsewhere).
  bool Untrack(Connection& conn, grpc::ClientContext* ctx, const grpc::Status& status);
  // A stream on `conn` got no answer for the stall timeout: a failure, as above.
  void OnStalled(const std::shared_ptr<Connection>& conn, const std::string& what);

  // Per endpoint: 1 when its last call was answered, 0 when it failed to connect, -1 when
  // it was never tried.
  std::vector<std::pair<std::string, int>> EndpointStates();

  // Stops accepting operations, waits until every operation in flight has completed
  // (owners of streams must cancel them first), then stops the threads. Idempotent.
  void Shutdown();

 private:
  explicit GrpcTransport(ClientOptions options, std::shared_ptr<grpc::ChannelCredentials> creds);
  std::shared_ptr<Connection> ConnectionFor(size_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetEndpointState(size_t index, int state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `conn` failed (`connected`: it accepted the call but did not answer): marks it down,
  // logs the change once and moves to the next endpoint.
  void Failed(const std::shared_ptr<Connection>& conn, const std::string& error, bool connected);
  // grpc_auth.cc
  void StartAuthenticate(const std::shared_ptr<Connection>& conn);
  void OnAuthenticated(const std::shared_ptr<Connection>& conn, const grpc::Status& status,
                       const std::string& token);
  // Logs an authentication outcome once per change of state (or of the error).
  void NoteAuthOutcome(const Connection& conn, const absl::Status& refused, absl::Duration retry);
  // Reads the password file again; true when the password changed.
  bool RereadPassword();
  friend class AuthCall;
  void Poll();

  const ClientOptions options_;
  const std::shared_ptr<grpc::ChannelCredentials> creds_;
  grpc::CompletionQueue cq_;
  std::vector<std::thread> threads_;

  absl::Mutex mu_;
  std::vector<std::shared_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
  size_t current_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int> endpoint_state_ ABSL_GUARDED_BY(mu_);
  size_t failures_in_row_ ABSL_GUARDED_BY(mu_) = 0;
  bool down_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time down_since_ ABSL_GUARDED_BY(mu_);  // RealClock::Now(): monotonic
  uint64_t streams_ ABSL_GUARDED_BY(mu_) = 0;   // jitter seeds handed out
  int64_t pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex auth_state_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::string password_ ABSL_GUARDED_BY(auth_state_mu_);
  bool auth_refused_ ABSL_GUARDED_BY(auth_state_mu_) = false;  // last outcome was a refusal
  std::string auth_refusal_ ABSL_GUARDED_BY(auth_state_mu_);   // its message
  Jitter auth_jitter_ ABSL_GUARDED_BY(auth_state_mu_);
};

}  // namespace hb::etcd::internal
