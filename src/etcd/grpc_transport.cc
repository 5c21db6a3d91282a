#include "etcd/grpc_transport.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "common/jitter.h"
#include "common/log.h"

namespace hb::etcd::internal {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read etcd ", what, " file \"", path, "\": ", std::strerror(errno)));
  }
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(
    const ClientOptions& options) {
  if (!options.UseTls()) return grpc::InsecureChannelCredentials();
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "etcd client certificate and key must be given together (--etcd-cert and --etcd-key)");
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.ca_file.empty()) {
    auto ca = ReadFile("CA", options.ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!options.cert_file.empty()) {
    auto cert = ReadFile("client certificate", options.cert_file);
    if (!cert.ok()) return cert.status();
    auto key = ReadFile("client key", options.key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

bool IsAuthTokenError(const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) return true;
  return status.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
         (absl::StrContains(status.error_message(), "user name is empty") ||
          absl::StrContains(status.error_message(), "auth store is old"));
}

}  // namespace

Connection::Connection(size_t index_in, std::string endpoint_in,
                       std::shared_ptr<grpc::Channel> channel_in)
    : index(index_in),
      endpoint(std::move(endpoint_in)),
      channel(std::move(channel_in)),
      kv(etcdserverpb::KV::NewStub(channel)),
      lease(etcdserverpb::Lease::NewStub(channel)),
      watch(etcdserverpb::Watch::NewStub(channel)),
      maintenance(etcdserverpb::Maintenance::NewStub(channel)),
      auth(etcdserverpb::Auth::NewStub(channel)) {}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::StatusOr<std::unique_ptr<GrpcTransport>> GrpcTransport::Create(const ClientOptions& options) {
  if (options.endpoints.empty()) return absl::InvalidArgumentError("no etcd endpoint given");
  if (!options.username.empty() && options.password.empty()) {
    return absl::InvalidArgumentError("etcd username given without a password");
  }
  auto creds = MakeCredentials(options);
  if (!creds.ok()) return creds.status();
  return std::unique_ptr<GrpcTransport>(new GrpcTransport(options, *std::move(creds)));
}

GrpcTransport::GrpcTransport(ClientOptions options, std::shared_ptr<grpc::ChannelCredentials> creds)
    : options_(std::move(options)),
      creds_(std::move(creds)),
      password_(options_.password),
      auth_jitter_(options_.jitter_seed != 0 ? options_.jitter_seed : Jitter::RandomSeed()) {
  int threads = std::max(1, options_.threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Poll(); });
}

GrpcTransport::~GrpcTransport() { Shutdown(); }

uint64_t GrpcTransport::NextJitterSeed() {
  absl::MutexLock lock(&mu_);
  ++streams_;
  return options_.jitter_seed != 0 ? options_.jitter_seed + streams_ : Jitter::RandomSeed();
}

std::chrono::system_clock::time_point GrpcTransport::GrpcDeadline(absl::Duration delay) {
  return std::chrono::system_clock::now() + absl::ToChronoNanoseconds(delay);
}

void GrpcTransport::Poll() {
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) static_cast<Tag*>(tag)->Proceed(ok);
}

bool GrpcTransport::BeginOp() {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return false;
  ++pending_;
  return true;
}

void GrpcTransport::EndOp() {
  absl::MutexLock lock(&mu_);
  --pending_;
}

void GrpcTransport::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    shutting_down_ = true;
    mu_.Await(absl::Condition(
        +[](int64_t* pending) { return *pending == 0; }, &pending_));
    stopped_ = true;
  }
  cq_.Shutdown();
  for (auto& thread : threads_) thread.join();
}

std::shared_ptr<Connection> GrpcTransport::ConnectionFor(size_t index) {
  if (connections_.empty()) connections_.resize(options_.endpoints.size());
  if (!connections_[index]) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10'000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5'000);
    // etcd refuses pings on a connection without calls (GOAWAY "too_many_pings"); the
    // keep-alive and watch streams are calls, so busy connections are still checked.
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                static_cast<int>(absl::ToInt64Milliseconds(options_.reconnect.initial)));
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
                static_cast<int>(absl::ToInt64Milliseconds(options_.reconnect.initial)));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                static_cast<int>(absl::ToInt64Milliseconds(options_.reconnect.max)));
    args.SetMaxReceiveMessageSize(64 << 20);
    const std::string& target = options_.endpoints[index].host_port;
    connections_[index] = std::make_shared<Connection>(
        index, target, grpc::CreateCustomChannel(target, creds_, args));
  }
  return connections_[index];
}

void GrpcTransport::SetEndpointState(size_t index, int state) {
  if (endpoint_state_.empty()) endpoint_state_.assign(options_.endpoints.size(), -1);
  endpoint_state_[index] = state;
}

std::vector<std::pair<std::string, int>> GrpcTransport::EndpointStates() {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<std::string, int>> states;
  for (size_t i = 0; i < options_.endpoints.size(); ++i) {
    states.emplace_back(options_.endpoints[i].host_port,
                        endpoint_state_.empty() ? -1 : endpoint_state_[i]);
  }
  return states;
}

std::shared_ptr<Connection> GrpcTransport::Current() {
  absl::MutexLock lock(&mu_);
  return ConnectionFor(current_);
}

void GrpcTransport::Prepare(grpc::ClientContext* ctx, const std::string& token,
                            bool deadline) const {
  if (deadline) ctx->set_deadline(GrpcDeadline(options_.call_timeout));
  if (!token.empty()) ctx->AddMetadata("token", token);
}

bool GrpcTransport::OnResult(const std::shared_ptr<Connection>& conn, const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      Failed(conn, status.error_message(), /*answered=*/false);
      return false;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      // No answer in time: a member that accepts connections but does not answer (frozen,
      // cut from its peers) must not pin the client.
      Failed(conn, absl::StrCat("no answer within ", absl::FormatDuration(options_.call_timeout)),
             /*answered=*/true);
      return false;
    case grpc::StatusCode::CANCELLED:
      return false;  // this client gave up on the call: nothing learnt about etcd
    default:
      break;
  }
  if (IsAuthTokenError(status) && !options_.username.empty()) {
    absl::MutexLock lock(&conn->auth_mu);
    conn->token.clear();  // the next call authenticates again
    return true;
  }
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
      status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
    return false;  // an answer, but no sign that the endpoint works for this client
  }
  absl::MutexLock lock(&mu_);
  failures_in_row_ = 0;
  SetEndpointState(conn->index, 1);
  if (down_ && conn->index == current_) {
    down_ = false;
    LogInfo("etcd reachable again",
            {{"endpoint", conn->endpoint},
             {"down_for", absl::FormatDuration(absl::Trunc(RealClock::Get().Now() - down_since_,
                                                           absl::Milliseconds(100)))}});
  }
  return false;
}

bool GrpcTransport::Track(Connection& conn, grpc::ClientContext* ctx) {
  absl::MutexLock lock(&mu_);  // then calls_mu, as in Failed()
  if (conn.index != current_) return false;
  absl::MutexLock calls(&conn.calls_mu);
  conn.calls.insert(ctx);
  return true;
}

bool GrpcTransport::Untrack(Connection& conn, grpc::ClientContext* ctx,
                            const grpc::Status& status) {
  {
    absl::MutexLock calls(&conn.calls_mu);
    conn.calls.erase(ctx);
  }
  if (status.error_code() != grpc::StatusCode::CANCELLED) return false;
  absl::MutexLock lock(&mu_);
  return conn.index != current_ && !shutting_down_;
}

void GrpcTransport::OnStalled(const std::shared_ptr<Connection>& conn, const std::string& what) {
  Failed(conn, what, /*answered=*/true);
}

void GrpcTransport::Failed(const std::shared_ptr<Connection>& conn, const std::string& error,
                           bool connected) {
  absl::MutexLock lock(&mu_);
  SetEndpointState(conn->index, 0);
  if (conn->index != current_) return;  // a late answer from an endpoint already left
  ++failures_in_row_;
  size_t count = options_.endpoints.size();
  size_t next = (current_ + 1) % count;
  const char* what = connected ? "etcd member not answering" : "etcd endpoint unavailable";
  if (!down_ && failures_in_row_ >= count) {
    down_ = true;
    down_since_ = RealClock::Get().Now();
    std::vector<std::string> all;
    for (const auto& e : options_.endpoints) all.push_back(e.host_port);
    LogError("etcd unreachable at every endpoint; retrying with backoff",
             {{"endpoints", absl::StrJoin(all, ",")}, {"last", what}, {"error", error}});
  } else if (!down_ && count > 1) {
    LogWarning(absl::StrCat(what, "; failing over"), {{"endpoint", conn->endpoint},
                                                      {"next", options_.endpoints[next].host_port},
                                                      {"error", error}});
  } else if (!down_) {
    LogWarning(what, {{"endpoint", conn->endpoint}, {"error", error}});
  }
  current_ = next;
  if (count == 1) return;
  // Calls waiting on the member left behind go again to the next one (UnaryCall retries a
  // call cancelled this way once). Lock order: mu_, then calls_mu.
  absl::MutexLock calls(&conn->calls_mu);
  for (grpc::ClientContext* ctx : conn->calls) ctx->TryCancel();
}

}  // namespace hb::etcd::internal
