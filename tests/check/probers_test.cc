// The real probers against real servers on 127.0.0.1: an HTTP(S) target that answers as
// told (check_target.py), a TCP listener, and a grpc++ server with its built-in health
// service.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>

#include <fstream>

#include "absl/synchronization/notification.h"
#include "check/curl_prober.h"
#include "check/grpc_prober.h"
#include "support/check_target.h"
#include "support/process.h"

namespace hb::check {
namespace {

using hb::testing::CheckTarget;

ProbeResult ProbeNow(Prober& prober, const CheckSpec& spec) {
  absl::Notification done;
  ProbeResult result;
  prober.Probe(spec, [&](ProbeResult r) {
    result = std::move(r);
    done.Notify();
  });
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10))) << "no answer";
  return result;
}

CheckSpec Http(const std::string& url, absl::Duration timeout = absl::Seconds(2)) {
  CheckSpec s;
  s.kind = CheckKind::kHttp;
  s.url = url;
  s.timeout = timeout;
  return s;
}

class HttpProberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto target = CheckTarget::Start();
    ASSERT_TRUE(target.ok()) << target.status();
    target_ = *std::move(target);
  }
  ProbeResult Probe(const std::string& mode) {
    EXPECT_TRUE(target_->SetMode(mode)) << mode;
    return ProbeNow(prober_, Http(target_->HttpUrl()));
  }
  std::unique_ptr<CheckTarget> target_;
  CurlProber prober_;
};

TEST_F(HttpProberTest, StatusCodesDecide) {
  ProbeResult ok = Probe("ok");
  EXPECT_TRUE(ok.pass) << ok.reason;
  EXPECT_GT(ok.latency, absl::ZeroDuration());
  ProbeResult fail = Probe("fail");
  EXPECT_FALSE(fail.pass);
  EXPECT_EQ(fail.reason, "HTTP 503");
  EXPECT_TRUE(Probe("status-204").pass);
  EXPECT_EQ(Probe("status-301").reason, "HTTP 301") << "redirects are not followed";
  EXPECT_EQ(Probe("status-500").reason, "HTTP 500");
}

TEST_F(HttpProberTest, AJsonBodysStatusDecidesAndItsDependenciesArePassedOn) {
  ProbeResult healthy = Probe("json-healthy");
  EXPECT_TRUE(healthy.pass);
  EXPECT_EQ(healthy.dependencies, R"({"database":"healthy","redis":"healthy"})");
  ProbeResult unhealthy = Probe("json-unhealthy");
  EXPECT_FALSE(unhealthy.pass);
  EXPECT_EQ(unhealthy.reason, "HTTP 503");
  ProbeResult says = Probe("json-unhealthy-200");
  EXPECT_FALSE(says.pass);
  EXPECT_EQ(says.reason, "body says status \"unhealthy\"");
  EXPECT_EQ(says.dependencies, R"({"database":"unhealthy","redis":"healthy"})");
}

TEST_F(HttpProberTest, AHangIsATimeoutAndAClosedConnectionIsAFailure) {
  ASSERT_TRUE(target_->SetMode("hang"));
  ProbeResult hang = ProbeNow(prober_, Http(target_->HttpUrl(), absl::Milliseconds(500)));
  EXPECT_FALSE(hang.pass);
  EXPECT_EQ(hang.reason, "timeout after 500 ms");
  EXPECT_GE(hang.latency, absl::Milliseconds(450));
  EXPECT_LT(hang.latency, absl::Seconds(3));
  ProbeResult closed = Probe("close");
  EXPECT_FALSE(closed.pass);
  EXPECT_EQ(closed.reason, "connection closed without an answer");
  ProbeResult refused = ProbeNow(
      prober_, Http(absl::StrCat("http://127.0.0.1:", hb::testing::FreePort(), "/health")));
  EXPECT_EQ(refused.reason, "connection refused");
  EXPECT_TRUE(Probe("ok").pass) << "recovers";
}

TEST_F(HttpProberTest, ProbesOfOneTargetReuseTheConnection) {
  ASSERT_TRUE(target_->SetMode("ok"));
  int before = target_->Stats()["connections"].get<int>();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(ProbeNow(prober_, Http(target_->HttpUrl())).pass);
  int after = target_->Stats()["connections"].get<int>();
  EXPECT_LE(after - before, 2) << "20 probes should share a kept-alive connection";
  EXPECT_EQ(target_->Stats()["requests"].get<int>(), 20);
}

TEST_F(HttpProberTest, HeadersAndABearerTokenFromAFile) {
  std::string dir = hb::testing::MakeTempDir("token");
  std::string token_file = dir + "/token";
  std::ofstream(token_file) << "s3cret-token\n";
  auto target = CheckTarget::Start({false, false, false, token_file});
  ASSERT_TRUE(target.ok());
  CheckSpec spec = Http((*target)->HttpUrl());
  spec.bearer_token_file = token_file;
  spec.headers = {{"X-Probe", "1"}};
  EXPECT_TRUE(ProbeNow(prober_, spec).pass);
  EXPECT_EQ((*target)->Stats()["authorized"].get<int>(), 1);
}

TEST(HttpProberFilesTest, ATokenFileOutsideTheChecksDirectoryIsNeverRead) {
  auto target = CheckTarget::Start();
  ASSERT_TRUE(target.ok());
  std::string dir = hb::testing::MakeTempDir("checks");
  std::string outside = hb::testing::MakeTempDir("secrets") + "/token";
  std::ofstream(outside) << "operator-credentials\n";
  CurlProberOptions options;
  options.files_dir = dir;
  CurlProber prober(options);
  CheckSpec spec = Http((*target)->HttpUrl());
  spec.bearer_token_file = outside;
  ProbeResult refused = ProbeNow(prober, spec);
  EXPECT_FALSE(refused.pass);
  EXPECT_NE(refused.reason.find("outside the check files directory"), std::string::npos);
  EXPECT_EQ((*target)->Stats()["requests"].get<int>(), 0) << "nothing was sent";
}

TEST(HttpsProberTest, VerifiesTheServerAndSendsAClientCertificate) {
  auto target = CheckTarget::Start({true, true, false, ""});
  ASSERT_TRUE(target.ok()) << target.status();
  CurlProber prober;
  CheckSpec spec = Http((*target)->HttpsUrl());
  ProbeResult untrusted = ProbeNow(prober, spec);
  EXPECT_FALSE(untrusted.pass) << "the test CA is not a system CA";
  EXPECT_NE(untrusted.reason.find("certificate"), std::string::npos) << untrusted.reason;
  spec.tls.ca_file = (*target)->tls().ca;
  ProbeResult no_client_cert = ProbeNow(prober, spec);
  EXPECT_FALSE(no_client_cert.pass) << "the target requires a client certificate";
  spec.tls.cert_file = (*target)->tls().client_cert;
  spec.tls.key_file = (*target)->tls().client_key;
  ProbeResult ok = ProbeNow(prober, spec);
  EXPECT_TRUE(ok.pass) << ok.reason;
}

TEST(TcpProberTest, ConnectsAndReportsARefusal) {
  auto target = CheckTarget::Start({false, false, true, ""});
  ASSERT_TRUE(target.ok());
  CurlProber prober;
  CheckSpec spec;
  spec.kind = CheckKind::kTcp;
  spec.host = "127.0.0.1";
  spec.port = (*target)->tcp_port();
  spec.timeout = absl::Seconds(1);
  ProbeResult up = ProbeNow(prober, spec);
  EXPECT_TRUE(up.pass) << up.reason;
  ASSERT_TRUE((*target)->SetTcp(false));
  ProbeResult down = ProbeNow(prober, spec);
  EXPECT_FALSE(down.pass);
  EXPECT_EQ(down.reason, "connection refused");
  ASSERT_TRUE((*target)->SetTcp(true));
  EXPECT_TRUE(ProbeNow(prober, spec).pass);
  // A connect completes in the kernel's backlog before the listener's accept() counts it, so
  // the count is awaited; the refused attempt must never be counted.
  int seen = 0;
  EXPECT_TRUE(hb::testing::WaitFor(
      [&] {
        nlohmann::json stats = (*target)->Stats();
        seen = stats.is_object() ? stats.value("tcp_connections", 0) : 0;
        return seen >= 2;
      },
      absl::Seconds(5)));
  EXPECT_EQ(seen, 2);
}

class GrpcProberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterCallbackGenericService(&generic_);  // a polled queue, for the health service
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
    server_->GetHealthCheckService()->SetServingStatus("chora.Registry", true);
  }
  CheckSpec Spec(const std::string& service) {
    CheckSpec s;
    s.kind = CheckKind::kGrpc;
    s.host = "127.0.0.1";
    s.port = port_;
    s.grpc_service = service;
    s.timeout = absl::Seconds(2);
    return s;
  }
  int port_ = 0;
  grpc::CallbackGenericService generic_;
  std::unique_ptr<grpc::Server> server_;
  GrpcProber prober_;
};

TEST_F(GrpcProberTest, ServingPassesNotServingFails) {
  ProbeResult server = ProbeNow(prober_, Spec(""));
  EXPECT_TRUE(server.pass) << server.reason;
  EXPECT_TRUE(ProbeNow(prober_, Spec("chora.Registry")).pass);
  server_->GetHealthCheckService()->SetServingStatus("chora.Registry", false);
  ProbeResult not_serving = ProbeNow(prober_, Spec("chora.Registry"));
  EXPECT_FALSE(not_serving.pass);
  EXPECT_EQ(not_serving.reason, "NOT_SERVING");
  ProbeResult unknown = ProbeNow(prober_, Spec("no.Such"));
  EXPECT_FALSE(unknown.pass);
  EXPECT_NE(unknown.reason.find("gRPC error 5"), std::string::npos) << unknown.reason;
}

TEST_F(GrpcProberTest, AServerThatGoesAwayFailsWithinTheTimeout) {
  ASSERT_TRUE(ProbeNow(prober_, Spec("")).pass);
  server_->Shutdown();
  server_.reset();
  CheckSpec spec = Spec("");
  spec.timeout = absl::Milliseconds(800);
  ProbeResult gone = ProbeNow(prober_, spec);
  EXPECT_FALSE(gone.pass);
  EXPECT_LT(gone.latency, absl::Seconds(3));
}

}  // namespace
}  // namespace hb::check
