// WatchDecoder: the body of a watch response (one JSON event per line, arriving in pieces of
// any size) turned into WatchEvents.
//
// An ERROR event ends the stream with the status it carries (a 410 Expired is IsGone()).
// Not thread-safe: one decoder per watch.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kube/client.h"

namespace hb::kube {

class WatchDecoder {
 public:
  // `what` names the watch in error messages ("GET /api/v1/namespaces/x/configmaps").
  explicit WatchDecoder(std::string what) : what_(std::move(what)) {}

  // Feeds the next piece of the body and hands every completed event to `handler`. Returns
  // the first error: a malformed line, an ERROR event, or the handler's status.
  absl::Status Feed(absl::string_view data, const WatchHandler& handler);
  // The end of the body: decodes a last line that had no newline.
  absl::Status Finish(const WatchHandler& handler);
  int64_t events() const { return events_; }

 private:
  absl::Status DecodeLine(absl::string_view line, const WatchHandler& handler);

  // One event is at most one object (etcd limits objects to ~1.5 MB); anything far larger
  // without a newline is not a watch stream.
  static constexpr size_t kMaxLine = 64 << 20;

  const std::string what_;
  std::string pending_;  // the start of an incomplete line
  int64_t events_ = 0;
};

}  // namespace hb::kube
