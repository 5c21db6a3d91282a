#include "dashboard/sse.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace hb::dashboard {

std::string SseEvent(absl::string_view event, absl::string_view data) {
  event = event.substr(0, event.find_first_of("\r\n"));
  std::string out = absl::StrCat("event: ", event, "\n");
  out.reserve(out.size() + data.size() + 16);
  size_t start = 0;
  while (true) {
    size_t end = data.find_first_of("\r\n", start);
    absl::StrAppend(&out, "data: ", data.substr(start, end - start), "\n");
    if (end == absl::string_view::npos) break;
    start = end + 1;
    if (data[end] == '\r' && start < data.size() && data[start] == '\n') ++start;
  }
  out += "\n";
  return out;
}

std::string SseComment(absl::string_view text) {
  return absl::StrCat(": ", text.substr(0, text.find_first_of("\r\n")), "\n\n");
}

bool StreamBuffer::Push(std::string bytes) {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  if (bytes_ + bytes.size() > max_bytes_) {
    closed_ = true;
    overflowed_ = true;
    queue_.clear();
    bytes_ = 0;
    return false;
  }
  bytes_ += bytes.size();
  queue_.push_back(std::move(bytes));
  return true;
}

StreamBuffer::PopResult StreamBuffer::Pop(std::string* out, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(this, &StreamBuffer::ReadyLocked), timeout);
  if (closed_) return PopResult::kClosed;
  if (queue_.empty()) return PopResult::kTimeout;
  out->clear();
  out->reserve(bytes_);
  for (std::string& chunk : queue_) out->append(chunk);
  queue_.clear();
  bytes_ = 0;
  return PopResult::kData;
}

void StreamBuffer::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  queue_.clear();
  bytes_ = 0;
}

bool StreamBuffer::overflowed() const {
  absl::MutexLock lock(&mu_);
  return overflowed_;
}

size_t StreamBuffer::buffered() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace hb::dashboard
