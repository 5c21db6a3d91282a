// FakeKubeClient: the API server semantics controllers depend on, and its fault knobs.
#include "kubefake/fake_kube_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "informer_test_util.h"
#include "kube/errors.h"

namespace hb::kubefake {
namespace {

using informer::testing::ConfigMap;
using informer::testing::WatchRunner;
using ::testing::ElementsAre;

const kube::ResourceRef kConfigMaps{"", "v1", "configmaps", "default"};
const kube::ResourceRef kAllConfigMaps{"", "v1", "configmaps", ""};
const kube::ResourceRef kWidgets{"example.dev", "v1", "widgets", "default"};

nlohmann::json Widget(const std::string& name) {
  return {{"apiVersion", "example.dev/v1"},
          {"kind", "Widget"},
          {"metadata", {{"name", name}, {"finalizers", {"example.dev/cleanup"}}}},
          {"spec", {{"size", 1}}}};
}

std::vector<std::string> Names(const kube::ListResult& list) {
  std::vector<std::string> names;
  for (const auto& item : list.items) names.push_back(kube::ObjectName(item));
  return names;
}

class FakeKubeClientTest : public ::testing::Test {
 protected:
  nlohmann::json MustCreate(const kube::ResourceRef& ref, const nlohmann::json& object) {
    auto created = fake_.Create(ref, object);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : nlohmann::json();
  }
  std::vector<std::string> ListNames(const std::string& labels, const std::string& fields = "") {
    kube::ListOptions options;
    options.label_selector = labels;
    options.field_selector = fields;
    auto list = fake_.List(kAllConfigMaps, options);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? Names(*list) : std::vector<std::string>{"<error>"};
  }

  FakeClock clock_;
  FakeKubeClient fake_{clock_};
};

TEST_F(FakeKubeClientTest, CreateFillsServerMetadata) {
  nlohmann::json a = MustCreate(kConfigMaps, ConfigMap("a", {{"k", "v"}}));
  EXPECT_EQ(kube::ObjectResourceVersion(a), "1");
  EXPECT_EQ(a["metadata"]["namespace"], "default");
  EXPECT_EQ(a["metadata"]["generation"], 1);
  EXPECT_EQ(a["metadata"]["creationTimestamp"], "2023-11-14T22:13:20Z");  // the FakeClock's
  EXPECT_FALSE(a["metadata"]["uid"].get<std::string>().empty());
  nlohmann::json b = MustCreate(kConfigMaps, ConfigMap("b", {}));
  EXPECT_EQ(kube::ObjectResourceVersion(b), "2") << "one global counter";
  EXPECT_NE(a["metadata"]["uid"], b["metadata"]["uid"]);

  EXPECT_TRUE(kube::IsAlreadyExists(fake_.Create(kConfigMaps, ConfigMap("a", {})).status()));
  EXPECT_TRUE(kube::IsNotFound(fake_.Get(kConfigMaps, "missing").status()));
  auto got = fake_.Get(kConfigMaps, "a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, a);

  nlohmann::json generated = ConfigMap("", {});
  generated["metadata"]["generateName"] = "gen-";
  nlohmann::json g = MustCreate(kConfigMaps, generated);
  EXPECT_THAT(kube::ObjectName(g), ::testing::StartsWith("gen-"));
  EXPECT_GT(kube::ObjectName(g).size(), 4u);
}

TEST_F(FakeKubeClientTest, UpdateChecksVersionKeepsStatusAndBumpsGenerationOnSpecChanges) {
  nlohmann::json w = MustCreate(kWidgets, Widget("w"));
  nlohmann::json changed = w;
  changed["spec"]["size"] = 2;
  changed["status"] = {{"ready", true}};
  auto updated = fake_.Update(kWidgets, changed);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ((*updated)["metadata"]["generation"], 2);
  EXPECT_FALSE(updated->contains("status")) << "Update must ignore status";

  EXPECT_TRUE(kube::IsConflict(fake_.Update(kWidgets, changed).status())) << "stale version";

  nlohmann::json relabelled = *updated;
  relabelled["metadata"]["labels"] = {{"x", "y"}};
  auto labelled = fake_.Update(kWidgets, relabelled);
  ASSERT_TRUE(labelled.ok());
  EXPECT_EQ((*labelled)["metadata"]["generation"], 2) << "metadata changes keep the generation";

  int64_t before = fake_.ResourceVersion();
  auto same = fake_.Update(kWidgets, *labelled);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(fake_.ResourceVersion(), before) << "an identical rewrite is a no-op";

  nlohmann::json ghost = Widget("ghost");
  EXPECT_TRUE(kube::IsNotFound(fake_.Update(kWidgets, ghost).status()));
}

TEST_F(FakeKubeClientTest, UpdateStatusChangesOnlyTheStatus) {
  nlohmann::json w = MustCreate(kWidgets, Widget("w"));
  nlohmann::json body = w;
  body["spec"]["size"] = 9;
  body["status"] = {{"observedGeneration", 1}};
  auto updated = fake_.UpdateStatus(kWidgets, body);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ((*updated)["status"]["observedGeneration"], 1);
  EXPECT_EQ((*updated)["spec"]["size"], 1);
  EXPECT_EQ((*updated)["metadata"]["generation"], 1);
  EXPECT_TRUE(kube::IsConflict(fake_.UpdateStatus(kWidgets, body).status()));
}

TEST_F(FakeKubeClientTest, PatchesMergeJsonAndStatus) {
  MustCreate(kWidgets, Widget("w"));
  auto merged = fake_.Patch(kWidgets, "w", kube::PatchType::kMerge,
                            {{"spec", {{"color", "red"}}}, {"status", {{"ready", true}}}}, {});
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ((*merged)["spec"], nlohmann::json({{"size", 1}, {"color", "red"}}));
  EXPECT_FALSE(merged->contains("status")) << "a main-resource patch keeps the status";
  EXPECT_EQ((*merged)["metadata"]["generation"], 2);

  kube::PatchOptions status;
  status.subresource = "status";
  auto with_status = fake_.Patch(kWidgets, "w", kube::PatchType::kMerge,
                                 {{"spec", {{"size", 5}}}, {"status", {{"ready", true}}}}, status);
  ASSERT_TRUE(with_status.ok()) << with_status.status();
  EXPECT_EQ((*with_status)["status"]["ready"], true);
  EXPECT_EQ((*with_status)["spec"]["size"], 1) << "a status patch changes only the status";

  auto json_patched = fake_.Patch(
      kWidgets, "w", kube::PatchType::kJson,
      nlohmann::json::array({{{"op", "test"}, {"path", "/spec/size"}, {"value", 1}},
                             {{"op", "replace"}, {"path", "/spec/size"}, {"value", 3}}}),
      {});
  ASSERT_TRUE(json_patched.ok()) << json_patched.status();
  EXPECT_EQ((*json_patched)["spec"]["size"], 3);
  EXPECT_EQ((*json_patched)["status"]["ready"], true);

  auto failed = fake_.Patch(
      kWidgets, "w", kube::PatchType::kJson,
      nlohmann::json::array({{{"op", "test"}, {"path", "/spec/size"}, {"value", 1}}}), {});
  EXPECT_TRUE(kube::IsInvalid(failed.status())) << failed.status();

  auto stale = fake_.Patch(kWidgets, "w", kube::PatchType::kMerge,
                           {{"metadata", {{"resourceVersion", "1"}}}, {"spec", {{"a", 1}}}}, {});
  EXPECT_TRUE(kube::IsConflict(stale.status())) << stale.status();
  EXPECT_TRUE(kube::IsNotFound(
      fake_.Patch(kWidgets, "nope", kube::PatchType::kMerge, {{"spec", {}}}, {}).status()));
}

TEST_F(FakeKubeClientTest, FinalizersHoldADeletedObjectUntilRemoved) {
  MustCreate(kWidgets, Widget("w"));
  kube::WatchOptions options;
  options.resource_version = std::to_string(fake_.ResourceVersion());
  WatchRunner watch(fake_, kWidgets, options);

  ASSERT_TRUE(fake_.Delete(kWidgets, "w", {}).ok());
  auto deleting = fake_.Get(kWidgets, "w");
  ASSERT_TRUE(deleting.ok()) << "an object with finalizers must stay";
  EXPECT_TRUE((*deleting)["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ((*deleting)["metadata"]["generation"], 2);
  ASSERT_TRUE(fake_.Delete(kWidgets, "w", {}).ok()) << "a second delete is accepted";

  auto more = fake_.Patch(kWidgets, "w", kube::PatchType::kMerge,
                          {{"metadata", {{"finalizers", {"example.dev/cleanup", "other"}}}}}, {});
  EXPECT_TRUE(kube::IsInvalid(more.status())) << "no new finalizers while deleting";

  auto released = fake_.Patch(kWidgets, "w", kube::PatchType::kMerge,
                              {{"metadata", {{"finalizers", nullptr}}}}, {});
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_TRUE(kube::IsNotFound(fake_.Get(kWidgets, "w").status()));
  ASSERT_TRUE(watch.WaitForEvents(2, absl::Seconds(5)));
  EXPECT_THAT(watch.Summary(), ElementsAre("MODIFIED w", "DELETED w"));
}

TEST_F(FakeKubeClientTest, DeleteHonoursPreconditions) {
  nlohmann::json a = MustCreate(kConfigMaps, ConfigMap("a", {}));
  kube::DeleteOptions wrong_uid;
  wrong_uid.uid = "other";
  EXPECT_TRUE(kube::IsConflict(fake_.Delete(kConfigMaps, "a", wrong_uid)));
  kube::DeleteOptions wrong_rv;
  wrong_rv.resource_version = "999";
  EXPECT_TRUE(kube::IsConflict(fake_.Delete(kConfigMaps, "a", wrong_rv)));
  kube::DeleteOptions right;
  right.uid = a["metadata"]["uid"].get<std::string>();
  right.resource_version = kube::ObjectResourceVersion(a);
  EXPECT_TRUE(fake_.Delete(kConfigMaps, "a", right).ok());
  EXPECT_TRUE(kube::IsNotFound(fake_.Delete(kConfigMaps, "a", {})));
}

TEST_F(FakeKubeClientTest, ListAppliesSelectorsAndNamespaces) {
  MustCreate(kConfigMaps, ConfigMap("a", {}, {{"app", "web"}, {"tier", "front"}}));
  MustCreate(kConfigMaps, ConfigMap("b", {}, {{"app", "db"}}));
  MustCreate(kConfigMaps.InNamespace("other"), ConfigMap("c", {}, {{"app", "web"}}));
  EXPECT_THAT(ListNames(""), ElementsAre("a", "b", "c"));
  EXPECT_THAT(ListNames("app=web"), ElementsAre("a", "c"));
  EXPECT_THAT(ListNames("app==web,tier=front"), ElementsAre("a"));
  EXPECT_THAT(ListNames("app!=web"), ElementsAre("b"));
  EXPECT_THAT(ListNames("tier"), ElementsAre("a"));
  EXPECT_THAT(ListNames("!tier"), ElementsAre("b", "c"));
  EXPECT_THAT(ListNames("app in (db, cache)"), ElementsAre("b"));
  EXPECT_THAT(ListNames("app notin (db)"), ElementsAre("a", "c"));
  EXPECT_THAT(ListNames("", "metadata.name=b"), ElementsAre("b"));
  EXPECT_THAT(ListNames("", "metadata.namespace!=default"), ElementsAre("c"));
  auto scoped = fake_.List(kConfigMaps, {});
  ASSERT_TRUE(scoped.ok());
  EXPECT_THAT(Names(*scoped), ElementsAre("a", "b"));

  kube::ListOptions bad;
  bad.field_selector = "spec.size=1";
  EXPECT_TRUE(kube::IsInvalid(fake_.List(kConfigMaps, bad).status()));
  bad.field_selector = "";
  bad.label_selector = "app in web";
  EXPECT_TRUE(kube::IsInvalid(fake_.List(kConfigMaps, bad).status()));
}

TEST_F(FakeKubeClientTest, PagesComeFromOneSnapshot) {
  for (const char* name : {"a", "b", "c", "d", "e"}) MustCreate(kConfigMaps, ConfigMap(name, {}));
  kube::ListOptions options;
  options.limit = 2;
  auto first = fake_.List(kConfigMaps, options);
  ASSERT_TRUE(first.ok());
  EXPECT_THAT(Names(*first), ElementsAre("a", "b"));
  ASSERT_FALSE(first->continue_token.empty());
  // Changes after the first page must not show in the following ones.
  ASSERT_TRUE(fake_.Delete(kConfigMaps, "c", {}).ok());
  MustCreate(kConfigMaps, ConfigMap("bb", {}));
  options.continue_token = first->continue_token;
  auto second = fake_.List(kConfigMaps, options);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(Names(*second), ElementsAre("c", "d"));
  EXPECT_EQ(second->resource_version, first->resource_version);
  options.continue_token = second->continue_token;
  auto third = fake_.List(kConfigMaps, options);
  ASSERT_TRUE(third.ok());
  EXPECT_THAT(Names(*third), ElementsAre("e"));
  EXPECT_TRUE(third->continue_token.empty());

  fake_.CompactHistory();
  options.continue_token = first->continue_token;
  EXPECT_TRUE(kube::IsGone(fake_.List(kConfigMaps, options).status()));
  options.continue_token = "garbage";
  EXPECT_TRUE(kube::IsInvalid(fake_.List(kConfigMaps, options).status()));

  kube::ListOptions paged;
  paged.limit = 2;
  auto all = kube::ListAll(fake_, kConfigMaps, paged);
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(Names(*all), ElementsAre("a", "b", "bb", "d", "e"));
}

TEST_F(FakeKubeClientTest, ListAllReadsEverythingAtOnceWhenItsContinueTokenExpired) {
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    ASSERT_TRUE(fake_.Create(kConfigMaps, ConfigMap(name, {})).ok());
  }
  // The first page passes; the second, with the continue token, finds the snapshot compacted.
  fake_.FailNext(Verb::kList, absl::OkStatus());
  fake_.FailNext(Verb::kList, kube::MakeApiError({410, "Expired", "continue too old", {}}));
  kube::ListOptions paged;
  paged.limit = 2;
  auto all = kube::ListAll(fake_, kConfigMaps, paged);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Names(*all), ElementsAre("a", "b", "c", "d", "e")) << "each object once";
  EXPECT_FALSE(all->resource_version.empty());

  fake_.FailNext(Verb::kList, kube::MakeApiError({410, "Expired", "too old", {}}));
  EXPECT_TRUE(kube::IsGone(kube::ListAll(fake_, kConfigMaps, paged).status()))
      << "a first page's 410 is the caller's (its resourceVersion is too old)";
}

TEST_F(FakeKubeClientTest, FailNextAndTheRequestLog) {
  fake_.FailNext(Verb::kCreate, kube::MakeApiError({500, "InternalError", "boom", {}}), 2);
  EXPECT_TRUE(kube::IsRetryable(fake_.Create(kConfigMaps, ConfigMap("a", {})).status()));
  EXPECT_TRUE(kube::IsRetryable(fake_.Create(kConfigMaps, ConfigMap("a", {})).status()));
  EXPECT_TRUE(fake_.Create(kConfigMaps, ConfigMap("a", {})).ok());
  EXPECT_FALSE(fake_.Object(kConfigMaps, "b").has_value());
  nlohmann::json a = *fake_.Object(kConfigMaps, "a");
  a["status"] = {{"x", 1}};
  ASSERT_TRUE(fake_.UpdateStatus(kConfigMaps, a).ok());
  EXPECT_EQ(fake_.Calls(Verb::kCreate), 3);
  EXPECT_EQ(fake_.Calls(Verb::kUpdateStatus), 1);
  EXPECT_EQ(fake_.Calls(Verb::kGet), 0) << "Object() bypasses the log";
  std::vector<FakeRequest> log = fake_.Requests();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_STREQ(VerbName(log[3].verb), "update");
  EXPECT_EQ(log[3].subresource, "status");
  EXPECT_EQ(log[3].ref.namespace_, "default");
  EXPECT_EQ(log[3].name, "a");
}

TEST_F(FakeKubeClientTest, SeedBypassesFaultsAndReplacesSpecAndStatus) {
  fake_.FailNext(Verb::kCreate, kube::MakeApiError({500, "InternalError", "boom", {}}));
  nlohmann::json w = Widget("w");
  w["status"] = {{"phase", "old"}};
  nlohmann::json seeded = fake_.Seed(kWidgets, w);
  EXPECT_EQ(kube::ObjectResourceVersion(seeded), "1");
  w["spec"]["size"] = 4;
  w["status"]["phase"] = "new";
  w["metadata"]["resourceVersion"] = "999";  // ignored: seeding is unconditional
  nlohmann::json replaced = fake_.Seed(kWidgets, w);
  EXPECT_EQ(replaced["spec"]["size"], 4);
  EXPECT_EQ(replaced["status"]["phase"], "new");
  EXPECT_EQ(replaced["metadata"]["generation"], 2);
  EXPECT_EQ(replaced["metadata"]["uid"], seeded["metadata"]["uid"]);
  EXPECT_EQ(fake_.Calls(Verb::kCreate), 0);
  EXPECT_TRUE(fake_.Requests().empty());
  EXPECT_TRUE(kube::IsRetryable(fake_.Create(kWidgets, Widget("x")).status()))
      << "the queued fault is still there for the code under test";
}

TEST_F(FakeKubeClientTest, WatchReplaysFromAVersionAndSendsBookmarks) {
  MustCreate(kConfigMaps, ConfigMap("a", {}));
  std::string from = std::to_string(fake_.ResourceVersion());
  MustCreate(kConfigMaps, ConfigMap("b", {}));
  kube::WatchOptions options;
  options.resource_version = from;
  options.allow_bookmarks = true;
  WatchRunner watch(fake_, kConfigMaps, options);
  ASSERT_TRUE(watch.WaitForEvents(2, absl::Seconds(5)));
  ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
  MustCreate(kConfigMaps.InNamespace("other"), ConfigMap("elsewhere", {}));
  fake_.SendBookmarks();
  ASSERT_TRUE(watch.WaitForEvents(3, absl::Seconds(5)));
  EXPECT_THAT(watch.Summary(), ElementsAre("BOOKMARK 1", "ADDED b", "BOOKMARK 3"));
}

TEST_F(FakeKubeClientTest, WatchFromZeroStartsWithTheObjectsAndFollowsSelectors) {
  MustCreate(kConfigMaps, ConfigMap("a", {}, {{"app", "web"}}));
  MustCreate(kConfigMaps, ConfigMap("b", {}, {{"app", "db"}}));
  kube::WatchOptions options;
  options.label_selector = "app=web";
  WatchRunner watch(fake_, kConfigMaps, options);
  ASSERT_TRUE(watch.WaitForEvents(1, absl::Seconds(5)));
  ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
  ASSERT_TRUE(fake_
                  .Patch(kConfigMaps, "a", kube::PatchType::kMerge,
                         {{"metadata", {{"labels", {{"app", "none"}}}}}}, {})
                  .ok());
  ASSERT_TRUE(fake_
                  .Patch(kConfigMaps, "b", kube::PatchType::kMerge,
                         {{"metadata", {{"labels", {{"app", "web"}}}}}}, {})
                  .ok());
  ASSERT_TRUE(
      fake_.Patch(kConfigMaps, "b", kube::PatchType::kMerge, {{"data", {{"k", "v"}}}}, {}).ok());
  ASSERT_TRUE(watch.WaitForEvents(4, absl::Seconds(5)));
  EXPECT_THAT(watch.Summary(), ElementsAre("ADDED a", "DELETED a", "ADDED b", "MODIFIED b"));
}

TEST_F(FakeKubeClientTest, WatchEndsOnGoneCloseCancelTimeoutAndFaults) {
  for (const char* name : {"a", "b", "c"}) MustCreate(kConfigMaps, ConfigMap(name, {}));
  fake_.SetHistoryLimit(1);  // only the creation of c (version 3) is kept
  auto noop = [](kube::WatchEvent) { return absl::OkStatus(); };
  CancelToken never;
  kube::WatchOptions old;
  old.resource_version = "1";
  EXPECT_TRUE(kube::IsGone(fake_.Watch(kConfigMaps, old, noop, never))) << "1 is out of history";
  old.resource_version = "2";
  fake_.ForceGoneOnNextWatch();
  EXPECT_TRUE(kube::IsGone(fake_.Watch(kConfigMaps, old, noop, never)));
  fake_.FailNext(Verb::kWatch, kube::MakeApiError({503, "ServiceUnavailable", "down", {}}));
  EXPECT_TRUE(kube::IsRetryable(fake_.Watch(kConfigMaps, old, noop, never)));

  {
    WatchRunner closed(fake_, kConfigMaps, old);
    ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
    fake_.CloseWatches();
    auto result = closed.WaitForResult(absl::Seconds(5));
    ASSERT_TRUE(result.has_value()) << "CloseWatches() did not end the watch";
    EXPECT_TRUE(result->ok()) << *result;
  }
  {
    WatchRunner cancelled(fake_, kConfigMaps, old);
    ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
    absl::Time start = absl::Now();
    cancelled.Cancel();
    auto result = cancelled.WaitForResult(absl::Seconds(5));
    ASSERT_TRUE(result.has_value()) << "the watch ignored the cancel";
    EXPECT_TRUE(absl::IsCancelled(*result)) << *result;
    EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  }
  {
    // The server-side timeout runs on the fake clock.
    kube::WatchOptions timed = old;
    timed.timeout_seconds = 1;
    WatchRunner runner(fake_, kConfigMaps, timed);
    ASSERT_TRUE(fake_.WaitForWatches(1, absl::Seconds(5)));
    ASSERT_TRUE(clock_.AwaitSleepers(1, absl::Seconds(5)));
    clock_.Advance(absl::Milliseconds(999));
    // Woken by the move, the watch must go back to sleep: its timeout has not come.
    ASSERT_TRUE(clock_.AwaitSleepers(1, absl::Seconds(5))) << "the watch ended before its timeout";
    EXPECT_EQ(fake_.OpenWatches(), 1);
    clock_.Advance(absl::Milliseconds(1));
    auto result = runner.WaitForResult(absl::Seconds(5));
    ASSERT_TRUE(result.has_value()) << "the watch outlived its timeout";
    EXPECT_TRUE(result->ok()) << *result;
  }
  EXPECT_EQ(fake_.OpenWatches(), 0);
  EXPECT_EQ(fake_.Calls(Verb::kWatch), 6);
}

}  // namespace
}  // namespace hb::kubefake
