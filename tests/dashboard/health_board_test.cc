// HealthBoard: range and watch events -> one row per capability, its transitions, expiry on
// DELETE, the summary; and BoardFeed's full read through FakeEtcd.
#include "dashboard/health_board.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/clock.h"
#include "dashboard/board_feed.h"
#include "etcd/fake_etcd.h"
#include "heartbeat/health_value.h"

namespace hb::dashboard {
namespace {

const std::string kPrefix = "/chora/capabilities/";
const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

std::string Value(const std::string& id, const std::string& status, absl::Time at,
                  uint64_t count = 1, int64_t ttl = 5) {
  heartbeat::HealthValue v;
  v.identifier = id;
  v.status = status;
  v.timestamp = at;
  v.heartbeat_count = count;
  v.ttl_seconds = ttl;
  v.interval = absl::Seconds(1);
  v.mode = "every-beat";
  v.check = "http";
  v.writer = "hb-test";
  return heartbeat::RenderHealthValue(v);
}

etcd::KeyValue Kv(const std::string& id, const std::string& value, int64_t rev,
                  int64_t lease = 0x1234) {
  etcd::KeyValue kv;
  kv.key = kPrefix + id + "/health";
  kv.value = value;
  kv.lease = lease;
  kv.mod_revision = rev;
  return kv;
}

etcd::WatchEvent Put(const etcd::KeyValue& kv) {
  etcd::WatchEvent e;
  e.kv = kv;
  return e;
}
etcd::WatchEvent Delete(const std::string& id, int64_t rev) {
  etcd::WatchEvent e;
  e.type = etcd::WatchEvent::Type::kDelete;
  e.kv.key = kPrefix + id + "/health";
  e.kv.mod_revision = rev;
  return e;
}

CapabilityRow Find(const HealthBoard& board, const std::string& id) {
  for (const CapabilityRow& row : board.Rows(nullptr)) {
    if (row.identifier == id) return row;
  }
  ADD_FAILURE() << "no row " << id;
  return {};
}

TEST(HealthBoardTest, LoadMakesOneRowPerHealthKeyAndIgnoresOtherKeys) {
  HealthBoard board(kPrefix);
  etcd::KeyValue other = Kv("x", "{}", 3);
  other.key = kPrefix + "x/config";
  board.Load({Kv("a", Value("a", "healthy", kT0, 7), 4), Kv("b", "not json", 5), other}, 5, kT0);
  std::vector<CapabilityRow> rows = board.Rows(nullptr);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].identifier, "a");
  EXPECT_EQ(rows[0].status, "healthy");
  EXPECT_EQ(rows[0].heartbeat_count, 7u);
  EXPECT_EQ(rows[0].ttl_seconds, 5);
  EXPECT_EQ(rows[0].check, "http");
  EXPECT_EQ(rows[0].lease, 0x1234);
  EXPECT_EQ(rows[0].transitions.size(), 1u);
  EXPECT_EQ(rows[1].status, "unreadable");
  EXPECT_EQ(board.revision(), 5);
}

TEST(HealthBoardTest, StatusChangesAreTransitionsAndBeatsAreNot) {
  HealthBoard board(kPrefix);
  board.Apply({Put(Kv("a", Value("a", "pending", kT0), 2))}, kT0);
  board.Apply({Put(Kv("a", Value("a", "pending", kT0 + absl::Seconds(1), 2), 3))},
              kT0 + absl::Seconds(1));
  board.Apply({Put(Kv("a", Value("a", "healthy", kT0 + absl::Seconds(2), 3), 4))},
              kT0 + absl::Seconds(2));
  CapabilityRow row = Find(board, "a");
  ASSERT_EQ(row.transitions.size(), 2u);
  EXPECT_EQ(row.transitions[0].state, "pending");
  EXPECT_EQ(row.transitions[1].state, "healthy");
  EXPECT_EQ(row.transitions[1].at, kT0 + absl::Seconds(2));
  EXPECT_EQ(row.heartbeat_count, 3u);
}

TEST(HealthBoardTest, TransitionsKeepOnlyTheLastTen) {
  HealthBoard board(kPrefix);
  for (int i = 0; i < 25; ++i) {
    std::string status = i % 2 == 0 ? "healthy" : "unhealthy";
    board.Apply({Put(Kv("a", Value("a", status, kT0 + absl::Seconds(i)), 2 + i))},
                kT0 + absl::Seconds(i));
  }
  CapabilityRow row = Find(board, "a");
  ASSERT_EQ(row.transitions.size(), 10u);
  EXPECT_EQ(row.transitions.back().state, "healthy");  // i = 24
  EXPECT_EQ(row.transitions.front().at, kT0 + absl::Seconds(15));
}

TEST(HealthBoardTest, DeleteLeavesAnExpiredRowWithWhenAndWhy) {
  HealthBoard board(kPrefix);
  board.Load({Kv("a", Value("a", "healthy", kT0), 2), Kv("b", Value("b", "healthy", kT0), 3)}, 3,
             kT0);
  absl::Time later = kT0 + absl::Seconds(6);  // past the 5 s TTL: the lease expired
  board.Apply({Delete("a", 4)}, later);
  board.Apply({Delete("b", 5)}, kT0 + absl::Seconds(1));  // well inside it: removed
  CapabilityRow a = Find(board, "a");
  EXPECT_TRUE(a.expired);
  EXPECT_EQ(a.state(), "expired");
  EXPECT_EQ(a.status, "healthy");  // the last status stays
  EXPECT_EQ(a.gone_at, later);
  EXPECT_EQ(a.gone_reason, "lease expired");
  EXPECT_EQ(a.transitions.back().state, "expired");
  EXPECT_EQ(Find(board, "b").gone_reason, "removed");
  BoardSummary s = board.Summary();
  EXPECT_EQ(s.total, 2);
  EXPECT_EQ(s.expired, 2);
  EXPECT_EQ(s.healthy, 0);
}

TEST(HealthBoardTest, KeyWrittenAgainIsLiveAgain) {
  HealthBoard board(kPrefix);
  board.Apply({Put(Kv("a", Value("a", "healthy", kT0), 2))}, kT0);
  board.Apply({Delete("a", 3)}, kT0 + absl::Seconds(9));
  board.Apply({Put(Kv("a", Value("a", "healthy", kT0 + absl::Seconds(10)), 4))},
              kT0 + absl::Seconds(10));
  CapabilityRow row = Find(board, "a");
  EXPECT_FALSE(row.expired);
  EXPECT_TRUE(row.gone_reason.empty());
  ASSERT_EQ(row.transitions.size(), 3u);
  EXPECT_EQ(row.transitions[1].state, "expired");
  EXPECT_EQ(board.Summary().healthy, 1);
  EXPECT_EQ(board.Summary().expired, 0);
}

TEST(HealthBoardTest, ReloadExpiresLiveRowsThatAreGoneAndIgnoresReplayedOldEvents) {
  HealthBoard board(kPrefix);
  board.Load({Kv("a", Value("a", "healthy", kT0), 2), Kv("b", Value("b", "healthy", kT0), 3)}, 3,
             kT0);
  // A re-read after a compaction: b went while nobody watched.
  board.Load({Kv("a", Value("a", "healthy", kT0 + absl::Seconds(9), 5), 9)}, 9,
             kT0 + absl::Seconds(9));
  EXPECT_TRUE(Find(board, "b").expired);
  // The watch from the first page's revision replays older events: nothing goes back.
  board.Apply({Put(Kv("a", Value("a", "unhealthy", kT0), 4)), Delete("a", 5)},
              kT0 + absl::Seconds(9));
  CapabilityRow a = Find(board, "a");
  EXPECT_FALSE(a.expired);
  EXPECT_EQ(a.status, "healthy");
  EXPECT_EQ(a.heartbeat_count, 5u);
}

TEST(HealthBoardTest, ChangedSinceCoalescesRepeatedChangesOfARow) {
  HealthBoard board(kPrefix);
  uint64_t seq = 0;
  board.Load({Kv("a", Value("a", "healthy", kT0), 2), Kv("b", Value("b", "healthy", kT0), 3)}, 3,
             kT0);
  EXPECT_EQ(board.ChangedSince(0, &seq).size(), 2u);
  for (int i = 1; i <= 5; ++i) {
    board.Apply({Put(Kv("a", Value("a", "healthy", kT0 + absl::Seconds(i), 1 + i), 3 + i))},
                kT0 + absl::Seconds(i));
  }
  uint64_t next = 0;
  std::vector<CapabilityRow> changed = board.ChangedSince(seq, &next);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].identifier, "a");
  EXPECT_EQ(changed[0].heartbeat_count, 6u);
  EXPECT_TRUE(board.ChangedSince(next, nullptr).empty());
}

TEST(HealthBoardTest, ExpiredRowsAreBounded) {
  HealthBoard board(kPrefix, BoardLimits{10, 3});
  for (int i = 0; i < 6; ++i) {
    std::string id = "c" + std::to_string(i);
    board.Apply({Put(Kv(id, Value(id, "healthy", kT0), 2 + 2 * i))}, kT0);
    board.Apply({Delete(id, 3 + 2 * i)}, kT0 + absl::Seconds(10 + i));
  }
  BoardSummary s = board.Summary();
  EXPECT_EQ(s.expired, 3);
  EXPECT_EQ(s.total, 3);
  EXPECT_EQ(board.Rows(nullptr).front().identifier, "c3");  // the longest expired went first
}

TEST(BoardFeedTest, LoadsEveryKeyUnderThePrefixAcrossPages) {
  FakeClock clock;
  etcd::FakeEtcd etcd(clock);
  etcd.SetAutoDeliver(true);
  for (int i = 0; i < 25; ++i) {
    std::string id = "cap" + std::to_string(100 + i);
    etcd.Seed(kPrefix + id + "/health", Value(id, "healthy", clock.WallNow()), 0);
  }
  etcd.Seed("/other/key", "x", 0);
  HealthBoard board(kPrefix);
  BoardFeed feed(etcd, board, clock, FeedOptions{10, absl::Seconds(1)});
  feed.Start();
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!feed.Watching() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_TRUE(feed.Watching());
  EXPECT_EQ(board.Summary().total, 25);
  EXPECT_EQ(board.Summary().healthy, 25);
  EXPECT_EQ(feed.loads(), 1);
}

}  // namespace
}  // namespace hb::dashboard
