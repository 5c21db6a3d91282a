#include "check/grpc_prober.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace hb::check {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

std::string ReadFile(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

const char* ServingName(HealthCheckResponse::ServingStatus s) {
  switch (s) {
    case HealthCheckResponse::SERVING:
      return "SERVING";
    case HealthCheckResponse::NOT_SERVING:
      return "NOT_SERVING";
    case HealthCheckResponse::SERVICE_UNKNOWN:
      return "SERVICE_UNKNOWN";
    default:
      return "UNKNOWN";
  }
}

struct Call {
  ProbeDone done;
  grpc::ClientContext context;
  HealthCheckResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<HealthCheckResponse>> reader;
  absl::Time started;
  int64_t timeout_ms = 0;
};

}  // namespace

class GrpcProber::Impl {
 public:
  explicit Impl(std::string files_dir) : files_dir_(std::move(files_dir)) {}

  ~Impl() {
    bool started;
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      for (Call* c : calls_) c->context.TryCancel();
      started = thread_.joinable();
    }
    cq_.Shutdown();
    // Drains every tag, deleting the calls without calling `done`.
    if (started) {
      thread_.join();
    } else {
      Loop();  // nothing was ever queued: returns at once
    }
  }

  void Probe(const CheckSpec& spec, ProbeDone done) {
    if (absl::Status allowed = CheckFilesAllowed(spec, files_dir_); !allowed.ok()) {
      done(ProbeResult{false, std::string(allowed.message()), absl::ZeroDuration(), ""});
      return;
    }
    auto* call = new Call();
    call->done = std::move(done);
    call->started = absl::Now();
    call->timeout_ms = absl::ToInt64Milliseconds(spec.timeout);
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::milliseconds(call->timeout_ms));
    HealthCheckRequest request;
    request.set_service(spec.grpc_service);
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      delete call;
      return;
    }
    // The thread starts with the first probe: an idle completion queue thread would still take
    // turns polling every gRPC connection of the process (etcd's too), for nothing.
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    Health::Stub& stub = StubFor(spec);
    calls_.insert(call);
    call->reader = stub.PrepareAsyncCheck(&call->context, request, &cq_);
    call->reader->StartCall();
    call->reader->Finish(&call->response, &call->status, call);
  }

 private:
  Health::Stub& StubFor(const CheckSpec& spec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::string target = absl::StrCat(spec.host, ":", spec.port);
    std::string key = absl::StrCat(target, spec.grpc_tls ? "|tls|" : "|plain|", spec.tls.ca_file,
                                   "|", spec.tls.cert_file, "|", spec.tls.server_name);
    auto it = stubs_.find(key);
    if (it != stubs_.end()) return *it->second;
    std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
    grpc::ChannelArguments args;
    if (spec.grpc_tls) {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = ReadFile(spec.tls.ca_file);
      ssl.pem_cert_chain = ReadFile(spec.tls.cert_file);
      ssl.pem_private_key = ReadFile(spec.tls.key_file);
      creds = grpc::SslCredentials(ssl);
      if (!spec.tls.server_name.empty()) {
        args.SetSslTargetNameOverride(spec.tls.server_name);
      }
    }
    auto channel = grpc::CreateCustomChannel(target, creds, args);
    auto stub = Health::NewStub(channel);
    Health::Stub& ref = *stub;
    stubs_[key] = std::move(stub);
    return ref;
  }

  void Loop() {
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) {
      auto* call = static_cast<Call*>(tag);
      bool abandon;
      {
        absl::MutexLock lock(&mu_);
        calls_.erase(call);
        abandon = stopping_;
      }
      if (!abandon) Deliver(*call);
      delete call;
    }
  }

  static void Deliver(Call& call) {
    ProbeResult result;
    result.latency = absl::Now() - call.started;
    if (!call.status.ok()) {
      result.reason = call.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                          ? absl::StrCat("timeout after ", call.timeout_ms, " ms")
                          : absl::StrCat("gRPC error ", static_cast<int>(call.status.error_code()),
                                         ": ", call.status.error_message());
    } else if (call.response.status() != HealthCheckResponse::SERVING) {
      result.reason = ServingName(call.response.status());
    } else {
      result.pass = true;
    }
    call.done(std::move(result));
  }

  const std::string files_dir_;
  grpc::CompletionQueue cq_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<Call*> calls_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<Health::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // started under mu_ by the first Probe(); joined by the destructor
};

GrpcProber::GrpcProber(std::string files_dir)
    : impl_(std::make_unique<Impl>(std::move(files_dir))) {}
GrpcProber::~GrpcProber() = default;
void GrpcProber::Probe(const CheckSpec& spec, ProbeDone done) {
  impl_->Probe(spec, std::move(done));
}

}  // namespace hb::check
