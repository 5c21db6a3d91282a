// GrpcEtcdClient against a real etcd server started on 127.0.0.1.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "etcd/grpc_etcd_client.h"
#include "support/etcd_server.h"

namespace hb::etcd {
namespace {

using hb::testing::EtcdServer;
using hb::testing::WaitFor;

std::unique_ptr<GrpcEtcdClient> Connect(const std::string& endpoints, ClientOptions options = {}) {
  options.endpoints = *ParseEndpoints(endpoints);
  options.call_timeout = absl::Seconds(2);
  auto client = GrpcEtcdClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

class RecordingListener : public KeepAliveListener {
 public:
  void OnKeepAliveResponse(int64_t lease_id, int64_t ttl) override {
    absl::MutexLock lock(&mu_);
    answers_[lease_id] = ttl;
  }
  void OnKeepAliveStreamState(bool up, const absl::Status&) override {
    (up ? ups : downs).fetch_add(1);
  }
  std::optional<int64_t> Answer(int64_t lease) {
    absl::MutexLock lock(&mu_);
    auto it = answers_.find(lease);
    if (it == answers_.end()) return std::nullopt;
    return it->second;
  }
  std::atomic<int> ups{0}, downs{0};

 private:
  absl::Mutex mu_;
  std::map<int64_t, int64_t> answers_;
};

class RecordingWatcher : public WatchListener {
 public:
  void OnWatchEvents(const std::vector<WatchEvent>& events) override {
    absl::MutexLock lock(&mu_);
    for (const auto& e : events) {
      log_.push_back(absl::StrCat(e.type == WatchEvent::Type::kPut ? "PUT " : "DELETE ", e.kv.key,
                                  e.has_prev_kv ? " prev=" + e.prev_kv.value : ""));
    }
  }
  void OnWatchError(const absl::Status&, bool fatal) override {
    if (fatal) fatal_.store(true);
  }
  std::vector<std::string> Log() {
    absl::MutexLock lock(&mu_);
    return log_;
  }
  bool Has(const std::string& line) {
    auto log = Log();
    return std::find(log.begin(), log.end(), line) != log.end();
  }
  std::atomic<bool> fatal_{false};

 private:
  absl::Mutex mu_;
  std::vector<std::string> log_;
};

TEST(EtcdClientIntegrationTest, LeasesKeysAndKeepAlives) {
  auto server = EtcdServer::Start();
  ASSERT_NE(server, nullptr);
  auto client = Connect(server->endpoint());
  RecordingListener listener;
  client->SetKeepAliveListener(&listener);

  auto lease = LeaseGrantSync(*client, 5);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->ttl, 5);
  ASSERT_TRUE(PutSync(*client, {"/t/a/health", "v1", lease->id}).ok());
  ASSERT_TRUE(PutSync(*client, {"/t/b/health", "v2", 0}).ok());
  auto range = RangeSync(*client, RangeRequest::Prefix("/t/"));
  ASSERT_TRUE(range.ok()) << range.status();
  ASSERT_EQ(range->kvs.size(), 2u);
  EXPECT_EQ(range->kvs[0].key, "/t/a/health");
  EXPECT_EQ(range->kvs[0].lease, lease->id);
  EXPECT_EQ(server->Get("/t/a/health"), "v1");

  client->KeepAlive(lease->id);
  ASSERT_TRUE(WaitFor([&] { return listener.Answer(lease->id).has_value(); }, absl::Seconds(5)));
  EXPECT_EQ(*listener.Answer(lease->id), 5);
  EXPECT_EQ(listener.ups.load(), 1);
  client->KeepAlive(12345);  // unknown lease: answered with TTL <= 0
  ASSERT_TRUE(WaitFor([&] { return listener.Answer(12345).has_value(); }, absl::Seconds(5)));
  EXPECT_LE(*listener.Answer(12345), 0);

  auto ttl = LeaseTimeToLiveSync(*client, lease->id);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_EQ(ttl->granted_ttl, 5);
  EXPECT_EQ(ttl->keys, std::vector<std::string>{"/t/a/health"});

  ASSERT_TRUE(LeaseRevokeSync(*client, lease->id).ok());
  EXPECT_FALSE(server->Get("/t/a/health").has_value());
  auto refused = PutSync(*client, {"/t/a/health", "v3", lease->id});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound) << refused.status();
  EXPECT_NE(refused.status().message().find("lease not found"), std::string::npos);
  auto status = StatusSync(*client);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->version.substr(0, 2), "3.");
}

TEST(EtcdClientIntegrationTest, WatchSeesChangesAndResumesAcrossARestart) {
  auto server = EtcdServer::Start();
  ASSERT_NE(server, nullptr);
  auto client = Connect(server->endpoint());
  RecordingWatcher watcher;
  WatchRequest request;
  request.key = "/w/";
  request.range_end = PrefixEnd("/w/");
  request.prev_kv = true;
  auto handle = client->Watch(request, &watcher);
  ASSERT_TRUE(WaitFor(
      [&] {
        server->Etcdctl({"put", "/w/x", "1"});
        return watcher.Has("PUT /w/x");
      },
      absl::Seconds(10)));
  server->Etcdctl({"del", "/w/x"});
  ASSERT_TRUE(WaitFor([&] { return watcher.Has("DELETE /w/x prev=1"); }, absl::Seconds(5)));
  ASSERT_TRUE(server->Restart(/*wipe=*/false));
  server->Etcdctl({"put", "/w/y", "2"});
  EXPECT_TRUE(WaitFor([&] { return watcher.Has("PUT /w/y"); }, absl::Seconds(10)))
      << "the watch resumes after etcd comes back";
  EXPECT_FALSE(watcher.fatal_.load());
  auto log = watcher.Log();
  EXPECT_EQ(std::count(log.begin(), log.end(), "DELETE /w/x prev=1"), 1) << "no event repeated";
}

TEST(EtcdClientIntegrationTest, FailsOverToTheNextEndpoint) {
  auto server = EtcdServer::Start();
  ASSERT_NE(server, nullptr);
  int dead = hb::testing::FreePort();
  auto client = Connect(absl::StrCat("127.0.0.1:", dead, ",", server->endpoint()));
  int failures = 0;
  bool ok = false;
  for (int i = 0; i < 3 && !ok; ++i) {
    auto put = PutSync(*client, {"/f/k", "v", 0});
    ok = put.ok();
    if (!ok) {
      ++failures;
      EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable) << put.status();
    }
  }
  EXPECT_TRUE(ok);
  EXPECT_LE(failures, 1);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(PutSync(*client, {"/f/k", "v", 0}).ok());
}

TEST(EtcdClientIntegrationTest, AnOutageIsLoggedOncePerStateChange) {
  auto server = EtcdServer::Start();
  ASSERT_NE(server, nullptr);
  std::ostringstream log;
  Logger::Default().SetOutput(&log);
  Logger::Default().Configure(LogLevel::kInfo, LogFormat::kText);
  auto client = Connect(server->endpoint());
  ASSERT_TRUE(PutSync(*client, {"/o/k", "v", 0}).ok());
  server->Stop();
  for (int i = 0; i < 20; ++i) {
    auto put = PutSync(*client, {"/o/k", "v", 0});
    EXPECT_FALSE(put.ok());
  }
  ASSERT_TRUE(server->Restart(/*wipe=*/false));
  EXPECT_TRUE(WaitFor([&] { return PutSync(*client, {"/o/k", "v", 0}).ok(); }, absl::Seconds(10)));
  client.reset();
  Logger::Default().SetOutput(&std::cerr);
  Logger::Default().Configure(LogLevel::kWarning, LogFormat::kText);
  std::string text = log.str();
  size_t down = 0, up = 0;
  for (size_t pos = 0; (pos = text.find("unreachable at every endpoint", pos)) != std::string::npos;
       ++pos) {
    ++down;
  }
  for (size_t pos = 0; (pos = text.find("etcd reachable again", pos)) != std::string::npos; ++pos) {
    ++up;
  }
  EXPECT_EQ(down, 1u) << text;
  EXPECT_EQ(up, 1u) << text;
}

TEST(EtcdClientIntegrationTest, TlsClientCertificatesAndPasswordAuth) {
  auto server = EtcdServer::Start(hb::testing::TlsEtcd());
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(server->EnableAuth("hb", "s3cret-pw"), "");
  ClientOptions options;
  options.ca_file = server->tls().ca;
  options.cert_file = server->tls().client_cert;
  options.key_file = server->tls().client_key;
  options.username = "hb";
  options.password = "s3cret-pw";
  auto client = Connect(server->endpoint(), options);
  auto lease = LeaseGrantSync(*client, 10);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_TRUE(PutSync(*client, {"/chora/capabilities/x/health", "v", lease->id}).ok());
  auto denied = PutSync(*client, {"/elsewhere", "v", 0});
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied) << denied.status();

  options.password = "wrong";
  auto wrong = Connect(server->endpoint(), options);
  auto refused = PutSync(*wrong, {"/chora/capabilities/x/health", "v", 0});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  EXPECT_NE(refused.status().message().find("\"hb\""), std::string::npos);
  EXPECT_EQ(refused.status().message().find("wrong"), std::string::npos) << "no password echoed";

  ClientOptions no_cert;
  no_cert.ca_file = server->tls().ca;
  auto anonymous = Connect(server->endpoint(), no_cert);
  EXPECT_FALSE(PutSync(*anonymous, {"/chora/capabilities/x/health", "v", 0}).ok());

  ClientOptions bad_files;
  bad_files.endpoints = *ParseEndpoints(server->endpoint());
  bad_files.ca_file = "/nonexistent/ca.pem";
  auto created = GrpcEtcdClient::Create(bad_files);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.status().message().find("/nonexistent/ca.pem"), std::string::npos);
}

}  // namespace
}  // namespace hb::etcd
