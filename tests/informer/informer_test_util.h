// Shared pieces of the informer tests: an event recorder, an informer running on its own
// thread, and a watch running on its own thread. Every wait has a deadline.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/cancel.h"
#include "common/clock.h"
#include "informer/informer.h"
#include "kube/client.h"

namespace hb::informer::testing {

inline nlohmann::json ConfigMap(const std::string& name, nlohmann::json data,
                                nlohmann::json labels = nlohmann::json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", std::move(labels)}}},
          {"data", std::move(data)}};
}

// Polls `condition` until it holds or `timeout` passes (for state with no notification).
template <typename Condition>
bool Eventually(Condition condition, absl::Duration timeout = absl::Seconds(5)) {
  absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// Records what an informer's handler saw.
class EventRecorder {
 public:
  Informer::Handler Handler() {
    return [this](const InformerEvent& event) {
      absl::MutexLock lock(&mu_);
      events_.push_back(event);
    };
  }
  bool WaitForCount(size_t count, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, count]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return events_.size() >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  std::vector<InformerEvent> Events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  // "Added default/a" lines.
  std::vector<std::string> Summary() {
    std::vector<std::string> lines;
    for (const auto& e : Events()) {
      lines.push_back(absl::StrCat(InformerEventTypeName(e.type), " ", e.key));
    }
    return lines;
  }

 private:
  absl::Mutex mu_;
  std::vector<InformerEvent> events_ ABSL_GUARDED_BY(mu_);
};

// Runs Informer::Run() on a thread; cancels and joins on destruction.
class InformerRunner {
 public:
  explicit InformerRunner(Informer& informer)
      : thread_([this, &informer] {
          informer.Run(cancel_);
          stopped_.Notify();
        }) {}
  ~InformerRunner() {
    cancel_.Cancel();
    thread_.join();
  }
  void Cancel() { cancel_.Cancel(); }
  bool WaitStopped(absl::Duration timeout) {
    return stopped_.WaitForNotificationWithTimeout(timeout);
  }

 private:
  CancelToken cancel_;
  absl::Notification stopped_;
  std::thread thread_;  // last: starts after the members above exist
};

// Runs client.Watch() on a thread of its own and records the events.
class WatchRunner {
 public:
  WatchRunner(kube::KubeClient& client, kube::ResourceRef ref, kube::WatchOptions options) {
    thread_ = std::thread([this, &client, ref = std::move(ref), options = std::move(options)] {
      absl::Status status = client.Watch(
          ref, options,
          [this](kube::WatchEvent event) {
            absl::MutexLock lock(&mu_);
            events_.push_back(std::move(event));
            return absl::OkStatus();
          },
          cancel_);
      absl::MutexLock lock(&mu_);
      result_ = status;
    });
  }
  ~WatchRunner() {
    cancel_.Cancel();
    thread_.join();
  }
  void Cancel() { cancel_.Cancel(); }
  bool WaitForEvents(size_t count, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return events_.size() >= count || result_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
    return events_.size() >= count;
  }
  // "ADDED a" / "BOOKMARK 7" lines (bookmarks show their resourceVersion).
  std::vector<std::string> Summary() {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> lines;
    for (const auto& e : events_) {
      lines.push_back(absl::StrCat(kube::WatchEventTypeName(e.type), " ",
                                   e.type == kube::WatchEventType::kBookmark
                                       ? kube::ObjectResourceVersion(e.object)
                                       : kube::ObjectName(e.object)));
    }
    return lines;
  }
  std::vector<kube::WatchEvent> Events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  // Watch()'s result, or nullopt while it runs after `timeout`.
  std::optional<absl::Status> WaitForResult(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return result_.has_value(); };
    mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
    return result_;
  }

 private:
  CancelToken cancel_;
  absl::Mutex mu_;
  std::vector<kube::WatchEvent> events_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> result_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace hb::informer::testing
