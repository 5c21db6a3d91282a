// Completion: an absl::Status handed over once by an asynchronous callback and awaited,
// with a deadline, on a Clock (so tests wait on virtual time).
//
// Share it with the callback through a std::shared_ptr: the callback may run after the
// waiter gave up. Thread-safe.
#pragma once

#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace hb {

class Completion {
 public:
  explicit Completion(Clock& clock) : clock_(clock), waiter_(clock) {}

  // The callback's side; the first call wins.
  void Set(absl::Status status) {
    absl::MutexLock lock(&mu_);
    if (result_) return;
    result_ = std::move(status);
    waiter_.NotifyAll();
  }

  // The result once Set() was called, or nullopt when `deadline` (clock time) came first.
  std::optional<absl::Status> WaitUntil(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    while (!result_ && clock_.Now() < deadline) waiter_.WaitReleasing(mu_, deadline);
    return result_;
  }

 private:
  Clock& clock_;
  Waiter waiter_;
  absl::Mutex mu_;
  std::optional<absl::Status> result_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb
