// DashboardServer on 127.0.0.1: the embedded page, the snapshot, the event stream (snapshot,
// then coalesced deltas), the cap on streams, dropping a client that falls behind, and
// streams ending when the server goes. The publisher runs on a FakeClock that never moves:
// each test publishes with PublishNow().
#include "dashboard/dashboard_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "heartbeat/health_value.h"
#include "nlohmann/json.hpp"

namespace hb::dashboard {
namespace {

const std::string kPrefix = "/chora/capabilities/";

// A client connection reading what the server sends.
class Client {
 public:
  Client(int port, const std::string& path) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd_);
      fd_ = -1;
      return;
    }
    std::string request = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    send(fd_, request.data(), request.size(), MSG_NOSIGNAL);
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  // Reads until what arrived contains `needle` (true), the server closed, or the deadline.
  bool ReadUntil(const std::string& needle, absl::Duration timeout = absl::Seconds(10)) {
    absl::Time deadline = absl::Now() + timeout;
    while (!absl::StrContains(data_, needle)) {
      if (!ReadSome(deadline)) return false;
    }
    return true;
  }
  // Reads until `n` whole events named `event` arrived (true), the server closed, or the
  // deadline. The data of the last of them is in `*data`.
  bool ReadEvents(const std::string& event, size_t n, std::string* data) {
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    const std::string head = absl::StrCat("event: ", event, "\ndata: ");
    while (true) {
      size_t seen = 0, at = 0, last = std::string::npos;
      while ((at = data_.find(head, at)) != std::string::npos) {
        size_t end = data_.find("\n\n", at);
        if (end == std::string::npos) break;
        ++seen;
        last = at + head.size();
        at = end;
      }
      if (seen >= n) {
        *data = data_.substr(last, data_.find('\n', last) - last);
        return true;
      }
      if (!ReadSome(deadline)) return false;
    }
  }
  // Reads until the server closes the connection (true) or the deadline.
  bool ReadUntilClosed(absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (ReadSome(deadline)) {
    }
    return closed_;
  }
  const std::string& data() const { return data_; }

 private:
  bool ReadSome(absl::Time deadline) {
    if (fd_ < 0 || closed_) return false;
    int ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (ms <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return false;
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    data_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool closed_ = false;
  std::string data_;
};

etcd::WatchEvent Beat(const std::string& id, uint64_t count, int64_t rev) {
  heartbeat::HealthValue v;
  v.identifier = id;
  v.timestamp = absl::FromUnixSeconds(1'700'000'000 + static_cast<int64_t>(count));
  v.heartbeat_count = count;
  v.ttl_seconds = 5;
  etcd::WatchEvent e;
  e.kv.key = kPrefix + id + "/health";
  e.kv.value = heartbeat::RenderHealthValue(v);
  e.kv.mod_revision = rev;
  return e;
}

class DashboardServerTest : public ::testing::Test {
 protected:
  void Start(DashboardOptions options = {}) {
    options.address = "127.0.0.1:0";
    auto started = DashboardServer::Start(board_, clock_, options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
  }
  bool AwaitStreams(int n) {
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (server_->streams() != n && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    return server_->streams() == n;
  }

  FakeClock clock_;
  HealthBoard board_{kPrefix};
  std::unique_ptr<DashboardServer> server_;
};

TEST_F(DashboardServerTest, ServesTheEmbeddedPageAndTheSnapshot) {
  board_.Apply({Beat("chora.devex.registry", 3, 5)}, clock_.WallNow());
  Start();
  Client page(server_->port(), "/");
  ASSERT_TRUE(page.ReadUntilClosed(absl::Seconds(10)));
  EXPECT_TRUE(absl::StartsWith(page.data(), "HTTP/1.1 200")) << page.data().substr(0, 200);
  EXPECT_TRUE(absl::StrContains(page.data(), "Content-Type: text/html"));
  EXPECT_TRUE(absl::StrContains(page.data(), "<script src=\"app.js\""));
  Client script(server_->port(), "/app.js");
  ASSERT_TRUE(script.ReadUntilClosed(absl::Seconds(10)));
  EXPECT_TRUE(absl::StrContains(script.data(), "text/javascript"));
  EXPECT_TRUE(absl::StrContains(script.data(), "new EventSource(\"events\")"));
  Client missing(server_->port(), "/secret");
  ASSERT_TRUE(missing.ReadUntilClosed(absl::Seconds(10)));
  EXPECT_TRUE(absl::StartsWith(missing.data(), "HTTP/1.1 404"));

  Client snapshot(server_->port(), "/api/snapshot");
  ASSERT_TRUE(snapshot.ReadUntilClosed(absl::Seconds(10)));
  std::string body = snapshot.data().substr(snapshot.data().find("\r\n\r\n") + 4);
  nlohmann::json doc = nlohmann::json::parse(body);
  EXPECT_EQ(doc["type"], "snapshot");
  EXPECT_EQ(doc["rows"][0]["id"], "chora.devex.registry");
  EXPECT_EQ(doc["summary"]["healthy"], 1);
}

TEST_F(DashboardServerTest, EventsBeginWithASnapshotThenCarryCoalescedDeltas) {
  board_.Apply({Beat("a", 1, 2)}, clock_.WallNow());
  Start();
  Client events(server_->port(), "/events");
  std::string snapshot;
  ASSERT_TRUE(events.ReadEvents("snapshot", 1, &snapshot));
  EXPECT_TRUE(absl::StrContains(events.data(), "Content-Type: text/event-stream"));
  EXPECT_EQ(nlohmann::json::parse(snapshot)["rows"][0]["id"], "a");
  ASSERT_TRUE(AwaitStreams(1));

  // Three beats of b and one of a between two publications: one delta, each row once.
  server_->PublishNow();  // publishes what the snapshot held already: a delta of a
  std::string first;
  ASSERT_TRUE(events.ReadEvents("delta", 1, &first));
  EXPECT_EQ(nlohmann::json::parse(first)["rows"].size(), 1u);
  board_.Apply({Beat("b", 1, 3), Beat("b", 2, 4)}, clock_.WallNow());
  board_.Apply({Beat("b", 3, 5), Beat("a", 2, 6)}, clock_.WallNow());
  server_->PublishNow();
  std::string second;
  ASSERT_TRUE(events.ReadEvents("delta", 2, &second));
  nlohmann::json delta = nlohmann::json::parse(second);
  ASSERT_EQ(delta["rows"].size(), 2u);
  EXPECT_EQ(delta["rows"][0]["id"], "a");
  EXPECT_EQ(delta["rows"][0]["count"], 2);
  EXPECT_EQ(delta["rows"][1]["id"], "b");
  EXPECT_EQ(delta["rows"][1]["count"], 3);
  EXPECT_EQ(delta["summary"]["total"], 2);
}

TEST_F(DashboardServerTest, StreamsBeyondTheCapAreRefusedWith503) {
  DashboardOptions options;
  options.max_streams = 2;
  Start(options);
  Client first(server_->port(), "/events");
  Client second(server_->port(), "/events");
  ASSERT_TRUE(first.ReadUntil("event: snapshot"));
  ASSERT_TRUE(second.ReadUntil("event: snapshot"));
  Client third(server_->port(), "/events");
  ASSERT_TRUE(third.ReadUntilClosed(absl::Seconds(10)));
  EXPECT_TRUE(absl::StartsWith(third.data(), "HTTP/1.1 503")) << third.data();
  EXPECT_TRUE(absl::StrContains(third.data(), "too many dashboard streams open (at most 2)"));
  // The page itself is still served while every stream is taken.
  Client page(server_->port(), "/");
  ASSERT_TRUE(page.ReadUntilClosed(absl::Seconds(10)));
  EXPECT_TRUE(absl::StartsWith(page.data(), "HTTP/1.1 200"));
  EXPECT_EQ(server_->streams(), 2);
}

TEST_F(DashboardServerTest, AClientThatFallsBehindItsBufferIsDropped) {
  DashboardOptions options;
  options.stream_buffer_bytes = 64;  // smaller than one delta
  Start(options);
  Client events(server_->port(), "/events");
  ASSERT_TRUE(events.ReadUntil("event: snapshot"));
  ASSERT_TRUE(AwaitStreams(1));
  board_.Apply({Beat("a", 1, 2)}, clock_.WallNow());
  server_->PublishNow();
  EXPECT_EQ(server_->dropped(), 1u);
  EXPECT_TRUE(events.ReadUntilClosed(absl::Seconds(10)));
  EXPECT_FALSE(absl::StrContains(events.data(), "event: delta"));
  EXPECT_TRUE(AwaitStreams(0));
}

TEST_F(DashboardServerTest, DestructionEndsOpenStreamsPromptly) {
  Start();
  Client one(server_->port(), "/events");
  Client two(server_->port(), "/events");
  ASSERT_TRUE(one.ReadUntil("event: snapshot"));
  ASSERT_TRUE(two.ReadUntil("event: snapshot"));
  absl::Time start = absl::Now();
  server_.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_TRUE(one.ReadUntilClosed(absl::Seconds(2)));
  EXPECT_TRUE(two.ReadUntilClosed(absl::Seconds(2)));
}

}  // namespace
}  // namespace hb::dashboard
