// The JSON the page receives: fields, times, lease ids, and nothing but the rows' fields.
#include "dashboard/board_json.h"

#include <gtest/gtest.h>

#include <string>

#include "nlohmann/json.hpp"

namespace hb::dashboard {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

TEST(BoardJsonTest, RendersRowsSummaryAndTimesInMilliseconds) {
  HealthBoard board("/chora/capabilities/");
  etcd::KeyValue kv;
  kv.key = "/chora/capabilities/chora.devex.registry/health";
  kv.value =
      R"({"status":"unhealthy","timestamp":"2023-11-14T22:13:20Z","namespace":"chora.devex.registry",)"
      R"("heartbeat_count":42,"lease_id":"694d77aa1e7f2e04","ttl":30,"interval":10,)"
      R"("mode":"every-beat","writer":"pod-1","check":"http","reason":"HTTP 503",)"
      R"("password":"s3cret-from-a-value","token":"abc"})";
  kv.lease = 0x694d77aa1e7f2e04;
  kv.mod_revision = 8;
  board.Load({kv}, 8, kT0);
  etcd::WatchEvent deleted;
  deleted.type = etcd::WatchEvent::Type::kDelete;
  deleted.kv.key = kv.key;
  deleted.kv.mod_revision = 9;
  board.Apply({deleted}, kT0 + absl::Seconds(40));

  std::string text = RenderBoardJson("delta", board.Rows(nullptr), board.Summary(),
                                     board.revision(), board.prefix(), kT0 + absl::Seconds(41));
  nlohmann::json doc = nlohmann::json::parse(text);
  EXPECT_EQ(doc["type"], "delta");
  EXPECT_EQ(doc["now"], 1'700'000'041'000LL);
  EXPECT_EQ(doc["revision"], 9);
  EXPECT_EQ(doc["summary"]["total"], 1);
  EXPECT_EQ(doc["summary"]["expired"], 1);
  ASSERT_EQ(doc["rows"].size(), 1u);
  const nlohmann::json& row = doc["rows"][0];
  EXPECT_EQ(row["id"], "chora.devex.registry");
  EXPECT_EQ(row["state"], "expired");
  EXPECT_EQ(row["status"], "unhealthy");
  EXPECT_EQ(row["reason"], "HTTP 503");
  EXPECT_EQ(row["count"], 42);
  EXPECT_EQ(row["ttl"], 30);
  EXPECT_EQ(row["lease"], "694d77aa1e7f2e04");
  EXPECT_EQ(row["ts"], 1'700'000'000'000LL);
  EXPECT_EQ(row["gone_at"], 1'700'000'040'000LL);
  EXPECT_EQ(row["gone_reason"], "lease expired");
  ASSERT_EQ(row["transitions"].size(), 2u);
  EXPECT_EQ(row["transitions"][1][0], "expired");
  EXPECT_EQ(row["transitions"][1][1], 1'700'000'040'000LL);
  // Fields the value carries beyond the known ones never reach the page.
  EXPECT_EQ(text.find("s3cret"), std::string::npos);
  EXPECT_EQ(text.find("token"), std::string::npos);
  EXPECT_FALSE(row.contains("password"));
}

TEST(BoardJsonTest, UnknownTimesAreNullAndInvalidUtf8IsReplaced) {
  HealthBoard board("/p/");
  etcd::KeyValue kv;
  kv.key = "/p/a/health";
  kv.value = "\xff not json";
  kv.mod_revision = 2;
  board.Load({kv}, 2, kT0);
  nlohmann::json doc = nlohmann::json::parse(
      RenderBoardJson("snapshot", board.Rows(nullptr), board.Summary(), 2, "/p/", kT0));
  EXPECT_TRUE(doc["rows"][0]["ts"].is_null());
  EXPECT_TRUE(doc["rows"][0]["gone_at"].is_null());
  EXPECT_EQ(doc["rows"][0]["state"], "unreadable");
  EXPECT_EQ(doc["summary"]["pending"], 1);
}

}  // namespace
}  // namespace hb::dashboard
