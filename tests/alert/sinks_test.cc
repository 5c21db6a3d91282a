#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "alert/alertmanager_sink.h"
#include "alert/fake_poster.h"
#include "alert/webhook_sink.h"
#include "common/clock.h"
#include "common/time_format.h"

namespace hb::alert {
namespace {

Transition MakeTransition(const std::string& id, AlertLevel from, AlertLevel to, absl::Time when) {
  Transition t;
  t.id = "run-" + id;
  t.identifier = id;
  t.source = "Capability team-a/" + id;
  t.from = from;
  t.to = to;
  t.reason = to == AlertLevel::kHealthy ? "" : "HTTP 503";
  t.time = when;
  return t;
}

class WebhookSinkTest : public testing::Test {
 protected:
  std::unique_ptr<WebhookSink> Make(size_t max_queue = 100, std::string secret = "topsecret") {
    WebhookOptions o;
    o.url = "http://127.0.0.1:1/hook";
    o.secret = std::move(secret);
    o.instance = "replica-1";
    o.retry = {absl::Seconds(1), absl::Seconds(8), 2.0, 0.0};
    o.max_queue = max_queue;
    return std::make_unique<WebhookSink>(o, std::make_unique<FakePoster>(posted_), clock_);
  }
  FakeClock clock_;
  std::shared_ptr<FakePosterState> posted_ = std::make_shared<FakePosterState>();
};

TEST(WebhookSignatureTest, IsTheHmacSha256OfTimestampDotBody) {
  // python3: hmac.new(b'topsecret', b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
  EXPECT_EQ(WebhookSignature("topsecret", 1700000000, "{\"a\":1}"),
            "sha256=6a939b0c71853d606167625a15168ee9188c6a511c773ef4f42d307f3849e50f");
}

TEST_F(WebhookSinkTest, SendsOneSignedDocumentPerTransitionWithItsId) {
  auto sink = Make();
  sink->Transition(
      MakeTransition("orders", AlertLevel::kHealthy, AlertLevel::kDown, clock_.WallNow()));
  EXPECT_EQ(sink->RunDue(clock_.Now()), absl::InfiniteFuture());
  ASSERT_EQ(posted_->size(), 1u);
  const PostedRequest& r = posted_->requests[0];
  nlohmann::json body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["type"], "transition");
  EXPECT_EQ(body["id"], "run-orders");
  EXPECT_EQ(body["identifier"], "orders");
  EXPECT_EQ(body["from"], "healthy");
  EXPECT_EQ(body["to"], "down");
  EXPECT_EQ(body["reason"], "HTTP 503");
  EXPECT_EQ(body["instance"], "replica-1");
  EXPECT_EQ(posted_->Header(0, "X-Heartbeat-Delivery"), "run-orders");
  EXPECT_EQ(posted_->Header(0, "X-Heartbeat-Event"), "transition");
  const std::string ts = posted_->Header(0, "X-Heartbeat-Timestamp");
  EXPECT_EQ(ts, std::to_string(absl::ToUnixSeconds(clock_.WallNow())));
  EXPECT_EQ(posted_->Header(0, "X-Heartbeat-Signature"),
            WebhookSignature("topsecret", std::stoll(ts), r.body));
  EXPECT_EQ(sink->stats().sent, 1u);
}

TEST_F(WebhookSinkTest, WithoutASecretNothingIsSigned) {
  auto sink = Make(100, "");
  sink->Transition(MakeTransition("a", AlertLevel::kHealthy, AlertLevel::kDown, clock_.WallNow()));
  sink->RunDue(clock_.Now());
  ASSERT_EQ(posted_->size(), 1u);
  EXPECT_EQ(posted_->Header(0, "X-Heartbeat-Signature"), "");
}

TEST_F(WebhookSinkTest, RetriesInOrderWithCappedBackoffAndTheSameId) {
  auto sink = Make();
  posted_->script = {
      {0, "connection refused"}, {503, "HTTP 503"}, {0, "timed out"}, {500, "HTTP 500"}, {502, ""}};
  sink->Transition(MakeTransition("a", AlertLevel::kHealthy, AlertLevel::kDown, clock_.WallNow()));
  sink->Transition(MakeTransition("b", AlertLevel::kHealthy, AlertLevel::kDown, clock_.WallNow()));
  // Delays 1, 2, 4, 8, then capped at 8 s.
  absl::Time start = clock_.Now();
  std::vector<absl::Duration> waits;
  for (int i = 0; i < 5; ++i) {
    absl::Time next = sink->RunDue(clock_.Now());
    waits.push_back(next - clock_.Now());
    clock_.AdvanceTo(next);
  }
  EXPECT_EQ(waits,
            (std::vector<absl::Duration>{absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
                                         absl::Seconds(8), absl::Seconds(8)}));
  EXPECT_EQ(sink->RunDue(clock_.Now()), absl::InfiniteFuture());  // both delivered now
  ASSERT_EQ(posted_->size(), 7u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(posted_->Header(i, "X-Heartbeat-Delivery"), "run-a");
  EXPECT_EQ(posted_->Header(6, "X-Heartbeat-Delivery"), "run-b");
  EXPECT_EQ(sink->stats().failed, 5u);
  EXPECT_EQ(sink->stats().sent, 2u);
  EXPECT_EQ(clock_.Now() - start, absl::Seconds(23));
}

TEST_F(WebhookSinkTest, AReceiverThatRefusesForGoodIsNotRetried) {
  auto sink = Make();
  posted_->script = {{400, "HTTP 400: bad"}};
  sink->Transition(MakeTransition("a", AlertLevel::kHealthy, AlertLevel::kDown, clock_.WallNow()));
  sink->Transition(MakeTransition("b", AlertLevel::kHealthy, AlertLevel::kDown, clock_.WallNow()));
  EXPECT_EQ(sink->RunDue(clock_.Now()), absl::InfiniteFuture());
  EXPECT_EQ(posted_->size(), 2u);
  EXPECT_EQ(sink->stats().rejected, 1u);
  EXPECT_EQ(sink->stats().sent, 1u);
}

TEST_F(WebhookSinkTest, AFullQueueDropsTheOldestAndCountsIt) {
  auto sink = Make(/*max_queue=*/3);
  posted_->script = {{0, "refused"}};
  for (const char* id : {"a", "b", "c"}) {
    sink->Transition(MakeTransition(id, AlertLevel::kHealthy, AlertLevel::kDown, clock_.WallNow()));
  }
  clock_.AdvanceTo(sink->RunDue(clock_.Now()));  // "a" fails once
  sink->Transition(MakeTransition("d", AlertLevel::kHealthy, AlertLevel::kDown, clock_.WallNow()));
  sink->Transition(MakeTransition("e", AlertLevel::kHealthy, AlertLevel::kDown, clock_.WallNow()));
  EXPECT_EQ(sink->stats().dropped, 2u);
  EXPECT_EQ(sink->stats().queued, 3);
  EXPECT_EQ(sink->RunDue(clock_.Now()), absl::InfiniteFuture());
  ASSERT_EQ(posted_->size(), 4u);
  EXPECT_EQ(posted_->Header(1, "X-Heartbeat-Delivery"), "run-c");
  EXPECT_EQ(posted_->Header(2, "X-Heartbeat-Delivery"), "run-d");
  EXPECT_EQ(posted_->Header(3, "X-Heartbeat-Delivery"), "run-e");
}

TEST_F(WebhookSinkTest, AStormIsOneDocument) {
  auto sink = Make();
  StormSummary s{"run-7", true, 800, 1000, 790, clock_.WallNow(), 0.2};
  sink->Storm(s);
  sink->RunDue(clock_.Now());
  ASSERT_EQ(posted_->size(), 1u);
  nlohmann::json body = nlohmann::json::parse(posted_->requests[0].body);
  EXPECT_EQ(body["type"], "storm");
  EXPECT_EQ(body["state"], "started");
  EXPECT_EQ(body["failing"], 800);
  EXPECT_EQ(body["total"], 1000);
  EXPECT_EQ(posted_->Header(0, "X-Heartbeat-Event"), "storm");
}

class AlertmanagerSinkTest : public testing::Test {
 protected:
  std::unique_ptr<AlertmanagerSink> Make() {
    AlertmanagerOptions o;
    o.url = "http://127.0.0.1:9093/";
    o.instance = "replica-1";
    o.resend = absl::Minutes(1);
    o.retry = {absl::Seconds(1), absl::Seconds(8), 2.0, 0.0};
    o.max_batch = 2;
    return std::make_unique<AlertmanagerSink>(o, std::make_unique<FakePoster>(posted_), clock_);
  }
  // The alerts of every POST made so far, flattened.
  nlohmann::json Alerts(size_t from = 0) {
    nlohmann::json all = nlohmann::json::array();
    std::lock_guard<std::mutex> lock(posted_->mu);
    for (size_t i = from; i < posted_->requests.size(); ++i) {
      for (auto& a : nlohmann::json::parse(posted_->requests[i].body)) all.push_back(a);
    }
    return all;
  }
  FakeClock clock_;
  std::shared_ptr<FakePosterState> posted_ = std::make_shared<FakePosterState>();
};

TEST_F(AlertmanagerSinkTest, FiresOneAlertPerFailingCapabilityAndResendsIt) {
  auto sink = Make();
  const absl::Time began = clock_.WallNow();
  sink->Transition(MakeTransition("orders", AlertLevel::kHealthy, AlertLevel::kUnhealthy, began));
  EXPECT_EQ(sink->RunDue(clock_.Now()), clock_.Now() + absl::Minutes(1));
  ASSERT_EQ(posted_->size(), 1u);
  EXPECT_EQ(posted_->requests[0].url, "http://127.0.0.1:9093/api/v2/alerts");
  nlohmann::json a = Alerts()[0];
  EXPECT_EQ(a["labels"]["alertname"], "CapabilityUnhealthy");
  EXPECT_EQ(a["labels"]["identifier"], "orders");
  EXPECT_EQ(a["labels"]["severity"], "warning");
  EXPECT_EQ(a["labels"]["namespace"], "team-a");
  EXPECT_EQ(a["labels"]["source"], "Capability team-a/orders");
  EXPECT_FALSE(a["labels"].contains("reported_by"));  // labels never name the replica
  EXPECT_EQ(a["annotations"]["message"], "Capability orders is unhealthy: HTTP 503");
  EXPECT_EQ(a["annotations"]["summary"], "Capability orders is unhealthy");
  EXPECT_EQ(a["annotations"]["reason"], "HTTP 503");
  EXPECT_EQ(a["annotations"]["reported_by"], "replica-1");
  EXPECT_FALSE(a["annotations"].contains("last_check"));  // no check, no check result
  EXPECT_EQ(a["startsAt"], FormatRfc3339(began));
  EXPECT_EQ(a["endsAt"], FormatRfc3339(clock_.WallNow() + absl::Minutes(4)));

  clock_.Advance(absl::Seconds(59));
  EXPECT_EQ(sink->RunDue(clock_.Now()), clock_.Now() + absl::Seconds(1));
  EXPECT_EQ(posted_->size(), 1u);
  clock_.Advance(absl::Seconds(1));
  sink->RunDue(clock_.Now());
  ASSERT_EQ(posted_->size(), 2u);
  nlohmann::json again = Alerts(1)[0];
  EXPECT_EQ(again["startsAt"], FormatRfc3339(began));  // the same alert goes on
  EXPECT_EQ(again["endsAt"], FormatRfc3339(clock_.WallNow() + absl::Minutes(4)));
}

TEST_F(AlertmanagerSinkTest, ACheckedCapabilitysAlertCarriesTheChecksLastResult) {
  auto sink = Make();
  Transition t = MakeTransition("a", AlertLevel::kHealthy, AlertLevel::kDown, clock_.WallNow());
  t.status = heartbeat::HeartbeatStatus{};
  t.status->check = check::CheckReport{};
  t.status->check->last_result = "fail: HTTP 503 (2 ms)";
  sink->Transition(t);
  sink->RunDue(clock_.Now());
  nlohmann::json a = Alerts()[0];
  EXPECT_EQ(a["annotations"]["last_check"], "fail: HTTP 503 (2 ms)");
  EXPECT_EQ(a["annotations"]["message"], "Capability a is down: HTTP 503");
}

TEST_F(AlertmanagerSinkTest, ARecoveryResolvesTheAlertOnceAndFromThenOnNothingIsSent) {
  auto sink = Make();
  sink->Transition(MakeTransition("a", AlertLevel::kHealthy, AlertLevel::kDown, clock_.WallNow()));
  sink->RunDue(clock_.Now());
  clock_.Advance(absl::Seconds(10));
  const absl::Time healed = clock_.WallNow();
  sink->Transition(MakeTransition("a", AlertLevel::kDown, AlertLevel::kHealthy, healed));
  EXPECT_EQ(sink->RunDue(clock_.Now()), absl::InfiniteFuture());
  nlohmann::json sent = Alerts(1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["labels"]["alertname"], "CapabilityDown");
  EXPECT_EQ(sent[0]["labels"]["severity"], "critical");
  EXPECT_EQ(sent[0]["endsAt"], FormatRfc3339(healed));
  clock_.Advance(absl::Hours(1));
  sink->RunDue(clock_.Now());
  EXPECT_EQ(posted_->size(), 2u);
}

TEST_F(AlertmanagerSinkTest, UnhealthyThenDownResolvesOneAlertAndFiresTheOther) {
  auto sink = Make();
  sink->Transition(
      MakeTransition("a", AlertLevel::kHealthy, AlertLevel::kUnhealthy, clock_.WallNow()));
  sink->Transition(
      MakeTransition("a", AlertLevel::kUnhealthy, AlertLevel::kDown, clock_.WallNow()));
  sink->RunDue(clock_.Now());
  nlohmann::json sent = Alerts();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0]["labels"]["alertname"], "CapabilityUnhealthy");
  EXPECT_EQ(sent[0]["endsAt"], FormatRfc3339(clock_.WallNow()));
  EXPECT_EQ(sent[1]["labels"]["alertname"], "CapabilityDown");
}

TEST_F(AlertmanagerSinkTest, WhileAlertmanagerIsAwayEverythingIsKeptAndSentInBatches) {
  auto sink = Make();
  posted_->script = {{0, "connection refused"}, {0, "connection refused"}};
  for (const char* id : {"a", "b", "c"}) {
    sink->Transition(MakeTransition(id, AlertLevel::kHealthy, AlertLevel::kDown, clock_.WallNow()));
  }
  sink->Transition(MakeTransition("a", AlertLevel::kDown, AlertLevel::kHealthy, clock_.WallNow()));
  clock_.AdvanceTo(sink->RunDue(clock_.Now()));  // refused; retried after 1 s
  clock_.AdvanceTo(sink->RunDue(clock_.Now()));  // refused; after 2 s
  EXPECT_EQ(sink->stats().failed, 2u);
  sink->RunDue(clock_.Now());
  // a's resolution and b, c firing: 3 alerts in batches of 2.
  ASSERT_EQ(posted_->size(), 4u);
  nlohmann::json sent = Alerts(2);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0]["labels"]["identifier"], "a");
  EXPECT_EQ(sent[0]["endsAt"], FormatRfc3339(clock_.WallNow() - absl::Seconds(3)));
  EXPECT_EQ(sent[1]["labels"]["identifier"], "b");
  EXPECT_EQ(sent[2]["labels"]["identifier"], "c");
  EXPECT_EQ(sink->stats().sent, 3u);
}

TEST_F(AlertmanagerSinkTest, AStormIsOneAlertUntilItEnds) {
  auto sink = Make();
  sink->Storm({"run-1", true, 900, 1000, 899, clock_.WallNow(), 0.2});
  sink->RunDue(clock_.Now());
  sink->Storm({"run-2", false, 10, 1000, 0, clock_.WallNow(), 0.2});
  sink->RunDue(clock_.Now());
  nlohmann::json sent = Alerts();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0]["labels"]["alertname"], "CapabilitiesFailingAtOnce");
  EXPECT_EQ(sent[0]["annotations"]["summary"], "900 of 1000 capabilities are failing at once");
  EXPECT_EQ(sent[0]["annotations"]["message"],
            absl::StrCat("900 of 1000 capabilities are failing at once: ",
                         sent[0]["annotations"]["reason"].get<std::string>()));
  EXPECT_EQ(sent[1]["labels"]["alertname"], "CapabilitiesFailingAtOnce");
  EXPECT_EQ(sent[1]["endsAt"], FormatRfc3339(clock_.WallNow()));
}

TEST(NamespaceOfSourceTest, ReadsTheNamespaceOfKubernetesSources) {
  EXPECT_EQ(NamespaceOfSource("Capability team-a/orders"), "team-a");
  EXPECT_EQ(NamespaceOfSource("ConfigMap ops/caps orders.yaml"), "ops");
  EXPECT_EQ(NamespaceOfSource("/etc/capabilities/orders.yaml"), "");
  EXPECT_EQ(NamespaceOfSource(""), "");
}

}  // namespace
}  // namespace hb::alert
