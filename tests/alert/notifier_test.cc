#include "alert/notifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "alert/transition.h"
#include "common/clock.h"

namespace hb::alert {
namespace {

using heartbeat::Health;
using heartbeat::HeartbeatStatus;

// Records what the notifier hands over; sends nothing.
struct Recorded {
  std::mutex mu;
  std::vector<Transition> transitions;
  std::vector<StormSummary> storms;
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return transitions.size();
  }
};

class RecordingSink final : public Sink {
 public:
  explicit RecordingSink(std::shared_ptr<Recorded> out) : out_(std::move(out)) {}
  const char* name() const override { return "recording"; }
  void SetWakeHook(std::function<void()> /*wake*/) override {}
  void Transition(const alert::Transition& t) override {
    std::lock_guard<std::mutex> lock(out_->mu);
    out_->transitions.push_back(t);
  }
  void Storm(const StormSummary& s) override {
    std::lock_guard<std::mutex> lock(out_->mu);
    out_->storms.push_back(s);
  }
  absl::Time RunDue(absl::Time /*now*/) override { return absl::InfiniteFuture(); }
  SinkStats stats() const override { return {}; }

 private:
  std::shared_ptr<Recorded> out_;
};

HeartbeatStatus Status(const std::string& id, Health health, const std::string& message = "") {
  HeartbeatStatus s;
  s.identifier = id;
  s.source = "Capability team-a/" + id;
  s.health = health;
  s.message = message;
  return s;
}

class NotifierTest : public testing::Test {
 protected:
  std::unique_ptr<Notifier> Make(Clock& clock, absl::Duration hold = absl::Seconds(5)) {
    NotifierOptions options;
    options.policy = {hold, 0.2, 3};
    options.batch = absl::Milliseconds(10);
    options.run = "r1";
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(std::make_unique<RecordingSink>(recorded_));
    return std::make_unique<Notifier>(
        [this](const std::string& id) -> std::optional<HeartbeatStatus> {
          std::lock_guard<std::mutex> lock(mu_);
          ++reads_[id];
          auto it = statuses_.find(id);
          if (it == statuses_.end()) return std::nullopt;
          return it->second;
        },
        clock, options, std::move(sinks));
  }
  void Set(Notifier& n, const HeartbeatStatus& s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      statuses_[s.identifier] = s;
    }
    n.Changed(s.identifier);
  }
  void Erase(Notifier& n, const std::string& id) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      statuses_.erase(id);
    }
    n.Changed(id);
  }

  FakeClock clock_;
  std::shared_ptr<Recorded> recorded_ = std::make_shared<Recorded>();
  std::mutex mu_;
  std::map<std::string, HeartbeatStatus> statuses_;
  std::map<std::string, int> reads_;
};

TEST(LevelOfTest, MapsTheEngineAndTheCheckToAlertLevels) {
  std::string why;
  EXPECT_EQ(LevelOf(Status("a", Health::kHealthy)), AlertLevel::kHealthy);
  EXPECT_EQ(LevelOf(Status("a", Health::kPending)), AlertLevel::kPending);
  EXPECT_EQ(LevelOf(Status("a", Health::kLeaseLost, "keep-alive answered TTL 0"), &why),
            AlertLevel::kDown);
  EXPECT_EQ(why, "keep-alive answered TTL 0");
  EXPECT_EQ(LevelOf(Status("a", Health::kDeregistered)), AlertLevel::kDown);
  EXPECT_EQ(LevelOf(Status("a", Health::kFailing, "etcd: unavailable")), AlertLevel::kUnhealthy);
  HeartbeatStatus failing = Status("a", Health::kHealthy);
  failing.check = check::CheckReport{};
  failing.check->status = check::CheckStatus::kFailing;
  failing.check->reason = "HTTP 503";
  EXPECT_EQ(LevelOf(failing, &why), AlertLevel::kUnhealthy);
  EXPECT_EQ(why, "HTTP 503");
  failing.check->status = check::CheckStatus::kPending;
  EXPECT_EQ(LevelOf(failing), AlertLevel::kPending);
}

TEST_F(NotifierTest, AChangeIsReadOncePerBatchAndNotifiedWhenDue) {
  auto n = Make(clock_);
  Set(*n, Status("orders", Health::kHealthy));
  for (int i = 0; i < 5; ++i) Set(*n, Status("orders", Health::kLeaseLost, "lease lost"));
  EXPECT_EQ(n->RunDue(clock_.Now()), clock_.Now() + absl::Seconds(5));
  EXPECT_EQ(reads_["orders"], 1);
  EXPECT_EQ(recorded_->size(), 0u);
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(n->RunDue(clock_.Now()), absl::InfiniteFuture());
  ASSERT_EQ(recorded_->size(), 1u);
  const Transition& t = recorded_->transitions[0];
  EXPECT_EQ(t.id, "r1-1");
  EXPECT_EQ(t.identifier, "orders");
  EXPECT_EQ(t.source, "Capability team-a/orders");
  EXPECT_EQ(t.from, AlertLevel::kPending);  // its first level seen was already down
  EXPECT_EQ(t.to, AlertLevel::kDown);
  EXPECT_EQ(t.reason, "lease lost");
  ASSERT_TRUE(t.status.has_value());
  EXPECT_EQ(t.time, clock_.WallNow());
}

TEST_F(NotifierTest, RecoveryAndRemovalOfAFailingCapabilityAreNotifiedAtOnce) {
  auto n = Make(clock_, absl::ZeroDuration());
  Set(*n, Status("a", Health::kHealthy));
  Set(*n, Status("b", Health::kHealthy));
  n->RunDue(clock_.Now());
  Set(*n, Status("a", Health::kFailing, "etcd refuses puts"));
  Set(*n, Status("b", Health::kDeregistered, "check failing for 10m"));
  n->RunDue(clock_.Now());
  Set(*n, Status("a", Health::kHealthy));
  Erase(*n, "b");
  n->RunDue(clock_.Now());
  std::vector<std::string> seen;
  for (const Transition& t : recorded_->transitions) {
    seen.push_back(absl::StrCat(t.id, " ", t.identifier, ":", AlertLevelName(t.from), "->",
                                AlertLevelName(t.to)));
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"r1-1 a:healthy->unhealthy", "r1-2 b:healthy->down",
                                            "r1-3 a:unhealthy->healthy", "r1-4 b:down->removed"}));
}

TEST_F(NotifierTest, AStormIsOneSummaryAndWhatHealedMeanwhileIsNeverNotified) {
  auto n = Make(clock_);
  for (int i = 0; i < 20; ++i) Set(*n, Status(absl::StrCat("c", i), Health::kHealthy));
  n->RunDue(clock_.Now());
  for (int i = 0; i < 15; ++i) Set(*n, Status(absl::StrCat("c", i), Health::kFailing, "etcd down"));
  n->RunDue(clock_.Now());
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(n->RunDue(clock_.Now()), absl::InfiniteFuture());
  EXPECT_TRUE(n->stats().storm);
  EXPECT_EQ(n->stats().held, 15);
  for (int i = 0; i < 15; ++i) Set(*n, Status(absl::StrCat("c", i), Health::kHealthy));
  n->RunDue(clock_.Now());
  EXPECT_EQ(recorded_->size(), 0u);
  ASSERT_EQ(recorded_->storms.size(), 2u);
  EXPECT_TRUE(recorded_->storms[0].active);
  EXPECT_EQ(recorded_->storms[0].total, 20);
  EXPECT_FALSE(recorded_->storms[1].active);
  EXPECT_EQ(n->stats().storms, 1u);
  EXPECT_FALSE(n->stats().storm);
}

TEST_F(NotifierTest, ItsThreadsNotifyWithoutBeingDriven) {
  auto n = Make(RealClock::Get(), absl::ZeroDuration());
  n->Start();
  Set(*n, Status("a", Health::kHealthy));
  Set(*n, Status("a", Health::kLeaseLost, "lost"));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (recorded_->size() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  n->Stop();
  ASSERT_EQ(recorded_->size(), 1u);
  EXPECT_EQ(recorded_->transitions[0].to, AlertLevel::kDown);
}

}  // namespace
}  // namespace hb::alert
