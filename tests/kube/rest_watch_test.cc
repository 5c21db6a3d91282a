// RestKubeClient::Watch against the kube-emulator: events delivered while the stream is
// still open, bookmarks, 410 Gone, prompt cancellation and server-side ends of the stream.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/errors.h"
#include "kube_test_util.h"

namespace hb::kube::testing {
namespace {

using ::testing::ElementsAre;

class RestWatchTest : public EmulatorTest {
 protected:
  // The list's resourceVersion for a label selector that matches only this test's objects.
  std::string ListVersion(const std::string& selector) {
    ListOptions options;
    options.label_selector = selector;
    auto list = client_->List(kConfigMaps, options);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? list->resource_version : "";
  }
};

TEST_F(RestWatchTest, EventsArriveWhileTheStreamIsOpen) {
  const std::string tag = UniqueName("watch");
  const std::string selector = "suite=" + tag;
  WatchOptions options;
  options.resource_version = ListVersion(selector);
  options.label_selector = selector;
  WatchRunner watch(*client_, kConfigMaps, options);
  ASSERT_TRUE(emulator_->WaitForWatch(selector, absl::Seconds(10)));

  const std::string name = tag + "-a";
  auto created = client_->Create(kConfigMaps, ConfigMap(name, {{"v", "1"}}, {{"suite", tag}}));
  ASSERT_TRUE(created.ok()) << created.status();
  // The event must come through while the server keeps the response open.
  ASSERT_TRUE(watch.WaitForEvents(1, absl::Seconds(5))) << "no event while the watch is open";
  EXPECT_FALSE(watch.Finished());

  auto modified =
      client_->Patch(kConfigMaps, name, PatchType::kMerge, {{"data", {{"v", "2"}}}}, {});
  ASSERT_TRUE(modified.ok()) << modified.status();
  ASSERT_TRUE(watch.WaitForEvents(2, absl::Seconds(5)));
  ASSERT_TRUE(client_->Delete(kConfigMaps, name, {}).ok());
  ASSERT_TRUE(watch.WaitForEvents(3, absl::Seconds(5)));
  EXPECT_FALSE(watch.Finished());
  EXPECT_THAT(watch.Summary(), ElementsAre("ADDED " + name, "MODIFIED " + name, "DELETED " + name));
  auto events = watch.Events();
  EXPECT_EQ(events[1].object["data"]["v"], "2");
  EXPECT_EQ(ObjectResourceVersion(events[1].object), ObjectResourceVersion(*modified));

  watch.Cancel();
  auto result = watch.WaitForResult(absl::Seconds(5));
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(absl::IsCancelled(*result)) << *result;
}

TEST_F(RestWatchTest, FromVersionZeroStartsWithTheExistingObjects) {
  const std::string tag = UniqueName("initial");
  ASSERT_TRUE(client_->Create(kConfigMaps, ConfigMap(tag + "-x", {}, {{"suite", tag}})).ok());
  WatchOptions options;
  options.label_selector = "suite=" + tag;
  options.resource_version = "0";
  WatchRunner watch(*client_, kConfigMaps, options);
  ASSERT_TRUE(watch.WaitForEvents(1, absl::Seconds(5)));
  EXPECT_THAT(watch.Summary(), ElementsAre("ADDED " + tag + "-x"));
}

TEST_F(RestWatchTest, CancelInterruptsABlockedWatchPromptly) {
  WatchOptions options;
  options.label_selector = "suite=" + UniqueName("quiet");  // nothing will ever match
  WatchRunner watch(*client_, kConfigMaps, options);
  ASSERT_TRUE(emulator_->WaitForWatch(options.label_selector, absl::Seconds(10)));
  EXPECT_FALSE(watch.Finished());
  absl::Time cancelled_at = absl::Now();
  watch.Cancel();
  auto result = watch.WaitForResult(absl::Seconds(5));
  ASSERT_TRUE(result.has_value()) << "the watch ignored Cancel()";
  EXPECT_TRUE(absl::IsCancelled(*result)) << *result;
  EXPECT_LT(watch.finished_at() - cancelled_at, absl::Seconds(1));
  RecordProperty("cancel_latency_ms",
                 absl::StrCat(absl::ToDoubleMilliseconds(watch.finished_at() - cancelled_at)));
  // The server sees the connection go away.
  EXPECT_TRUE(hb::testing::WaitFor(
      [&] { return emulator_->OpenWatches(options.label_selector) == 0; }, absl::Seconds(5)));
}

TEST_F(RestWatchTest, CancelBeforeStartReturnsAtOnce) {
  CancelToken cancel;
  cancel.Cancel();
  absl::Status status = client_->Watch(
      kConfigMaps, {}, [](WatchEvent) { return absl::OkStatus(); }, cancel);
  EXPECT_TRUE(absl::IsCancelled(status)) << status;
}

TEST_F(RestWatchTest, BookmarksCarryTheResourceVersion) {
  ASSERT_TRUE(emulator_->SetFaults({{"bookmarkIntervalSeconds", 0.3}}).ok());
  WatchOptions options;
  options.label_selector = "suite=" + UniqueName("bookmarks");
  options.resource_version = ListVersion(options.label_selector);
  options.allow_bookmarks = true;
  WatchRunner watch(*client_, kConfigMaps, options);
  ASSERT_TRUE(watch.WaitForEvents(2, absl::Seconds(5)));
  for (const auto& event : watch.Events()) {
    EXPECT_EQ(event.type, WatchEventType::kBookmark);
    EXPECT_FALSE(ObjectResourceVersion(event.object).empty());
  }
  EXPECT_FALSE(watch.Finished());
}

TEST_F(RestWatchTest, TooOldResourceVersionIsGone) {
  const std::string tag = UniqueName("old");
  const std::string selector = "suite=" + tag;
  std::string old_version = ListVersion(selector);
  ASSERT_TRUE(client_->Create(kConfigMaps, ConfigMap(tag, {}, {{"suite", tag}})).ok());
  ASSERT_TRUE(emulator_->SetFaults({{"compact", true}}).ok());
  WatchOptions options;
  options.label_selector = selector;
  options.resource_version = old_version;
  options.timeout_seconds = 10;  // a broken client must not hang the test
  int events = 0;
  absl::Status status = client_->Watch(
      kConfigMaps, options,
      [&](WatchEvent) {
        ++events;
        return absl::OkStatus();
      },
      CancelToken());
  EXPECT_TRUE(IsGone(status)) << status;
  EXPECT_EQ(events, 0);

  ASSERT_TRUE(emulator_->SetFaults({{"forceGoneOnNextWatch", true}}).ok());
  options.resource_version = ListVersion(selector);
  status = client_->Watch(
      kConfigMaps, options, [](WatchEvent) { return absl::OkStatus(); }, CancelToken());
  EXPECT_TRUE(IsGone(status)) << status;
  EXPECT_FALSE(IsRetryable(status));
}

TEST_F(RestWatchTest, ServerClosingTheWatchEndsItCleanly) {
  ASSERT_TRUE(emulator_->SetFaults({{"closeWatchesAfterSeconds", 1}}).ok());
  WatchOptions options;
  options.label_selector = "suite=" + UniqueName("closed");
  WatchRunner watch(*client_, kConfigMaps, options);
  auto result = watch.WaitForResult(absl::Seconds(10));
  ASSERT_TRUE(result.has_value()) << "the watch did not end when the server closed it";
  EXPECT_TRUE(result->ok()) << *result;
}

TEST_F(RestWatchTest, TimeoutSecondsEndsTheWatchCleanly) {
  WatchOptions options;
  options.label_selector = "suite=" + UniqueName("timeout");
  options.timeout_seconds = 1;
  absl::Time start = absl::Now();
  WatchRunner watch(*client_, kConfigMaps, options);
  auto result = watch.WaitForResult(absl::Seconds(10));
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->ok()) << *result;
  EXPECT_GE(watch.finished_at() - start, absl::Milliseconds(900));
}

TEST_F(RestWatchTest, IdleTimeoutEndsAHalfOpenWatch) {
  WatchOptions options;
  options.label_selector = "suite=" + UniqueName("idle");
  options.idle_timeout = absl::Milliseconds(500);  // no events, no bookmarks
  WatchRunner watch(*client_, kConfigMaps, options);
  auto result = watch.WaitForResult(absl::Seconds(10));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->code(), absl::StatusCode::kDeadlineExceeded) << *result;
  EXPECT_TRUE(IsRetryable(*result));
}

TEST_F(RestWatchTest, HandlerErrorEndsTheWatch) {
  const std::string tag = UniqueName("stop");
  ASSERT_TRUE(client_->Create(kConfigMaps, ConfigMap(tag, {}, {{"suite", tag}})).ok());
  WatchOptions options;
  options.label_selector = "suite=" + tag;
  options.timeout_seconds = 10;  // a broken client must not hang the test
  absl::Status status = client_->Watch(
      kConfigMaps, options, [](WatchEvent) { return absl::AbortedError("seen enough"); },
      CancelToken());
  EXPECT_EQ(status, absl::AbortedError("seen enough"));

  status = client_->Watch(
      kConfigMaps, options,
      [](WatchEvent event) -> absl::Status {
        (void)event.object.at("no-such-field");  // throws
        return absl::OkStatus();
      },
      CancelToken());
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("handler threw"));
}

TEST_F(RestWatchTest, ServerErrorOnWatchIsRetryable) {
  ASSERT_TRUE(emulator_->SetFaults({{"errorRate", 1}, {"errorCode", 500}}).ok());
  WatchOptions options;
  options.timeout_seconds = 10;  // a broken client must not hang the test
  absl::Status status = client_->Watch(
      kConfigMaps, options, [](WatchEvent) { return absl::OkStatus(); }, CancelToken());
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_TRUE(IsRetryable(status));
}

}  // namespace
}  // namespace hb::kube::testing
