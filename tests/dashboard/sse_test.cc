// Server-Sent Events encoding and the bounded per-stream buffer.
#include "dashboard/sse.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "absl/time/clock.h"

namespace hb::dashboard {
namespace {

TEST(SseTest, EventSplitsDataIntoOneFieldPerLine) {
  EXPECT_EQ(SseEvent("delta", "{\"a\":1}"), "event: delta\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(SseEvent("x", "one\ntwo\r\nthree\rfour"),
            "event: x\ndata: one\ndata: two\ndata: three\ndata: four\n\n");
  EXPECT_EQ(SseEvent("x", ""), "event: x\ndata: \n\n");
  // A line break in the name cannot start a field of its own.
  EXPECT_EQ(SseEvent("a\ndata: evil", "d"), "event: a\ndata: d\n\n");
  EXPECT_EQ(SseComment("ping\nevent: x"), ": ping\n\n");
}

TEST(StreamBufferTest, PopReturnsEverythingQueuedInOrder) {
  StreamBuffer buffer(100);
  EXPECT_TRUE(buffer.Push("ab"));
  EXPECT_TRUE(buffer.Push("cd"));
  EXPECT_EQ(buffer.buffered(), 4u);
  std::string out;
  EXPECT_EQ(buffer.Pop(&out, absl::Seconds(1)), StreamBuffer::PopResult::kData);
  EXPECT_EQ(out, "abcd");
  EXPECT_EQ(buffer.buffered(), 0u);
  EXPECT_EQ(buffer.Pop(&out, absl::Milliseconds(20)), StreamBuffer::PopResult::kTimeout);
}

TEST(StreamBufferTest, OverflowClosesTheBufferInsteadOfGrowing) {
  StreamBuffer buffer(10);
  EXPECT_TRUE(buffer.Push("12345"));
  EXPECT_TRUE(buffer.Push("67890"));
  EXPECT_FALSE(buffer.Push("x"));  // 11 bytes would not fit
  EXPECT_TRUE(buffer.overflowed());
  EXPECT_EQ(buffer.buffered(), 0u);
  EXPECT_FALSE(buffer.Push("y"));
  std::string out;
  EXPECT_EQ(buffer.Pop(&out, absl::Seconds(1)), StreamBuffer::PopResult::kClosed);
}

TEST(StreamBufferTest, CloseWakesAWaitingPop) {
  StreamBuffer buffer(10);
  absl::Time start = absl::Now();
  std::thread closer([&] {
    absl::SleepFor(absl::Milliseconds(50));
    buffer.Close();
  });
  std::string out;
  EXPECT_EQ(buffer.Pop(&out, absl::Seconds(30)), StreamBuffer::PopResult::kClosed);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_FALSE(buffer.overflowed());
  closer.join();
}

}  // namespace
}  // namespace hb::dashboard
