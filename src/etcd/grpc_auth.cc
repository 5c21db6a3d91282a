// GrpcTransport: etcd username/password authentication, asynchronous and single-flight.
//
// Per connection one Authenticate call at a time; every call that needs a token meanwhile
// waits for its answer (no thread blocks, no storm of bcrypt checks on etcd). A refusal
// (wrong user or password) makes calls fail at once until a capped, jittered backoff ends;
// the password file is read again after each refusal. Passwords and tokens are never logged.
#include <fstream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "etcd/grpc_transport.h"

namespace hb::etcd::internal {
namespace {

// After a refusal: 1 s, 2 s, 4 s ... up to 30 s, less up to 20 %.
const BackoffPolicy kRefusedBackoff{absl::Seconds(1), absl::Seconds(30), 2.0, 0.2};

bool Unreachable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         status.error_code() == grpc::StatusCode::CANCELLED;
}

}  // namespace

// One Authenticate call on the completion queue.
class AuthCall final : public Tag {
 public:
  AuthCall(GrpcTransport& transport, std::shared_ptr<Connection> conn)
      : transport_(transport), conn_(std::move(conn)) {}

  void Start(const std::string& user, const std::string& password) {
    ctx_.set_deadline(GrpcTransport::GrpcDeadline(transport_.options().call_timeout));
    etcdserverpb::AuthenticateRequest request;
    request.set_name(user);
    request.set_password(password);
    reader_ = conn_->auth->PrepareAsyncAuthenticate(&ctx_, request, transport_.cq());
    reader_->StartCall();
    reader_->Finish(&response_, &status_, this);
  }

  void Proceed(bool /*ok*/) override {
    transport_.OnAuthenticated(conn_, status_, response_.token());
    transport_.EndOp();
    delete this;
  }

 private:
  GrpcTransport& transport_;
  std::shared_ptr<Connection> conn_;
  grpc::ClientContext ctx_;
  etcdserverpb::AuthenticateResponse response_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::AuthenticateResponse>> reader_;
};

void GrpcTransport::WithToken(const std::shared_ptr<Connection>& conn, TokenReady ready) {
  if (options_.username.empty()) return ready(absl::OkStatus(), "");
  std::string token;
  absl::Status refused;
  bool start = false;
  {
    absl::MutexLock lock(&conn->auth_mu);
    if (!conn->token.empty()) {
      token = conn->token;
    } else if (!conn->auth_error.ok() && RealClock::Get().Now() < conn->auth_retry_at) {
      refused = conn->auth_error;
    } else {
      conn->token_waiters.push_back(std::move(ready));
      start = !conn->authenticating;
      conn->authenticating = true;
    }
  }
  if (!token.empty()) return ready(absl::OkStatus(), token);
  if (!refused.ok()) return ready(refused, "");
  if (start) StartAuthenticate(conn);
}

void GrpcTransport::StartAuthenticate(const std::shared_ptr<Connection>& conn) {
  if (!BeginOp()) {
    OnAuthenticated(conn, grpc::Status(grpc::StatusCode::CANCELLED, "etcd client is shutting down"),
                    "");
    return;
  }
  RereadPassword();  // a Secret may have been rotated since it was last read
  std::string password;
  {
    absl::MutexLock lock(&auth_state_mu_);
    password = password_;
  }
  (new AuthCall(*this, conn))->Start(options_.username, password);
}

void GrpcTransport::OnAuthenticated(const std::shared_ptr<Connection>& conn,
                                    const grpc::Status& status, const std::string& token) {
  absl::Status result = FromGrpc(status);
  bool refused = !status.ok() && !Unreachable(status);
  absl::Duration retry;
  if (refused) {
    result =
        absl::UnauthenticatedError(absl::StrCat("etcd authentication as user \"", options_.username,
                                                "\" failed: ", status.error_message()));
  }
  std::vector<TokenReady> waiters;
  {
    absl::MutexLock lock(&conn->auth_mu);
    conn->authenticating = false;
    waiters.swap(conn->token_waiters);
    if (status.ok()) {
      conn->token = token;
      conn->auth_failures = 0;
      conn->auth_error = absl::OkStatus();
    } else if (refused) {
      {
        absl::MutexLock state(&auth_state_mu_);
        retry = BackoffDelay(kRefusedBackoff, conn->auth_failures++, auth_jitter_);
      }
      conn->auth_retry_at = RealClock::Get().Now() + retry;
      conn->auth_error = result;
    }
  }
  if (status.ok() || refused) NoteAuthOutcome(*conn, refused ? result : absl::OkStatus(), retry);
  if (refused && RereadPassword()) {  // changed while this attempt was in flight
    absl::MutexLock lock(&conn->auth_mu);
    conn->auth_retry_at = absl::InfinitePast();
  }
  for (TokenReady& ready : waiters) ready(result, token);
}

void GrpcTransport::NoteAuthOutcome(const Connection& conn, const absl::Status& refused,
                                    absl::Duration retry) {
  absl::MutexLock lock(&auth_state_mu_);
  if (refused.ok()) {
    if (auth_refused_) {
      LogInfo("etcd authentication succeeded again",
              {{"endpoint", conn.endpoint}, {"user", options_.username}});
    } else {
      LogDebug("authenticated to etcd", {{"endpoint", conn.endpoint}, {"user", options_.username}});
    }
    auth_refused_ = false;
    return;
  }
  std::string message(refused.message());
  if (auth_refused_ && message == auth_refusal_) {
    LogDebug("etcd authentication still refused",
             {{"endpoint", conn.endpoint}, {"retry_in", absl::FormatDuration(retry)}});
    return;
  }
  auth_refused_ = true;
  auth_refusal_ = message;
  LogError("etcd authentication failed; calls fail until it succeeds (retrying with backoff)",
           {{"endpoint", conn.endpoint},
            {"user", options_.username},
            {"error", message},
            {"retry_in", absl::FormatDuration(absl::Trunc(retry, absl::Milliseconds(100)))}});
}

bool GrpcTransport::RereadPassword() {
  if (options_.password_file.empty() || options_.username.empty()) return false;
  std::ifstream in(options_.password_file, std::ios::binary);
  if (!in) return false;  // unreadable now: keep the one we have
  std::string password(std::istreambuf_iterator<char>(in), {});
  while (!password.empty() && absl::ascii_isspace(static_cast<unsigned char>(password.back()))) {
    password.pop_back();
  }
  absl::MutexLock lock(&auth_state_mu_);
  if (password.empty() || password == password_) return false;
  bool first = password_.empty();
  password_ = std::move(password);
  if (!first) LogInfo("etcd password file changed", {{"file", options_.password_file}});
  return true;
}

}  // namespace hb::etcd::internal
