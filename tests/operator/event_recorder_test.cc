// EventRecorder against the in-memory Kubernetes client on virtual time: correlation,
// the per-object spam filter and the global budget.
#include "operator/event_recorder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kubefake/fake_kube_client.h"

namespace hb::op {
namespace {

const kube::ResourceRef kEvents{"", "v1", "events", "default"};

class EventRecorderTest : public ::testing::Test {
 protected:
  kube::ObjectReference Object(const std::string& name) {
    return kube::ObjectReference{"chora.dev/v1alpha1", "Capability", "default", name,
                                 "uid-" + name};
  }
  std::vector<nlohmann::json> Events() {
    auto listed = kube_.List(kEvents, {});
    EXPECT_TRUE(listed.ok());
    return listed.ok() ? listed->items : std::vector<nlohmann::json>{};
  }

  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  kubefake::FakeKubeClient kube_{clock_};
};

TEST_F(EventRecorderTest, ARepeatUpdatesTheFirstEventsCountInsteadOfCreatingAnother) {
  EventRecorder recorder(kube_, clock_, "test");
  recorder.Record(Object("a"), true, "LeaseLost", "lost");
  clock_.Advance(absl::Minutes(1));
  recorder.Record(Object("a"), true, "LeaseLost", "lost");
  recorder.Record(Object("a"), true, "LeaseLost", "lost");
  recorder.Record(Object("a"), false, "Healthy", "back");  // another reason: another Event
  std::vector<nlohmann::json> events = Events();
  ASSERT_EQ(events.size(), 2u);
  const nlohmann::json& lost = events[0]["reason"] == "LeaseLost" ? events[0] : events[1];
  EXPECT_EQ(lost["count"], 3);
  EXPECT_NE(lost["lastTimestamp"], lost["firstTimestamp"]);
  EXPECT_EQ(recorder.stats().created, 2);
  EXPECT_EQ(recorder.stats().correlated, 2);

  // Past the correlation window the same event is news again.
  clock_.Advance(absl::Minutes(11));
  recorder.Record(Object("a"), true, "LeaseLost", "lost");
  EXPECT_EQ(Events().size(), 3u);
}

TEST_F(EventRecorderTest, AFlappingObjectIsCutOffAndRefilledSlowly) {
  EventRecorderOptions options;
  options.per_object_burst = 5;
  options.per_object_refill = absl::Minutes(5);
  options.qps = 0;  // no global budget in this test
  EventRecorder recorder(kube_, clock_, "test", options);
  for (int i = 0; i < 20; ++i) {
    recorder.Record(Object("flappy"), true, "Unhealthy", "change " + std::to_string(i));
  }
  recorder.Record(Object("calm"), true, "Unhealthy", "once");
  EXPECT_EQ(Events().size(), 6u) << "5 of the flapping object, 1 of the calm one";
  EXPECT_EQ(recorder.stats().dropped, 15);
  clock_.Advance(absl::Minutes(5));
  recorder.Record(Object("flappy"), true, "Unhealthy", "later");
  recorder.Record(Object("flappy"), true, "Unhealthy", "later still");
  EXPECT_EQ(Events().size(), 7u) << "one more token per 5 minutes";
}

TEST_F(EventRecorderTest, AnOutageWritesTheBurstAndCountsTheRest) {
  EventRecorderOptions options;
  options.qps = 2;
  options.burst = 50;
  EventRecorder recorder(kube_, clock_, "test", options);
  for (int i = 0; i < 10000; ++i) {
    recorder.Record(Object("cap-" + std::to_string(i)), true, "LeaseLost", "etcd unreachable");
  }
  EXPECT_EQ(Events().size(), 50u);
  EXPECT_EQ(recorder.stats().dropped, 9950);
  clock_.Advance(absl::Seconds(10));
  for (int i = 0; i < 100; ++i) {
    recorder.Record(Object("cap-" + std::to_string(i)), false, "Healthy", "recovered");
  }
  EXPECT_EQ(Events().size(), 70u) << "10 s at 2/s";
}

TEST_F(EventRecorderTest, AnEventTheServerNoLongerHasIsCreatedAgain) {
  EventRecorder recorder(kube_, clock_, "test");
  recorder.Record(Object("a"), true, "LeaseLost", "lost");
  std::vector<nlohmann::json> events = Events();
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(kube_.Delete(kEvents, kube::ObjectName(events[0]), {}).ok());  // expired (TTL)
  recorder.Record(Object("a"), true, "LeaseLost", "lost");
  events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["count"], 1);
}

}  // namespace
}  // namespace hb::op
