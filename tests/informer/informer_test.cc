// Informer against FakeKubeClient, with its backoff sleeps on virtual time.
#include "informer/informer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "informer_test_util.h"
#include "kube/errors.h"
#include "kubefake/fake_kube_client.h"
#include "support/clock_driver.h"

namespace hb::informer::testing {
namespace {

using kubefake::Verb;
using ::testing::ElementsAre;

const kube::ResourceRef kConfigMaps{"", "v1", "configmaps", "default"};

absl::Status ServerError(int code) {
  return kube::MakeApiError(
      {code, code == 500 ? "InternalError" : "ServiceUnavailable", "test", absl::ZeroDuration()});
}

class InformerTest : public ::testing::Test {
 protected:
  InformerOptions Options() {
    InformerOptions options;
    options.ref = kConfigMaps;
    options.page_size = 2;
    options.watch_timeout_seconds = 0;  // watches end only when a test says so
    options.jitter_seed = 7;
    options.name = "configmaps-test";
    return options;
  }
  nlohmann::json Create(const std::string& name, nlohmann::json data = nlohmann::json::object(),
                        nlohmann::json labels = nlohmann::json::object(),
                        const kube::ResourceRef& ref = kConfigMaps) {
    auto created = fake_.Create(ref, ConfigMap(name, std::move(data), std::move(labels)));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : nlohmann::json();
  }
  void SetData(const std::string& name, const std::string& value) {
    auto patched =
        fake_.Patch(kConfigMaps, name, kube::PatchType::kMerge, {{"data", {{"v", value}}}}, {});
    EXPECT_TRUE(patched.ok()) << patched.status();
  }
  // The resourceVersions the informer's watch requests started from.
  std::vector<std::string> WatchVersions() {
    std::vector<std::string> versions;
    for (const auto& request : fake_.Requests()) {
      if (request.verb == Verb::kWatch) versions.push_back(request.resource_version);
    }
    return versions;
  }
  // The informer listed `lists` times and watches again.
  bool WatchingAfterList(int64_t lists, const Informer& informer) {
    return Eventually([&] {
      return informer.stats().lists >= lists && fake_.OpenWatches() == 1 &&
             WatchVersions().back() == informer.stats().last_resource_version;
    });
  }

  FakeClock clock_;
  kubefake::FakeKubeClient fake_{clock_};
  // Moves the clock through the informer's backoff sleeps (it is the one thread sleeping).
  hb::testing::ClockDriver driver_{clock_, 1};
  EventRecorder events_;
};

TEST_F(InformerTest, InitialListFillsTheCacheAndEmitsAdded) {
  Create("c");
  Create("a", {{"v", "1"}});
  Create("b");
  Informer informer(fake_, clock_, Options());
  informer.AddHandler(events_.Handler());
  EXPECT_FALSE(informer.HasSynced());
  InformerRunner runner(informer);
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(5)));
  // Handlers have seen the whole first list by the time it counts as synced.
  EXPECT_THAT(events_.Summary(),
              ElementsAre("Added default/a", "Added default/b", "Added default/c"));
  auto a = informer.Get("default/a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ((*a)["data"]["v"], "1");
  EXPECT_EQ(informer.List().size(), 3u);
  EXPECT_EQ(fake_.Calls(Verb::kList), 2) << "page size 2: two pages";
  EXPECT_EQ(informer.stats().lists, 1);
  EXPECT_EQ(informer.stats().last_resource_version, "3");
  ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
  EXPECT_THAT(WatchVersions(), ElementsAre("3")) << "the watch starts at the list's version";
}

TEST_F(InformerTest, WatchEventsUpdateTheCacheBeforeHandlersRun) {
  nlohmann::json a = Create("a");
  Create("b");
  Informer informer(fake_, clock_, Options());
  std::vector<bool> cache_matched;
  informer.AddHandler([&](const InformerEvent& event) {
    auto cached = informer.Get(event.key);
    cache_matched.push_back(event.type == InformerEvent::kDeleted ? !cached.has_value()
                                                                  : cached == event.object);
  });
  informer.AddHandler(events_.Handler());
  InformerRunner runner(informer);
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(5)));
  ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
  Create("d");
  SetData("a", "2");
  ASSERT_TRUE(fake_.Delete(kConfigMaps, "b", {}).ok());
  ASSERT_TRUE(events_.WaitForCount(5, absl::Seconds(5)));
  EXPECT_THAT(events_.Summary(),
              ElementsAre("Added default/a", "Added default/b", "Added default/d",
                          "Updated default/a", "Deleted default/b"));
  auto events = events_.Events();
  EXPECT_EQ(events[3].old_object, a);
  EXPECT_EQ(events[3].object["data"]["v"], "2");
  EXPECT_EQ(kube::ObjectName(events[4].old_object), "b");
  EXPECT_FALSE(informer.Get("default/b").has_value());
  EXPECT_EQ(informer.Get("default/a").value()["data"]["v"], "2");
  EXPECT_EQ(informer.stats().last_resource_version, std::to_string(fake_.ResourceVersion()));
  EXPECT_THAT(cache_matched, ::testing::Each(true));
}

// A handler that throws neither ends the informer's thread nor keeps the event from the
// handlers after it; the informer goes on with the next events.
TEST_F(InformerTest, AHandlerThatThrowsIsCountedAndTheOthersStillGetTheEvent) {
  Create("a");
  Informer informer(fake_, clock_, Options());
  informer.AddHandler([](const InformerEvent& event) {
    if (event.key == "default/a") throw std::runtime_error("boom");
  });
  informer.AddHandler(events_.Handler());
  InformerRunner runner(informer);
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(5)));
  ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
  SetData("a", "2");
  Create("b");
  ASSERT_TRUE(events_.WaitForCount(3, absl::Seconds(5)));
  EXPECT_THAT(events_.Summary(),
              ElementsAre("Added default/a", "Updated default/a", "Added default/b"));
  EXPECT_EQ(informer.stats().handler_errors, 2);
}

TEST_F(InformerTest, GoneRelistReportsExactlyWhatChangedWhileTheWatchWasBroken) {
  Create("a");
  nlohmann::json b = Create("b");
  Create("c");
  Informer informer(fake_, clock_, Options());
  informer.AddHandler(events_.Handler());
  InformerRunner runner(informer);
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(5)));
  ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));

  // Break the watch and keep the informer in its backoff while the server changes and
  // forgets its history.
  fake_.FailNext(Verb::kWatch, ServerError(503));
  driver_.Pause();
  fake_.CloseWatches();
  ASSERT_TRUE(clock_.AwaitSleepers(1, absl::Seconds(5)));  // in its backoff
  ASSERT_TRUE(fake_.Delete(kConfigMaps, "b", {}).ok());
  SetData("c", "changed");
  Create("d");
  fake_.CompactHistory();
  driver_.Resume();

  ASSERT_TRUE(WatchingAfterList(2, informer));
  EXPECT_THAT(events_.Summary(),
              ElementsAre("Added default/a", "Added default/b", "Added default/c",
                          "Updated default/c", "Added default/d", "Deleted default/b"));
  auto events = events_.Events();
  EXPECT_EQ(events[5].old_object, b) << "a deletion found by a re-list carries the last state";
  Informer::Stats stats = informer.stats();
  EXPECT_EQ(stats.relists_after_gone, 1);
  EXPECT_EQ(stats.errors, 1);
  EXPECT_EQ(stats.last_resource_version, std::to_string(fake_.ResourceVersion()));
  EXPECT_EQ(informer.List().size(), 3u);
}

TEST_F(InformerTest, GoneWithNothingChangedEmitsNothing) {
  Create("a");
  Informer informer(fake_, clock_, Options());
  informer.AddHandler(events_.Handler());
  InformerRunner runner(informer);
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(5)));
  ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
  fake_.ForceGoneOnNextWatch();
  fake_.CloseWatches();
  ASSERT_TRUE(WatchingAfterList(2, informer));
  EXPECT_EQ(informer.stats().relists_after_gone, 1);
  EXPECT_THAT(events_.Summary(), ElementsAre("Added default/a"));
  Create("b");
  ASSERT_TRUE(events_.WaitForCount(2, absl::Seconds(5)));
  EXPECT_THAT(events_.Summary(), ElementsAre("Added default/a", "Added default/b"));
}

TEST_F(InformerTest, ClosedWatchResumesFromTheLastVersionWithoutLossOrDuplicates) {
  Informer informer(fake_, clock_, Options());
  informer.AddHandler(events_.Handler());
  InformerRunner runner(informer);
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(5)));
  ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
  nlohmann::json a = Create("a");
  ASSERT_TRUE(events_.WaitForCount(1, absl::Seconds(5)));

  fake_.CloseWatches();
  Create("b");  // while the informer may be between watches: replayed by the next one
  ASSERT_TRUE(
      Eventually([&] { return fake_.Calls(Verb::kWatch) >= 2 && fake_.OpenWatches() == 1; }));
  Create("c");
  ASSERT_TRUE(events_.WaitForCount(3, absl::Seconds(5)));
  EXPECT_THAT(events_.Summary(),
              ElementsAre("Added default/a", "Added default/b", "Added default/c"));
  EXPECT_THAT(WatchVersions(), ElementsAre("0", kube::ObjectResourceVersion(a)));
  EXPECT_EQ(fake_.Calls(Verb::kList), 1) << "a closed watch must not cause a re-list";
}

TEST_F(InformerTest, BookmarksAdvanceTheResourceVersion) {
  Informer informer(fake_, clock_, Options());
  informer.AddHandler(events_.Handler());
  InformerRunner runner(informer);
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(5)));
  ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
  Create("x", {}, {}, kConfigMaps.InNamespace("other"));  // outside the informer's namespace
  Create("y", {}, {}, kConfigMaps.InNamespace("other"));
  const std::string now = std::to_string(fake_.ResourceVersion());
  fake_.SendBookmarks();
  ASSERT_TRUE(Eventually([&] { return informer.stats().last_resource_version == now; }))
      << informer.stats().last_resource_version;
  fake_.CloseWatches();
  ASSERT_TRUE(
      Eventually([&] { return fake_.Calls(Verb::kWatch) >= 2 && fake_.OpenWatches() == 1; }));
  EXPECT_EQ(WatchVersions().back(), now) << "the next watch starts at the bookmark";
  EXPECT_TRUE(events_.Events().empty());
}

TEST_F(InformerTest, ListErrorsBackOffWithIncreasingDelays) {
  fake_.FailNext(Verb::kList, ServerError(500), 3);
  Informer informer(fake_, clock_, Options());  // 800 ms doubling, up to half removed
  InformerRunner runner(informer);
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(5)));
  std::vector<absl::Duration> delays = driver_.Jumps();
  ASSERT_EQ(delays.size(), 3u);
  EXPECT_GE(delays[0], absl::Milliseconds(400));
  EXPECT_LE(delays[0], absl::Milliseconds(800));
  EXPECT_GE(delays[1], absl::Milliseconds(800));
  EXPECT_LE(delays[1], absl::Milliseconds(1600));
  EXPECT_GE(delays[2], absl::Milliseconds(1600));
  EXPECT_LE(delays[2], absl::Milliseconds(3200));
  EXPECT_EQ(informer.stats().errors, 3);
  EXPECT_EQ(informer.stats().lists, 1);
}

TEST_F(InformerTest, BackoffIsCappedAndResetsAfterASuccessfulList) {
  fake_.FailNext(Verb::kList, ServerError(503), 6);
  fake_.FailNext(Verb::kWatch, ServerError(503), 1);
  InformerOptions options = Options();
  options.backoff = {absl::Milliseconds(100), absl::Seconds(1), 2.0, 0.0};
  Informer informer(fake_, clock_, options);
  InformerRunner runner(informer);
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(5)));
  ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
  auto ms = [](int n) { return absl::Milliseconds(n); };
  EXPECT_THAT(driver_.Jumps(),
              ElementsAre(ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000), ms(100)));
}

TEST_F(InformerTest, WatchFailuresRecover) {
  fake_.FailNext(Verb::kWatch, ServerError(500), 2);
  Informer informer(fake_, clock_, Options());
  informer.AddHandler(events_.Handler());
  InformerRunner runner(informer);
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(5)));
  ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
  EXPECT_EQ(fake_.Calls(Verb::kWatch), 3);
  Create("x");
  ASSERT_TRUE(events_.WaitForCount(1, absl::Seconds(5)));
  EXPECT_THAT(events_.Summary(), ElementsAre("Added default/x"));
  EXPECT_EQ(informer.stats().errors, 2);
  EXPECT_EQ(driver_.Jumps().size(), 2u);
  EXPECT_EQ(fake_.Calls(Verb::kList), 1) << "a failed watch resumes without a re-list";
}

TEST_F(InformerTest, LabelSelectorScopesTheCache) {
  Create("a", {}, {{"app", "web"}});
  Create("b", {}, {{"app", "db"}});
  InformerOptions options = Options();
  options.label_selector = "app=web";
  Informer informer(fake_, clock_, options);
  informer.AddHandler(events_.Handler());
  InformerRunner runner(informer);
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(5)));
  ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
  ASSERT_TRUE(fake_
                  .Patch(kConfigMaps, "b", kube::PatchType::kMerge,
                         {{"metadata", {{"labels", {{"app", "web"}}}}}}, {})
                  .ok());
  ASSERT_TRUE(fake_
                  .Patch(kConfigMaps, "a", kube::PatchType::kMerge,
                         {{"metadata", {{"labels", {{"app", "none"}}}}}}, {})
                  .ok());
  ASSERT_TRUE(events_.WaitForCount(3, absl::Seconds(5)));
  EXPECT_THAT(events_.Summary(),
              ElementsAre("Added default/a", "Added default/b", "Deleted default/a"));
  EXPECT_EQ(informer.List().size(), 1u);
}

TEST_F(InformerTest, CancelStopsRunDuringAWatchAndDuringABackoff) {
  {
    Informer informer(fake_, clock_, Options());
    InformerRunner runner(informer);
    ASSERT_TRUE(informer.WaitForSync(absl::Seconds(5)));
    ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
    runner.Cancel();
    EXPECT_TRUE(runner.WaitStopped(absl::Seconds(2))) << "Run() ignored the cancel while watching";
  }
  fake_.FailNext(Verb::kList, ServerError(500), 100);
  InformerOptions options = Options();
  options.backoff = {absl::Seconds(30), absl::Seconds(30), 2.0, 0.0};
  driver_.Pause();  // time stands still: the informer sleeps in its first backoff
  Informer informer(fake_, clock_, options);
  InformerRunner runner(informer);
  ASSERT_TRUE(clock_.AwaitSleepers(1, absl::Seconds(5)));
  EXPECT_EQ(informer.stats().errors, 1);
  runner.Cancel();
  EXPECT_TRUE(runner.WaitStopped(absl::Seconds(2))) << "Run() slept through the cancel";
  EXPECT_FALSE(informer.HasSynced());
}

}  // namespace
}  // namespace hb::informer::testing
