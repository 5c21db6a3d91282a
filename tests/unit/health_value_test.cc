#include "heartbeat/health_value.h"

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace hb::heartbeat {
namespace {

TEST(HealthValueTest, RendersTheOriginalFieldsFirstAndExtras) {
  HealthValue v;
  v.timestamp = absl::FromUnixSeconds(1763245800);
  v.identifier = "chora.devex.registry";
  v.heartbeat_count = 42;
  v.lease_id = 0x694d77aa1e7f2e04;
  v.ttl_seconds = 30;
  v.interval = absl::Seconds(10);
  v.mode = "every-beat";
  std::string text = RenderHealthValue(v);
  EXPECT_EQ(text, R"({"status":"healthy","timestamp":"2025-11-15T22:30:00.000000Z",)"
                  R"("namespace":"chora.devex.registry","heartbeat_count":42,)"
                  R"("lease_id":"694d77aa1e7f2e04","ttl":30,"interval":10,"mode":"every-beat"})");
  auto parsed = ParseHealthValue(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->lease_id, v.lease_id);
  EXPECT_EQ(parsed->heartbeat_count, 42u);
  EXPECT_EQ(parsed->timestamp, v.timestamp);
  EXPECT_EQ(parsed->interval, absl::Seconds(10));
}

TEST(HealthValueTest, ReadsTheOriginalServicesValue) {
  auto parsed =
      ParseHealthValue(R"({"status": "healthy", "timestamp": "2025-11-15T22:30:00.412345Z",)"
                       R"( "namespace": "chora.devex.registry", "heartbeat_count": 7})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->identifier, "chora.devex.registry");
  EXPECT_EQ(parsed->heartbeat_count, 7u);
  EXPECT_EQ(parsed->lease_id, 0);
}

TEST(HealthValueTest, RejectsNonsense) {
  EXPECT_FALSE(ParseHealthValue("not json").ok());
  EXPECT_FALSE(ParseHealthValue("[1,2]").ok());
  EXPECT_FALSE(ParseHealthValue(R"({"status":"healthy"})").ok());
  EXPECT_FALSE(ParseHealthValue(R"({"status":"healthy","timestamp":"soon","namespace":"a"})").ok());
}

TEST(HealthValueTest, EscapesStringsAndRendersValidJson) {
  HealthValue v;
  v.identifier = "a.b";
  v.source = "dir with \"quotes\"\\and\nnewline.yaml";
  std::string text = RenderHealthValue(v);
  auto json = nlohmann::json::parse(text);
  EXPECT_EQ(json["source"], v.source);
  EXPECT_EQ(json["namespace"], "a.b");
  EXPECT_EQ(json["heartbeat_count"], 0);
  EXPECT_FALSE(json.contains("lease_id"));
  EXPECT_FALSE(json.contains("ttl"));
}

TEST(HealthValueTest, FractionalIntervalsStayExact) {
  HealthValue v;
  v.identifier = "a";
  v.interval = absl::Milliseconds(2500);
  auto json = nlohmann::json::parse(RenderHealthValue(v));
  EXPECT_DOUBLE_EQ(json["interval"].get<double>(), 2.5);
}

TEST(HealthValueTest, LeaseIdHexRoundTrips) {
  EXPECT_EQ(LeaseIdHex(0x7fffffffffffffff), "7fffffffffffffff");
  EXPECT_EQ(*ParseLeaseIdHex("694d77aa1e7f2e04"), 0x694d77aa1e7f2e04);
  EXPECT_FALSE(ParseLeaseIdHex("xyz").ok());
}

// latency_ms as a double times 1000 is not always a whole number of microseconds (32.3 gives
// 32299.999...): read back, a rendered latency must keep its value.
TEST(HealthValueTest, LatencyReadsBackAsWritten) {
  for (const char* ms : {"32.3", "64.1", "128.2", "0.7"}) {
    std::string text = std::string(R"({"status":"healthy","timestamp":"2025-11-15T22:30:00Z",)") +
                       R"("namespace":"a","check":"http","latency_ms":)" + ms + "}";
    auto parsed = ParseHealthValue(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    auto json = nlohmann::json::parse(RenderHealthValue(*parsed));
    EXPECT_EQ(json["latency_ms"].dump(), ms);
  }
}

// A latency far beyond any probe's timeout reads as one day: no conversion of a huge double
// to int64 (undefined behaviour, reported under -fsanitize=undefined), and a value that stays
// the same through Render and Parse.
TEST(HealthValueTest, HugeLatenciesReadAsOneDay) {
  const std::string prefix =
      R"({"status":"healthy","timestamp":"2025-11-15T22:30:00Z","namespace":"a","check":"tcp",)";
  auto huge = ParseHealthValue(prefix + R"("latency_ms":1e300})");
  ASSERT_TRUE(huge.ok()) << huge.status();
  EXPECT_EQ(huge->latency, absl::Hours(24));
  std::string rendered = RenderHealthValue(*huge);
  auto again = ParseHealthValue(rendered);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(RenderHealthValue(*again), rendered);
  auto negative = ParseHealthValue(prefix + R"("latency_ms":-1e300})");
  ASSERT_TRUE(negative.ok()) << negative.status();
  EXPECT_LT(negative->latency, absl::ZeroDuration());  // none
  EXPECT_FALSE(nlohmann::json::parse(RenderHealthValue(*negative)).contains("latency_ms"));
}

// An interval reads to the microsecond and at most a day, so that a value from a foreign
// writer (1e19 s, 1e-9 s, 0.1234567 s) renders as valid JSON and the same after a round trip.
TEST(HealthValueTest, IntervalsReadToTheMicrosecondAndAtMostADay) {
  const std::string prefix =
      R"({"status":"healthy","timestamp":"2025-11-15T22:30:00Z","namespace":"a","interval":)";
  struct Case {
    const char* given;
    absl::Duration read;
    const char* rendered;  // nullptr: not rendered
  };
  for (const Case& c :
       {Case{"1018446744073709551616", absl::Hours(24), "86400"},
        Case{"0.1234567", absl::Microseconds(123457), "0.123457"},
        Case{"2.5", absl::Milliseconds(2500), "2.5"}, Case{"1e-9", absl::ZeroDuration(), nullptr},
        Case{"-3", absl::ZeroDuration(), nullptr}}) {
    auto v = ParseHealthValue(prefix + c.given + "}");
    ASSERT_TRUE(v.ok()) << c.given << ": " << v.status();
    EXPECT_EQ(v->interval, c.read) << c.given;
    std::string rendered = RenderHealthValue(*v);
    auto json = nlohmann::json::parse(rendered);
    if (c.rendered == nullptr) {
      EXPECT_FALSE(json.contains("interval")) << rendered;
      continue;
    }
    EXPECT_EQ(json["interval"].dump(), c.rendered) << rendered;
    auto again = ParseHealthValue(rendered);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(RenderHealthValue(*again), rendered);
  }
}

}  // namespace
}  // namespace hb::heartbeat
