// Informer against the real test API server (hack/kube-emulator) through RestKubeClient:
// live changes, a forced 410 and a server that ends every watch after a second. The
// informer's cache and the state rebuilt from its events must both end equal to the
// server's, with no event delivered twice.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "informer/informer.h"
#include "informer_test_util.h"
#include "kube/kube_test_util.h"

namespace hb::informer::testing {
namespace {

using kube::testing::kConfigMaps;
using kube::testing::UniqueName;

using State = std::map<std::string, std::string>;  // key -> resourceVersion

// Rebuilds the state from the events and notes any (key, resourceVersion) seen twice.
class StateFromEvents {
 public:
  Informer::Handler Handler() {
    return [this](const InformerEvent& event) {
      absl::MutexLock lock(&mu_);
      std::string rv = kube::ObjectResourceVersion(event.object);
      if (event.type == InformerEvent::kDeleted) {
        state_.erase(event.key);
        return;
      }
      if (!seen_.insert({event.key, rv}).second) duplicates_.push_back(event.key + "@" + rv);
      state_[event.key] = rv;
    };
  }
  State state() {
    absl::MutexLock lock(&mu_);
    return state_;
  }
  std::vector<std::string> duplicates() {
    absl::MutexLock lock(&mu_);
    return duplicates_;
  }

 private:
  absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<std::string, std::string>> seen_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> duplicates_ ABSL_GUARDED_BY(mu_);
};

// Passes every call to `inner`; while closed, a new Watch() waits for Open() (or its
// cancel) before it starts, so a test can change the server while the informer is between
// watches.
class GatedWatchClient final : public kube::KubeClient {
 public:
  explicit GatedWatchClient(kube::KubeClient& inner) : inner_(inner) {}

  void Close() {
    absl::MutexLock lock(&mu_);
    open_ = false;
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  bool WaitForBlockedWatch(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto blocked = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return blocked_ > 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&blocked), timeout);
  }

  absl::StatusOr<nlohmann::json> Get(const kube::ResourceRef& ref,
                                     absl::string_view name) override {
    return inner_.Get(ref, name);
  }
  absl::StatusOr<kube::ListResult> List(const kube::ResourceRef& ref,
                                        const kube::ListOptions& options) override {
    return inner_.List(ref, options);
  }
  absl::StatusOr<nlohmann::json> Create(const kube::ResourceRef& ref,
                                        const nlohmann::json& object) override {
    return inner_.Create(ref, object);
  }
  absl::StatusOr<nlohmann::json> Update(const kube::ResourceRef& ref,
                                        const nlohmann::json& object) override {
    return inner_.Update(ref, object);
  }
  absl::StatusOr<nlohmann::json> UpdateStatus(const kube::ResourceRef& ref,
                                              const nlohmann::json& object) override {
    return inner_.UpdateStatus(ref, object);
  }
  absl::StatusOr<nlohmann::json> Patch(const kube::ResourceRef& ref, absl::string_view name,
                                       kube::PatchType type, const nlohmann::json& patch,
                                       const kube::PatchOptions& options) override {
    return inner_.Patch(ref, name, type, patch, options);
  }
  absl::Status Delete(const kube::ResourceRef& ref, absl::string_view name,
                      const kube::DeleteOptions& options) override {
    return inner_.Delete(ref, name, options);
  }
  absl::Status Watch(const kube::ResourceRef& ref, const kube::WatchOptions& options,
                     const kube::WatchHandler& handler, const CancelToken& cancel) override {
    {
      CancelToken::Registration wake = cancel.OnCancel([this] {
        absl::MutexLock lock(&mu_);
        cancelled_ = true;
      });
      absl::MutexLock lock(&mu_);
      ++blocked_;
      auto go = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_ || cancelled_; };
      mu_.Await(absl::Condition(&go));
      --blocked_;
    }
    return inner_.Watch(ref, options, handler, cancel);
  }

 private:
  kube::KubeClient& inner_;
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  int blocked_ ABSL_GUARDED_BY(mu_) = 0;
};

State StateOf(const std::vector<nlohmann::json>& objects) {
  State state;
  for (const auto& object : objects) state[ObjectKey(object)] = kube::ObjectResourceVersion(object);
  return state;
}

class InformerEmulatorTest : public kube::testing::EmulatorTest {
 protected:
  void SetUp() override {
    EmulatorTest::SetUp();
    tag_ = UniqueName("informer");
    selector_ = "suite=" + tag_;
  }
  InformerOptions Options() {
    InformerOptions options;
    options.ref = kConfigMaps;
    options.label_selector = selector_;
    options.page_size = 2;
    options.watch_timeout_seconds = 60;
    options.name = tag_;
    return options;
  }
  State ServerState() {
    kube::ListOptions options;
    options.label_selector = selector_;
    auto list = client_->List(kConfigMaps, options);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? StateOf(list->items) : State{{"<error>", ""}};
  }
  void Create(const std::string& name) {
    auto created = client_->Create(
        kConfigMaps, kube::testing::ConfigMap(tag_ + "-" + name, {{"v", "0"}}, {{"suite", tag_}}));
    ASSERT_TRUE(created.ok()) << created.status();
  }
  void Modify(const std::string& name, const std::string& value) {
    auto patched = client_->Patch(kConfigMaps, tag_ + "-" + name, kube::PatchType::kMerge,
                                  {{"data", {{"v", value}}}}, {});
    ASSERT_TRUE(patched.ok()) << patched.status();
  }
  void Delete(const std::string& name) {
    ASSERT_TRUE(client_->Delete(kConfigMaps, tag_ + "-" + name, {}).ok());
  }
  // Waits until the cache and the event-built state both equal the server's.
  void ExpectConverged(Informer& informer, StateFromEvents& events) {
    State server;
    bool converged = Eventually(
        [&] {
          server = ServerState();
          return StateOf(informer.List()) == server && events.state() == server;
        },
        absl::Seconds(10));
    EXPECT_TRUE(converged) << "the informer lost or kept stale objects";
    EXPECT_EQ(StateOf(informer.List()), server);
    EXPECT_EQ(events.state(), server);
    EXPECT_THAT(events.duplicates(), ::testing::IsEmpty());
  }

  std::string tag_;
  std::string selector_;
};

TEST_F(InformerEmulatorTest, FollowsChangesAndRelistsWhatA410HidFromIt) {
  for (const char* name : {"a", "b", "c"}) Create(name);
  GatedWatchClient gated(*client_);
  Informer informer(gated, RealClock::Get(), Options());
  StateFromEvents events;
  EventRecorder recorder;
  informer.AddHandler(events.Handler());
  informer.AddHandler(recorder.Handler());
  InformerRunner runner(informer);
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(10)));
  ASSERT_TRUE(emulator_->WaitForWatch(selector_, absl::Seconds(10)));
  EXPECT_EQ(informer.List().size(), 3u);

  Create("d");
  Modify("a", "1");
  Delete("b");
  ExpectConverged(informer, events);

  // The server ends the watch; the next one waits at the gate while the server changes and
  // then gets a 410, so the changes can only come from the re-list.
  gated.Close();
  ASSERT_TRUE(emulator_->SetFaults({{"closeWatchesAfterSeconds", 1}}).ok());
  ASSERT_TRUE(gated.WaitForBlockedWatch(absl::Seconds(10)));
  ASSERT_TRUE(
      emulator_->SetFaults({{"closeWatchesAfterSeconds", 0}, {"forceGoneOnNextWatch", true}}).ok());
  const size_t before = recorder.Events().size();
  Modify("c", "1");
  Delete("d");
  Create("e");
  gated.Open();
  ASSERT_TRUE(recorder.WaitForCount(before + 3, absl::Seconds(10)));
  std::vector<std::string> summary = recorder.Summary();
  const std::string ns = "default/" + tag_;
  EXPECT_THAT(
      std::vector<std::string>(summary.begin() + before, summary.end()),
      ::testing::ElementsAre("Updated " + ns + "-c", "Added " + ns + "-e", "Deleted " + ns + "-d"));
  EXPECT_EQ(informer.stats().relists_after_gone, 1);
  EXPECT_EQ(informer.stats().lists, 2);

  Modify("e", "1");
  Create("f");
  ExpectConverged(informer, events);
}

TEST_F(InformerEmulatorTest, KeepsUpWhenTheServerEndsEveryWatchAfterASecond) {
  ASSERT_TRUE(emulator_->SetFaults({{"closeWatchesAfterSeconds", 1}}).ok());
  Informer informer(*client_, RealClock::Get(), Options());
  StateFromEvents events;
  informer.AddHandler(events.Handler());
  InformerRunner runner(informer);
  ASSERT_TRUE(informer.WaitForSync(absl::Seconds(10)));
  // Writes spread over about three seconds, so that several watches end in between.
  for (int i = 0; i < 12; ++i) {
    std::string name = absl::StrCat("o", i % 4);
    if (i < 4) {
      Create(name);
    } else if (i < 10) {
      Modify(name, std::to_string(i));
    } else {
      Delete(name);
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  ExpectConverged(informer, events);
  Informer::Stats stats = informer.stats();
  EXPECT_GE(stats.watches, 3) << "the server should have ended several watches";
  EXPECT_EQ(stats.lists, 1) << "an ended watch resumes from its version without a re-list";
  EXPECT_EQ(stats.relists_after_gone, 0);
}

}  // namespace
}  // namespace hb::informer::testing
