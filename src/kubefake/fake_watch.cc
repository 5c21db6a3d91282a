// FakeKubeClient::Watch: replay from the history, synthetic ADDED events, bookmarks,
// selector transitions, and the ways a watch ends (cancel, timeout, CloseWatches, 410).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "kubefake/fake_kube_client.h"
#include "kubefake/internal.h"
#include "kubefake/selectors.h"

namespace hb::kubefake {
namespace {

using kube::WatchEvent;
using kube::WatchEventType;

WatchEvent Bookmark(const kube::ResourceRef& ref, int64_t rv) {
  return {
      WatchEventType::kBookmark,
      {{"apiVersion", ref.ApiVersion()}, {"metadata", {{"resourceVersion", std::to_string(rv)}}}}};
}

// The event a watcher with `selector` sees for a write: an object leaving the selection is
// DELETED, one entering it ADDED; nullopt when the write is outside the selection.
std::optional<WatchEvent> Translate(WatchEventType type, const nlohmann::json& object,
                                    const nlohmann::json& prev, const ObjectSelector& selector) {
  bool now = selector.Matches(object);
  if (type == WatchEventType::kDeleted) {
    if (!now) return std::nullopt;
    return WatchEvent{WatchEventType::kDeleted, object};
  }
  bool was = !prev.is_null() && selector.Matches(prev);
  if (now && was) return WatchEvent{WatchEventType::kModified, object};
  if (now) return WatchEvent{WatchEventType::kAdded, object};
  if (was) return WatchEvent{WatchEventType::kDeleted, object};
  return std::nullopt;
}

// Hands `events` to the handler in order; stops at a handler error or a cancellation.
absl::Status Deliver(std::vector<WatchEvent>& events, const kube::WatchHandler& handler,
                     const CancelToken& cancel) {
  for (auto& event : events) {
    if (cancel.IsCancelled()) return absl::CancelledError("watch cancelled");
    absl::Status handled = handler(std::move(event));
    if (!handled.ok()) return handled;
  }
  events.clear();
  return absl::OkStatus();
}

}  // namespace

absl::Status FakeKubeClient::Watch(const kube::ResourceRef& ref, const kube::WatchOptions& options,
                                   const kube::WatchHandler& handler, const CancelToken& cancel) {
  absl::Status begun = BeginCall(Verb::kWatch, ref, "", "", options.resource_version);
  if (!begun.ok()) return begun;
  auto selector = ObjectSelector::Parse(options.label_selector, options.field_selector);
  if (!selector.ok()) return selector.status();
  const absl::Time deadline = options.timeout_seconds > 0
                                  ? clock_.Now() + absl::Seconds(options.timeout_seconds)
                                  : absl::InfiniteFuture();
  // Declared before any lock is taken: its destructor may wait for the callback, which
  // takes mu_.
  CancelToken::Registration wake = cancel.OnCancel([this] { changed_.NotifyAll(); });

  std::vector<WatchEvent> batch;
  int64_t last = 0;
  int64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    absl::Status started = StartWatchLocked(ref, options, *selector, &batch, &last);
    if (!started.ok()) return started;
    id = next_watch_id_++;
    watches_[id] = OpenWatch();
    changed_.NotifyAll();
  }
  absl::Status result;
  while ((result = Deliver(batch, handler, cancel)).ok()) {
    absl::MutexLock lock(&mu_);
    std::optional<absl::Status> end = WaitForWatchLocked(id, last, deadline, cancel);
    if (end.has_value()) {
      result = *end;
      break;
    }
    CollectLocked(ref, *selector, &last, &batch);
    OpenWatch& self = watches_[id];
    if (self.bookmarks > 0 && options.allow_bookmarks) batch.push_back(Bookmark(ref, last));
    self.bookmarks = 0;
  }
  absl::MutexLock lock(&mu_);
  watches_.erase(id);
  changed_.NotifyAll();
  return result;
}

absl::Status FakeKubeClient::StartWatchLocked(const kube::ResourceRef& ref,
                                              const kube::WatchOptions& options,
                                              const ObjectSelector& selector,
                                              std::vector<WatchEvent>* batch, int64_t* last) {
  const std::string& from = options.resource_version;
  if (force_gone_ > 0) {
    --force_gone_;
    return internal::Expired(absl::StrCat("too old resource version: ", from.empty() ? "0" : from,
                                          " (", oldest_replayable_, ")"));
  }
  if (from.empty() || from == "0") {
    *last = rv_;
    if (auto it = objects_.find(internal::CollectionOf(ref)); it != objects_.end()) {
      for (const auto& [key, object] : it->second) {
        if (!ref.namespace_.empty() && key.first != ref.namespace_) continue;
        if (selector.Matches(object)) batch->push_back({WatchEventType::kAdded, object});
      }
    }
  } else if (!absl::SimpleAtoi(from, last) || *last < 0) {
    return internal::Expired(absl::StrCat("invalid resource version: ", from));
  } else if (TooOldLocked(*last)) {
    return internal::Expired(
        absl::StrCat("too old resource version: ", *last, " (", oldest_replayable_, ")"));
  }
  if (options.allow_bookmarks) batch->push_back(Bookmark(ref, *last));
  return absl::OkStatus();
}

std::optional<absl::Status> FakeKubeClient::WaitForWatchLocked(int64_t id, int64_t last,
                                                               absl::Time deadline,
                                                               const CancelToken& cancel) {
  const OpenWatch& self = watches_[id];
  while (true) {
    if (cancel.IsCancelled()) return absl::CancelledError("watch cancelled");
    // The server ends the stream: CloseWatches(), the timeout, or a watcher that fell
    // behind the history window (as the real watch cache drops it).
    if (self.close || clock_.Now() >= deadline || TooOldLocked(last)) return absl::OkStatus();
    if (last < rv_ || self.bookmarks > 0) return std::nullopt;
    changed_.WaitReleasing(mu_, deadline);
  }
}

void FakeKubeClient::CollectLocked(const kube::ResourceRef& ref, const ObjectSelector& selector,
                                   int64_t* last, std::vector<WatchEvent>* batch) const {
  const std::string collection = internal::CollectionOf(ref);
  for (const Event* event : EventsAfterLocked(*last)) {
    if (event->collection != collection) continue;
    if (!ref.namespace_.empty() && event->key.first != ref.namespace_) continue;
    auto seen = Translate(event->type, event->object, event->prev, selector);
    if (seen.has_value()) batch->push_back(std::move(*seen));
  }
  *last = rv_;
}

}  // namespace hb::kubefake
