// HttpServer, MetricsServer and HealthServer on 127.0.0.1 with real sockets: the answers,
// and the bounds against slow and hostile clients (a request that never finishes arriving, a
// client sending nothing, an oversized header block, every worker held at once).
#include "metrics/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "metrics/servers.h"
#include "support/process.h"

namespace hb::metrics {
namespace {

// Slack for scheduling on a loaded machine, added to every deadline.
constexpr absl::Duration kMargin = absl::Seconds(2);

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  timeval send_timeout{2, 0};  // a send into a full buffer fails instead of blocking the test
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
  return fd;
}

bool Readable(int fd, absl::Duration timeout) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) > 0;
}

// Everything the server sends until it closes, or until `deadline`.
std::string ReadUntilClosed(int fd, absl::Time deadline) {
  std::string out;
  char buf[4096];
  while (absl::Now() < deadline && Readable(fd, deadline - absl::Now())) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

struct Answer {
  int status = -1;  // -1: no answer
  std::string head;
  std::string body;
};

Answer Parse(const std::string& raw) {
  Answer a;
  size_t end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12 || end == std::string::npos) return a;
  a.status = std::stoi(raw.substr(9, 3));
  a.head = raw.substr(0, end);
  a.body = raw.substr(end + 4);
  return a;
}

Answer Send(int port, const std::string& request, absl::Duration timeout = kMargin) {
  int fd = Connect(port);
  if (fd < 0) return {};
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  Answer a = Parse(ReadUntilClosed(fd, absl::Now() + timeout));
  close(fd);
  return a;
}

Answer Get(int port, const std::string& path, absl::Duration timeout = kMargin) {
  return Send(port, absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), timeout);
}

// A client that sends `start` and then, if `trickle`, one more header byte every 50 ms, never
// finishing its headers, on its own thread until the server answers or closes.
class SlowClient {
 public:
  explicit SlowClient(int port, bool trickle = true,
                      std::string start = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
      : fd_(Connect(port)), connected_(absl::Now()) {
    if (fd_ >= 0) send(fd_, start.data(), start.size(), MSG_NOSIGNAL);
    thread_ = std::thread([this, trickle] { Run(trickle); });
  }
  ~SlowClient() {
    stop_ = true;
    thread_.join();
    if (fd_ >= 0) close(fd_);
  }

  // How long after connecting the server ended the connection, or nullopt if it did not
  // within `timeout`.
  std::optional<absl::Duration> WaitCutOff(absl::Duration timeout) {
    if (!cut_off_.WaitForNotificationWithTimeout(timeout)) return std::nullopt;
    return cut_off_after_;
  }
  bool cut_off() const { return cut_off_.HasBeenNotified(); }
  // What the server sent before closing (valid once cut off).
  const std::string& answer() const { return answer_; }

 private:
  void Run(bool trickle) {
    while (!stop_ && fd_ >= 0) {
      if (Readable(fd_, absl::Milliseconds(50))) {
        answer_ = ReadUntilClosed(fd_, absl::Now() + kMargin);
        break;
      }
      if (trickle && send(fd_, "a", 1, MSG_NOSIGNAL) != 1) break;
    }
    if (stop_) return;
    cut_off_after_ = absl::Now() - connected_;
    cut_off_.Notify();
  }

  const int fd_;
  const absl::Time connected_;
  std::atomic<bool> stop_{false};
  std::string answer_;
  absl::Duration cut_off_after_;
  absl::Notification cut_off_;
  std::thread thread_;
};

std::unique_ptr<HttpServer> StartServer(const HttpLimits& limits = {}) {
  std::map<std::string, HttpHandler> handlers;
  handlers["/healthz"] = [] { return HttpResponse{200, "ok\n"}; };
  handlers["/boom"] = []() -> HttpResponse { throw std::runtime_error("boom"); };
  auto server = HttpServer::Start("test", "127.0.0.1:0", std::move(handlers), limits);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

HttpLimits Quick(int request_timeout_ms, int threads = 4) {
  HttpLimits limits;
  limits.request_timeout_ms = request_timeout_ms;
  limits.threads = threads;
  return limits;
}

TEST(HttpServerTest, ServesGetOnRegisteredPathsOnly) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  int port = server->port();
  ASSERT_GT(port, 0);
  Answer ok = Get(port, "/healthz");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "ok\n");
  EXPECT_NE(ok.head.find("Content-Type: text/plain; charset=utf-8"), std::string::npos) << ok.head;
  EXPECT_NE(ok.head.find("Content-Length: 3"), std::string::npos) << ok.head;
  EXPECT_EQ(Get(port, "/healthz?verbose=1").status, 200);
  EXPECT_EQ(Get(port, "/nothing").status, 404);
  EXPECT_EQ(Get(port, "/healthz/").status, 404);
  Answer post =
      Send(port, "POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(post.status, 405);
  EXPECT_NE(post.head.find("Allow: GET"), std::string::npos) << post.head;
  EXPECT_EQ(Send(port, "HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").status, 405);
  Answer boom = Get(port, "/boom");
  EXPECT_EQ(boom.status, 500);
  EXPECT_EQ(server->stats().answered, 7u);
  EXPECT_EQ(server->stats().timed_out, 0u);
  EXPECT_EQ(server->stats().rejected, 0u);
}

TEST(HttpServerTest, AddressInUseIsAnErrorNamingTheAddress) {
  auto first = StartServer();
  ASSERT_NE(first, nullptr);
  std::string address = absl::StrCat("127.0.0.1:", first->port());
  auto second = HttpServer::Start("test", address, {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(absl::StrCat("cannot serve test on ", address)),
            std::string::npos)
      << second.status();
  EXPECT_NE(second.status().message().find("Address already in use"), std::string::npos)
      << second.status();
  EXPECT_EQ(Get(first->port(), "/healthz").status, 200);  // the first one still serves
}

TEST(HttpServerTest, StopsWithinASecond) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(Get(server->port(), "/healthz").status, 200);
  absl::Time stopping = absl::Now();
  server.reset();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(1));  // civetweb alone: up to 2 s
}

TEST(HttpServerTest, LimitsOutOfRangeAreRefused) {
  HttpLimits limits;
  limits.threads = 0;
  auto server = HttpServer::Start("test", "127.0.0.1:0", {}, limits);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("threads"), std::string::npos) << server.status();
  EXPECT_TRUE(ValidateHttpLimits(HttpLimits{}).ok());
}

TEST(HttpServerTest, ClientTricklingItsHeadersIsCutOffAtTheRequestTimeout) {
  auto server = StartServer(Quick(300));
  ASSERT_NE(server, nullptr);
  SlowClient client(server->port());
  std::optional<absl::Duration> cut = client.WaitCutOff(absl::Milliseconds(300) + kMargin);
  ASSERT_TRUE(cut.has_value()) << "the server kept a trickling client";
  EXPECT_GE(*cut, absl::Milliseconds(250)) << "cut off before its timeout";
  EXPECT_EQ(Parse(client.answer()).status, 408) << client.answer();
  EXPECT_EQ(server->stats().timed_out, 1u);
  EXPECT_EQ(Get(server->port(), "/healthz").status, 200);
}

TEST(HttpServerTest, ClientSendingNothingIsCutOffAtTheRequestTimeout) {
  auto server = StartServer(Quick(300));
  ASSERT_NE(server, nullptr);
  SlowClient client(server->port(), /*trickle=*/false, /*start=*/"");
  std::optional<absl::Duration> cut = client.WaitCutOff(absl::Milliseconds(300) + kMargin);
  ASSERT_TRUE(cut.has_value()) << "the server kept a silent client";
  EXPECT_GE(*cut, absl::Milliseconds(250));
  EXPECT_EQ(client.answer(), "");
  EXPECT_EQ(server->stats().timed_out, 1u);
}

TEST(HttpServerTest, ProbesAnswerWhileAllWorkersButOneHoldSlowClients) {
  auto server = StartServer(Quick(1000, /*threads=*/4));
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<SlowClient>> slow;
  for (int i = 0; i < 3; ++i) slow.push_back(std::make_unique<SlowClient>(server->port()));
  EXPECT_EQ(Get(server->port(), "/healthz").status, 200);
  for (const auto& client : slow) EXPECT_FALSE(client->cut_off()) << "answered only after a cut";
  for (const auto& client : slow) {
    EXPECT_TRUE(client->WaitCutOff(absl::Milliseconds(1000) + kMargin).has_value());
  }
  EXPECT_EQ(server->stats().timed_out, 3u);
  EXPECT_EQ(Get(server->port(), "/healthz").status, 200);  // all workers free again
}

TEST(HttpServerTest, WithEveryWorkerHeldAnAnswerWaitsForTheFirstCutOffOnly) {
  auto server = StartServer(Quick(500, /*threads=*/2));
  ASSERT_NE(server, nullptr);
  SlowClient first(server->port());
  SlowClient second(server->port());
  absl::Time asked = absl::Now();
  Answer answer = Get(server->port(), "/healthz", absl::Milliseconds(500) + kMargin);
  absl::Duration waited = absl::Now() - asked;
  EXPECT_EQ(answer.status, 200);
  // Both workers were taken first (connections are served in order), so the answer came
  // after a cut-off, and not much later.
  EXPECT_GE(waited, absl::Milliseconds(400)) << "answered while both workers were held";
  EXPECT_LT(waited, absl::Milliseconds(500) + kMargin);
  EXPECT_TRUE(first.WaitCutOff(kMargin).has_value());
  EXPECT_TRUE(second.WaitCutOff(kMargin).has_value());
}

TEST(HttpServerTest, OversizedHeaderBlockIsRefusedBeforeTheTimeout) {
  auto server = StartServer(Quick(5000));  // a cut within kMargin comes from the size limit
  ASSERT_NE(server, nullptr);
  int fd = Connect(server->port());
  ASSERT_GE(fd, 0);
  std::string request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; request.size() < 64 * 1024; ++i) {
    absl::StrAppend(&request, "X-Filler-", i, ": ", std::string(100, 'a'), "\r\n");
  }
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);  // never finished by "\r\n"
  absl::Time sent = absl::Now();
  ASSERT_TRUE(Readable(fd, kMargin)) << "neither answered nor closed";
  std::string answer = ReadUntilClosed(fd, absl::Now() + kMargin);
  EXPECT_LT(absl::Now() - sent, kMargin);
  close(fd);
  // civetweb answers 400, or the close resets the connection before the answer is read.
  EXPECT_TRUE(answer.empty() || Parse(answer).status == 400) << answer;
  EXPECT_EQ(server->stats().rejected, 1u);
  EXPECT_EQ(server->stats().timed_out, 0u);
  EXPECT_EQ(Get(server->port(), "/healthz").status, 200);
}

TEST(HttpServerTest, EndlessHeaderStreamIsCutOffNotBuffered) {
  auto server = StartServer(Quick(5000));
  ASSERT_NE(server, nullptr);
  int fd = Connect(server->port());
  ASSERT_GE(fd, 0);
  std::string start = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ";
  send(fd, start.data(), start.size(), MSG_NOSIGNAL);
  std::string chunk(64 * 1024, 'a');
  size_t total = 0;
  int error = 0;
  while (total < (64u << 20)) {  // 64 MiB of one header line, if the server took it all
    ssize_t n = send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      error = errno;
      break;
    }
    total += static_cast<size_t>(n);
  }
  close(fd);
  EXPECT_TRUE(error == ECONNRESET || error == EPIPE)
      << "sent " << total << " bytes; errno " << error << " (EAGAIN: the server stopped reading "
      << "but kept the connection)";
  EXPECT_LT(total, 16u << 20) << "more than the socket buffers can hold went through";
  EXPECT_EQ(server->stats().rejected, 1u);
}

TEST(HttpServerTest, KeepAliveServesSeveralRequestsThenClosesTheIdleConnection) {
  HttpLimits limits = Quick(2000);
  limits.keep_alive_timeout_ms = 300;
  auto server = StartServer(limits);
  ASSERT_NE(server, nullptr);
  int fd = Connect(server->port());
  ASSERT_GE(fd, 0);
  std::string get = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  std::string answers;
  for (int i = 0; i < 2; ++i) {
    send(fd, get.data(), get.size(), MSG_NOSIGNAL);
    absl::Time deadline = absl::Now() + kMargin;
    char buf[4096];
    size_t before = answers.size();
    while (answers.find("ok\n", before) == std::string::npos &&
           Readable(fd, deadline - absl::Now())) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      answers.append(buf, static_cast<size_t>(n));
    }
  }
  absl::Time idle = absl::Now();
  EXPECT_EQ(ReadUntilClosed(fd, idle + absl::Milliseconds(300) + kMargin), "");
  EXPECT_LT(absl::Now() - idle, absl::Milliseconds(300) + kMargin) << "idle connection kept";
  close(fd);
  EXPECT_EQ(server->stats().answered, 2u) << answers;
  EXPECT_EQ(server->stats().timed_out, 0u);  // an idle keep-alive close is no cut-off
}

TEST(HttpServerTest, RequestWithABodyIsAnsweredAndClosedWithoutReadingTheBody) {
  HttpLimits limits = Quick(5000);
  limits.keep_alive_timeout_ms = 5000;  // even where connections are kept
  auto server = StartServer(limits);
  ASSERT_NE(server, nullptr);
  int fd = Connect(server->port());
  ASSERT_GE(fd, 0);
  std::string request =
      "POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\npartial";
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  absl::Time sent = absl::Now();
  Answer answer = Parse(ReadUntilClosed(fd, sent + kMargin));
  EXPECT_LT(absl::Now() - sent, kMargin) << "the server waited for the body";
  close(fd);
  EXPECT_EQ(answer.status, 405);
  EXPECT_NE(answer.head.find("Connection: close"), std::string::npos) << answer.head;
}

TEST(MetricsServerTest, ServesTheCollectorInTextFormat) {
  MetricsSources sources;
  sources.is_leader = [] { return true; };
  sources.etcd_endpoints = [] {
    return std::vector<EndpointState>{{"http://127.0.0.1:2379", true}};
  };
  int port = testing::FreePort();
  auto server = MetricsServer::Start(absl::StrCat("127.0.0.1:", port), sources);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->port(), port);
  Answer metrics = Get(port, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos)
      << metrics.head;
  EXPECT_NE(metrics.body.find("# TYPE leader_election_master_status gauge"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("leader_election_master_status{name=\"heartbeat-operator\"} 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find(
                "heartbeat_operator_etcd_endpoint_up{endpoint=\"http://127.0.0.1:2379\"} 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_EQ(Get(port, "/healthz").status, 404);
}

TEST(HealthServerTest, ProbesAnswerAndReadinessGivesItsReason) {
  absl::Mutex mu;
  absl::Status ready = absl::OkStatus();
  int port = testing::FreePort();
  auto server = HealthServer::Start(absl::StrCat("127.0.0.1:", port), [&] {
    absl::MutexLock lock(&mu);
    return ready;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(Get(port, "/healthz").status, 200);
  EXPECT_EQ(Get(port, "/readyz").status, 200);
  {
    absl::MutexLock lock(&mu);
    ready = absl::UnavailableError("informers have not synced");
  }
  Answer not_ready = Get(port, "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(not_ready.body, "not ready: informers have not synced\n");
  EXPECT_EQ(Get(port, "/healthz").status, 200);
  EXPECT_EQ(Get(port, "/metrics").status, 404);
}

TEST(HealthServerTest, AddressInUseIsAnErrorNamingTheAddress) {
  int port = testing::FreePort();
  std::string address = absl::StrCat("127.0.0.1:", port);
  auto ready = [] { return absl::OkStatus(); };
  auto first = HealthServer::Start(address, ready);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = HealthServer::Start(address, ready);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find(absl::StrCat("health probes on ", address)),
            std::string::npos)
      << second.status();
  EXPECT_FALSE(HealthServer::Start("no-port", ready).ok());
}

TEST(HealthServerTest, SlowClientIsCutOffWithTheGivenLimits) {
  int port = testing::FreePort();
  auto server = HealthServer::Start(
      absl::StrCat("127.0.0.1:", port), [] { return absl::OkStatus(); }, Quick(300, /*threads=*/2));
  ASSERT_TRUE(server.ok()) << server.status();
  SlowClient client(port);
  EXPECT_EQ(Get(port, "/healthz").status, 200);
  EXPECT_TRUE(client.WaitCutOff(absl::Milliseconds(300) + kMargin).has_value());
}

}  // namespace
}  // namespace hb::metrics
