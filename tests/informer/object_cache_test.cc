// ObjectCache: the diffs behind the informer's events.
#include "informer/object_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hb::informer {
namespace {

using ::testing::ElementsAre;

nlohmann::json Object(const std::string& ns, const std::string& name, const std::string& rv) {
  nlohmann::json metadata = {{"name", name}, {"resourceVersion", rv}};
  if (!ns.empty()) metadata["namespace"] = ns;
  return {{"metadata", metadata}};
}

std::vector<std::string> Summary(const std::vector<InformerEvent>& events) {
  std::vector<std::string> lines;
  for (const auto& e : events) {
    lines.push_back(std::string(InformerEventTypeName(e.type)) + " " + e.key);
  }
  return lines;
}

TEST(ObjectCacheTest, KeysIncludeTheNamespaceWhenThereIsOne) {
  EXPECT_EQ(ObjectKey(Object("ns", "a", "1")), "ns/a");
  EXPECT_EQ(ObjectKey(Object("", "node-1", "1")), "node-1");
}

TEST(ObjectCacheTest, ReplaceReportsAddedUpdatedThenDeletedAndNothingForUnchanged) {
  ObjectCache cache;
  EXPECT_THAT(
      Summary(cache.Replace({Object("n", "b", "1"), Object("n", "a", "2"), Object("n", "c", "3")})),
      ElementsAre("Added n/a", "Added n/b", "Added n/c"));
  std::vector<InformerEvent> events =
      cache.Replace({Object("n", "d", "9"), Object("n", "c", "3"), Object("n", "a", "5")});
  EXPECT_THAT(Summary(events), ElementsAre("Updated n/a", "Added n/d", "Deleted n/b"));
  EXPECT_EQ(events[0].old_object, Object("n", "a", "2"));
  EXPECT_EQ(events[2].object, Object("n", "b", "1"));
  EXPECT_EQ(events[2].old_object, Object("n", "b", "1"));
  EXPECT_THAT(
      Summary(cache.Replace({Object("n", "d", "9"), Object("n", "c", "3"), Object("n", "a", "5")})),
      ::testing::IsEmpty());
  EXPECT_EQ(cache.size(), 3u);
}

TEST(ObjectCacheTest, ApplyIgnoresRepeatsAndUnknownDeletions) {
  ObjectCache cache;
  using kube::WatchEventType;
  auto added = cache.Apply(WatchEventType::kAdded, Object("n", "a", "1"));
  ASSERT_TRUE(added.has_value());
  EXPECT_EQ(added->type, InformerEvent::kAdded);
  EXPECT_FALSE(cache.Apply(WatchEventType::kAdded, Object("n", "a", "1")).has_value());
  EXPECT_FALSE(cache.Apply(WatchEventType::kModified, Object("n", "a", "1")).has_value());
  auto updated = cache.Apply(WatchEventType::kAdded, Object("n", "a", "2"));
  ASSERT_TRUE(updated.has_value());
  EXPECT_EQ(updated->type, InformerEvent::kUpdated);
  EXPECT_EQ(updated->old_object, Object("n", "a", "1"));
  EXPECT_FALSE(cache.Apply(WatchEventType::kDeleted, Object("n", "zz", "3")).has_value());
  EXPECT_FALSE(cache.Apply(WatchEventType::kBookmark, Object("", "", "4")).has_value());
  auto deleted = cache.Apply(WatchEventType::kDeleted, Object("n", "a", "5"));
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(deleted->type, InformerEvent::kDeleted);
  EXPECT_EQ(deleted->old_object, Object("n", "a", "2"));
  EXPECT_EQ(deleted->object, Object("n", "a", "5"));
  EXPECT_FALSE(cache.Get("n/a").has_value());
  EXPECT_TRUE(cache.List().empty());
}

// With a keep function the cache stores the kept form (here: metadata only) while events
// still carry each object as received.
TEST(ObjectCacheTest, AKeepFunctionStoresTheKeptFormAndEventsCarryTheWholeObject) {
  ObjectCache cache([](const nlohmann::json& o) {
    return nlohmann::json{{"metadata", o["metadata"]}};
  });
  auto whole = [](const std::string& name, const std::string& rv) {
    nlohmann::json o = Object("n", name, rv);
    o["spec"] = {{"identifier", name + ".x"}};
    return o;
  };
  using kube::WatchEventType;
  std::vector<InformerEvent> listed = cache.Replace({whole("a", "1"), whole("b", "1")});
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].object, whole("a", "1"));
  EXPECT_EQ(*cache.Get("n/a"), Object("n", "a", "1"));

  auto updated = cache.Apply(WatchEventType::kModified, whole("a", "2"));
  ASSERT_TRUE(updated.has_value());
  EXPECT_EQ(updated->object, whole("a", "2"));
  EXPECT_EQ(updated->old_object, Object("n", "a", "1"));
  EXPECT_EQ(*cache.Get("n/a"), Object("n", "a", "2"));
  EXPECT_FALSE(cache.Apply(WatchEventType::kModified, whole("a", "2")).has_value())
      << "the kept form still compares by resourceVersion";

  auto added = cache.Apply(WatchEventType::kAdded, whole("c", "3"));
  ASSERT_TRUE(added.has_value());
  EXPECT_EQ(added->object, whole("c", "3"));
  EXPECT_EQ(*cache.Get("n/c"), Object("n", "c", "3"));

  std::vector<InformerEvent> relisted = cache.Replace({whole("a", "2")});
  EXPECT_THAT(Summary(relisted), ElementsAre("Deleted n/b", "Deleted n/c"));
  EXPECT_EQ(relisted[0].old_object, Object("n", "b", "1"));
  EXPECT_THAT(cache.List(), ElementsAre(Object("n", "a", "2")));
}

}  // namespace
}  // namespace hb::informer
