#include "capability/capability_status.h"

#include <gtest/gtest.h>

#include "capability/declaration.h"

namespace hb::capability {
namespace {

class StatusTest : public ::testing::Test {
 protected:
  StatusTest() {
    d_.identifier = "a.b";
    d_.source = "Capability default/x";
    inputs_.declaration = &d_;
    inputs_.winner = &d_;
    inputs_.etcd_key = "/chora/capabilities/a.b/health";
    inputs_.generation = 4;
    inputs_.now = absl::FromUnixSeconds(1800000000);
  }
  HeartbeatObservation Heartbeat(Phase phase, uint64_t count = 7) {
    HeartbeatObservation h;
    h.phase = phase;
    h.lease_id = "694d";
    h.heartbeat_count = count;
    h.last_heartbeat = inputs_.now - absl::Seconds(2);
    return h;
  }
  Declaration d_;
  StatusInputs inputs_;
};

TEST_F(StatusTest, HealthyCarriesLeaseCountsAndTrueConditions) {
  inputs_.heartbeat = Heartbeat(Phase::kHealthy);
  nlohmann::json s = RenderStatus(DesiredStatus(inputs_, CapabilityStatus()));
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
  inputs_.heartbeat = Heartbeat(Phase::kLeaseLost);
  EXPECT_EQ(PhaseOf(inputs_), Phase::kLeaseLost);
  d_.paused = true;
  EXPECT_EQ(PhaseOf(inputs_), Phase::kPaused);
  d_.service = false;
  EXPECT_EQ(PhaseOf(inputs_), Phase::kNotApplicable);
  Declaration other = d_;
  inputs_.winner = &other;
  EXPECT_EQ(PhaseOf(inputs_), Phase::kConflict);
  d_.invalid = "spec.x: bad";
  EXPECT_EQ(PhaseOf(inputs_), Phase::kInvalid);
  d_.deleting = true;
  EXPECT_EQ(PhaseOf(inputs_), Phase::kTerminating);
}

TEST_F(StatusTest, ConflictNamesTheWinnerAndHoldsNoLease) {
  Declaration winner = d_;
  winner.source = "Capability default/first";
  inputs_.winner = &winner;
  nlohmann::json s = RenderStatus(DesiredStatus(inputs_, CapabilityStatus()));
  EXPECT_EQ(s["phase"], "Conflict");
  EXPECT_NE(s["message"].get<std::string>().find("Capability default/first"), std::string::npos);
  EXPECT_FALSE(s.contains("leaseID"));
  EXPECT_EQ(s["conditions"][1]["status"], "False");
}

TEST_F(StatusTest, TransitionTimesSurviveUnchangedConditionsAndCountersAreNoTransition) {
  inputs_.heartbeat = Heartbeat(Phase::kHealthy, 7);
  CapabilityStatus first = DesiredStatus(inputs_, CapabilityStatus());
  inputs_.now += absl::Seconds(40);
  inputs_.heartbeat = Heartbeat(Phase::kHealthy, 11);
  CapabilityStatus later = DesiredStatus(inputs_, first);
  EXPECT_EQ(later.conditions[0].last_transition_time, first.conditions[0].last_transition_time);
  EXPECT_FALSE(IsTransition(first, later)) << "only counters moved";
  inputs_.heartbeat = Heartbeat(Phase::kFailing, 11);
  CapabilityStatus failing = DesiredStatus(inputs_, later);
  EXPECT_TRUE(IsTransition(later, failing));
  EXPECT_NE(failing.conditions[0].last_transition_time, later.conditions[0].last_transition_time);
  EXPECT_TRUE(IsTransition(CapabilityStatus(), first));
}

TEST_F(StatusTest, RenderedStatusParsesBackToTheSameStatus) {
  inputs_.heartbeat = Heartbeat(Phase::kHealthy);
  CapabilityStatus status = DesiredStatus(inputs_, CapabilityStatus());
  EXPECT_EQ(ParseStatus(RenderStatus(status)), status);
  d_.paused = true;
  inputs_.heartbeat.reset();
  CapabilityStatus paused = DesiredStatus(inputs_, status);
  EXPECT_EQ(ParseStatus(RenderStatus(paused)), paused);
}

TEST(ParseStatusTest, MalformedStatusesReadAsAbsentFieldsAndNeverThrow) {
  for (const char* text :
       {"null", "[]", "\"Healthy\"", "{\"phase\": 3}", "{\"phase\": \"Sleeping\"}",
        "{\"heartbeatCount\": \"many\", \"conditions\": {\"type\": \"Ready\"}}",
        "{\"conditions\": [1, \"x\", {\"type\": 7, \"status\": true}]}",
        "{\"observedGeneration\": 1.5, \"ttlSeconds\": null, \"leaseID\": 42}"}) {
    CapabilityStatus s;
    EXPECT_NO_THROW(s = ParseStatus(nlohmann::json::parse(text))) << text;
    EXPECT_FALSE(s.phase.has_value()) << text;
    EXPECT_FALSE(s.heartbeat_count.has_value()) << text;
    EXPECT_TRUE(s.lease_id.empty()) << text;
  }
  CapabilityStatus healthy = ParseStatus(nlohmann::json::parse(
      R"({"phase": "Healthy", "heartbeatCount": 3, "conditions": [{"type": "Ready", "status": "True"}]})"));
  EXPECT_EQ(healthy.phase, Phase::kHealthy);
  EXPECT_EQ(healthy.heartbeat_count, 3u);
  ASSERT_NE(healthy.FindCondition("Ready"), nullptr);
  EXPECT_TRUE(healthy.FindCondition("Ready")->status);
}

TEST(PhaseTest, NamesRoundTripAndClassify) {
  for (Phase p :
       {Phase::kPending, Phase::kHealthy, Phase::kFailing, Phase::kLeaseLost, Phase::kPaused,
        Phase::kInvalid, Phase::kConflict, Phase::kNotApplicable, Phase::kTerminating}) {
    EXPECT_EQ(ParsePhase(PhaseName(p)), p);
  }
  EXPECT_EQ(ParsePhase("healthy"), std::nullopt) << "the CRD's spelling only";
  EXPECT_TRUE(IsRunning(Phase::kLeaseLost));
  EXPECT_FALSE(IsRunning(Phase::kPaused));
  EXPECT_TRUE(IsWarning(Phase::kConflict));
  EXPECT_FALSE(IsWarning(Phase::kHealthy));
}

}  // namespace
}  // namespace hb::capability
