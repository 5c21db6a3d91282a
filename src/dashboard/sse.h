// Server-Sent Events: the wire encoding (https://html.spec.whatwg.org/#server-sent-events)
// and StreamBuffer, the bounded queue between the publisher and one stream's writer.
//
// StreamBuffer holds at most `max_bytes` of encoded events. A Push that would exceed it
// closes the buffer and marks it overflowed instead of growing: the client is too slow and
// is dropped (its browser reconnects and starts again from a snapshot). Close() ends a
// waiting Pop at once.
//
// Thread-safety: SseEvent/SseComment are pure; StreamBuffer is thread-safe (any number of
// pushers, one popper).
#pragma once

#include <cstddef>
#include <deque>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace hb::dashboard {

// "event: <event>\ndata: <line>\n" for each line of `data` (split at \n, \r\n or \r), then
// a blank line. `event` must not contain a line break (it is cut at the first).
std::string SseEvent(absl::string_view event, absl::string_view data);
// ": <text>\n\n": a comment line, ignored by the browser (keeps idle streams checked).
std::string SseComment(absl::string_view text);

class StreamBuffer {
 public:
  explicit StreamBuffer(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Queues `bytes`; false (and the buffer closes, overflowed) when they do not fit, or when
  // it is closed already.
  bool Push(std::string bytes);
  enum class PopResult { kData, kTimeout, kClosed };
  // Everything queued, concatenated, into `*out` (kData); or kTimeout after `timeout` with
  // nothing queued; or kClosed once closed (queued bytes of a closed buffer are dropped).
  PopResult Pop(std::string* out, absl::Duration timeout);
  void Close();
  bool overflowed() const;
  size_t buffered() const;

 private:
  bool ReadyLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return closed_ || !queue_.empty(); }

  const size_t max_bytes_;
  mutable absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace hb::dashboard
