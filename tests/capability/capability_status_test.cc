#include "capability/capability_status.h"

#include <gtest/gtest.h>

namespace hb::capability {
namespace {

using heartbeat::CapabilityStatus;
using heartbeat::Health;

class StatusTest : public ::testing::Test {
 protected:
  StatusTest() {
    d_.identifier = "a.b";
    d_.source = "Capability default/x";
    d_.generation = 4;
    inputs_.declaration = &d_;
    inputs_.winner = &d_;
    inputs_.etcd_key = "/chora/capabilities/a.b/health";
    inputs_.now = absl::FromUnixSeconds(1800000000);
  }
  CapabilityStatus Engine(Health health, uint64_t count = 7) {
    CapabilityStatus s;
    s.health = health;
    s.lease_id = 0x694d;
    s.heartbeat_count = count;
    s.last_heartbeat = inputs_.now - absl::Seconds(2);
    return s;
  }
  Declaration d_;
  StatusInputs inputs_;
};

TEST_F(StatusTest, HealthyCarriesLeaseCountsAndTrueConditions) {
  inputs_.engine = Engine(Health::kHealthy);
  nlohmann::json s = DesiredStatus(inputs_, nullptr);
  EXPECT_EQ(s["phase"], "Healthy");
  EXPECT_EQ(s["leaseID"], "694d");
  EXPECT_EQ(s["heartbeatCount"], 7);
  EXPECT_EQ(s["lastHeartbeatTime"], KubeTime(inputs_.now - absl::Seconds(2)));
  EXPECT_EQ(s["observedGeneration"], 4);
  EXPECT_EQ(s["conditions"][0]["type"], "Ready");
  EXPECT_EQ(s["conditions"][0]["status"], "True");
  EXPECT_EQ(s["conditions"][1]["type"], "LeaseHeld");
  EXPECT_EQ(s["conditions"][1]["status"], "True");
  EXPECT_EQ(s["conditions"][0]["observedGeneration"], 4);
}

TEST_F(StatusTest, PhasesFollowTheDeclarationFirst) {
  inputs_.engine = Engine(Health::kLeaseLost);
  EXPECT_EQ(PhaseOf(inputs_), "LeaseLost");
  d_.paused = true;
  EXPECT_EQ(PhaseOf(inputs_), "Paused");
  d_.service = false;
  EXPECT_EQ(PhaseOf(inputs_), "NotApplicable");
  Declaration other = d_;
  inputs_.winner = &other;
  EXPECT_EQ(PhaseOf(inputs_), "Conflict");
  d_.invalid = "spec.x: bad";
  EXPECT_EQ(PhaseOf(inputs_), "Invalid");
  d_.deleting = true;
  EXPECT_EQ(PhaseOf(inputs_), "Terminating");
}

TEST_F(StatusTest, ConflictNamesTheWinnerAndHoldsNoLease) {
  Declaration winner = d_;
  winner.source = "Capability default/first";
  inputs_.winner = &winner;
  nlohmann::json s = DesiredStatus(inputs_, nullptr);
  EXPECT_EQ(s["phase"], "Conflict");
  EXPECT_NE(s["message"].get<std::string>().find("Capability default/first"), std::string::npos);
  EXPECT_FALSE(s.contains("leaseID"));
  EXPECT_EQ(s["conditions"][1]["status"], "False");
}

TEST_F(StatusTest, TransitionTimesSurviveUnchangedConditionsAndCountersAreNoTransition) {
  inputs_.engine = Engine(Health::kHealthy, 7);
  nlohmann::json first = DesiredStatus(inputs_, nullptr);
  inputs_.now += absl::Seconds(40);
  inputs_.engine = Engine(Health::kHealthy, 11);
  nlohmann::json later = DesiredStatus(inputs_, first);
  EXPECT_EQ(later["conditions"][0]["lastTransitionTime"],
            first["conditions"][0]["lastTransitionTime"]);
  EXPECT_FALSE(IsTransition(first, later)) << "only counters moved";
  inputs_.engine = Engine(Health::kFailing, 11);
  nlohmann::json failing = DesiredStatus(inputs_, later);
  EXPECT_TRUE(IsTransition(later, failing));
  EXPECT_NE(failing["conditions"][0]["lastTransitionTime"],
            later["conditions"][0]["lastTransitionTime"]);
  EXPECT_TRUE(IsTransition(nullptr, first));
}

}  // namespace
}  // namespace hb::capability
