#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "common/backoff.h"
#include "common/histogram.h"
#include "common/jitter.h"
#include "common/log.h"
#include "common/log_limiter.h"
#include "common/time_format.h"

namespace hb {
namespace {

TEST(BackoffTest, GrowsToTheCapAndResets) {
  Jitter jitter(1);
  Backoff backoff(BackoffPolicy{absl::Milliseconds(100), absl::Seconds(1), 2.0, 0.0});
  EXPECT_EQ(backoff.Next(jitter), absl::Milliseconds(100));
  EXPECT_EQ(backoff.Next(jitter), absl::Milliseconds(200));
  EXPECT_EQ(backoff.Next(jitter), absl::Milliseconds(400));
  EXPECT_EQ(backoff.Next(jitter), absl::Milliseconds(800));
  EXPECT_EQ(backoff.Next(jitter), absl::Seconds(1));
  EXPECT_EQ(backoff.Next(jitter), absl::Seconds(1));
  backoff.Reset();
  EXPECT_EQ(backoff.Next(jitter), absl::Milliseconds(100));
}

TEST(BackoffTest, JitterOnlyShortensAndSpreads) {
  Jitter jitter(7);
  absl::Duration lo = absl::InfiniteDuration(), hi = absl::ZeroDuration();
  for (int i = 0; i < 200; ++i) {
    Backoff backoff(BackoffPolicy{absl::Seconds(1), absl::Seconds(1), 2.0, 0.5});
    absl::Duration d = backoff.Next(jitter);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GE(lo, absl::Milliseconds(500));
  EXPECT_LE(hi, absl::Seconds(1));
  EXPECT_GT(hi - lo, absl::Milliseconds(300)) << "delays must not coincide";
}

TEST(JitterTest, SpreadStaysWithinTheFraction) {
  Jitter jitter(3);
  for (int i = 0; i < 1000; ++i) {
    absl::Duration d = jitter.Spread(absl::Seconds(10), 0.1);
    EXPECT_GE(d, absl::Seconds(9));
    EXPECT_LE(d, absl::Seconds(11));
  }
}

TEST(HistogramTest, PercentilesWithinSixPercent) {
  LatencyHistogram h;
  for (int i = 1; i <= 1000; ++i) h.Record(absl::Milliseconds(i));
  EXPECT_EQ(h.Count(), 1000u);
  auto near = [](absl::Duration got, absl::Duration want) {
    return got >= want * 0.94 && got <= want * 1.07;
  };
  EXPECT_TRUE(near(h.Percentile(0.5), absl::Milliseconds(500))) << h.Percentile(0.5);
  EXPECT_TRUE(near(h.Percentile(0.99), absl::Milliseconds(990))) << h.Percentile(0.99);
  EXPECT_EQ(h.Max(), absl::Milliseconds(1000));
  h.Reset();
  EXPECT_EQ(h.Count(), 0u);
  EXPECT_EQ(h.Percentile(0.5), absl::ZeroDuration());
}

TEST(HistogramTest, CumulativeCountsAndSumForPrometheus) {
  LatencyHistogram h;
  for (int ms : {1, 2, 3, 50, 900}) h.Record(absl::Milliseconds(ms));
  EXPECT_EQ(h.CountAtOrBelow(absl::Milliseconds(5)), 3u);
  EXPECT_EQ(h.CountAtOrBelow(absl::Milliseconds(100)), 4u);
  EXPECT_EQ(h.CountAtOrBelow(absl::Seconds(10)), 5u);
  EXPECT_EQ(h.CountAtOrBelow(absl::ZeroDuration()), 0u);
  EXPECT_EQ(h.Sum(), absl::Milliseconds(956));
}

TEST(HistogramTest, SmallAndNegativeValues) {
  LatencyHistogram h;
  h.Record(absl::Microseconds(3));
  h.Record(absl::Microseconds(-5));  // clock skew must not crash or corrupt
  EXPECT_EQ(h.Count(), 2u);
  EXPECT_LE(h.Percentile(1.0), absl::Microseconds(3));
}

TEST(TimeFormatTest, Rfc3339WithoutTimeZoneLookupMatchesAbseil) {
  auto reference = [](absl::Time t) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
  };
  std::vector<absl::Time> times = {
      absl::UnixEpoch(),
      absl::FromUnixMicros(951782400000000 - 1),  // 2000-02-28T23:59:59.999999Z
      absl::FromUnixSeconds(951782400 + 86400),   // 2000-02-29 (a leap day of a 400th year)
      absl::FromUnixSeconds(4107542400),          // 2100-03-01 (2100 is no leap year)
      absl::FromUnixMicros(253402300799999999),   // 9999-12-31T23:59:59.999999Z
      absl::FromUnixMicros(-1),                   // before 1970: the slow path
      absl::FromUnixSeconds(253402300800),        // year 10000: the slow path
  };
  std::mt19937_64 random(7);
  for (int i = 0; i < 20000; ++i) {
    times.push_back(absl::FromUnixMicros(static_cast<int64_t>(random() % 253402300800000000)));
  }
  for (absl::Time t : times) ASSERT_EQ(FormatRfc3339(t), reference(t)) << absl::ToUnixMicros(t);
  std::string out = "x";
  AppendRfc3339(absl::FromUnixSeconds(1763245800), out);
  EXPECT_EQ(out, "x2025-11-15T22:30:00.000000Z");
}

TEST(TimeFormatTest, Rfc3339RoundTripsWithZ) {
  absl::Time t = absl::FromUnixMicros(1763245800123456);
  std::string text = FormatRfc3339(t);
  EXPECT_EQ(text, "2025-11-15T22:30:00.123456Z");
  EXPECT_EQ(*ParseRfc3339(text), t);
  EXPECT_EQ(*ParseRfc3339("2025-11-15T22:30:00Z"), absl::FromUnixSeconds(1763245800));
  EXPECT_FALSE(ParseRfc3339("yesterday").ok());
}

TEST(TimeFormatTest, HumanDurationLikeKubectl) {
  EXPECT_EQ(HumanDuration(absl::Seconds(45)), "45s");
  EXPECT_EQ(HumanDuration(absl::Seconds(192)), "3m12s");
  EXPECT_EQ(HumanDuration(absl::Minutes(30)), "30m");
  EXPECT_EQ(HumanDuration(absl::Minutes(125 * 60 / 60) + absl::Hours(3)), "5h5m");
  EXPECT_EQ(HumanDuration(absl::Hours(76)), "3d4h");
  EXPECT_EQ(HumanDuration(absl::Seconds(-3)), "0s");
}

TEST(LogTest, ParsesLevelsAndFormats) {
  EXPECT_EQ(*ParseLogLevel("DEBUG"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarning);
  auto bad = ParseLogLevel("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("loud"), std::string::npos);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml").ok());
}

TEST(LogTest, TextKeepsTheOriginalLineFormatAndJsonIsOneObject) {
  std::ostringstream out;
  Logger& logger = Logger::Default();
  logger.SetOutput(&out);
  logger.Configure(LogLevel::kInfo, LogFormat::kText);
  LogInfo("Created lease", {{"id", "a.b"}, {"ttl", 30}});
  LogDebug("hidden");
  logger.Configure(LogLevel::kDebug, LogFormat::kJson);
  LogDebug("shown", {{"reason", "two words"}});
  logger.Configure(LogLevel::kInfo, LogFormat::kText);
  logger.SetOutput(&std::cerr);
  std::string text = out.str();
  std::string first = text.substr(0, text.find('\n'));
  // 2025-11-15 22:30:00 - heartbeat - INFO - Created lease id=a.b ttl=30
  EXPECT_EQ(first.substr(19), " - heartbeat - INFO - Created lease id=a.b ttl=30");
  EXPECT_EQ(text.find("hidden"), std::string::npos);
  std::string second = text.substr(text.find('\n') + 1);
  auto json = nlohmann::json::parse(second);
  EXPECT_EQ(json["msg"], "shown");
  EXPECT_EQ(json["level"], "debug");
  EXPECT_EQ(json["reason"], "two words");
}

// A message or value carrying newlines or other control bytes (a file name, a server's
// answer) stays one line, so it cannot forge log lines.
TEST(LogTest, ControlCharactersAreEscapedInText) {
  std::ostringstream out;
  Logger& logger = Logger::Default();
  logger.SetOutput(&out);
  logger.Configure(LogLevel::kInfo, LogFormat::kText);
  LogInfo("Skipping a\nb.yaml: bad\x01", {{"file", "x\n2025-01-01 - heartbeat - ERROR - forged"}});
  logger.SetOutput(&std::cerr);
  std::string text = out.str();
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.find('\n'), text.size() - 1) << text;
  EXPECT_NE(text.find("Skipping a\\nb.yaml: bad\\x01"), std::string::npos) << text;
  EXPECT_NE(text.find("file=\"x\\n2025-01-01"), std::string::npos) << text;
}

TEST(LogLimiterTest, CapsLinesPerWindowAndCountsTheRest) {
  LogLimiter limiter(2, absl::Seconds(10));
  absl::Time t = absl::FromUnixSeconds(1000);
  int64_t suppressed = 0;
  EXPECT_TRUE(limiter.Allow(t, &suppressed));
  EXPECT_TRUE(limiter.Allow(t, &suppressed));
  EXPECT_FALSE(limiter.Allow(t, &suppressed));
  EXPECT_FALSE(limiter.Allow(t + absl::Seconds(1), &suppressed));
  EXPECT_TRUE(limiter.Allow(t + absl::Seconds(11), &suppressed));
  EXPECT_EQ(suppressed, 2);
}

}  // namespace
}  // namespace hb
