// ClockDriver: virtual time for components that sleep on a Clock in threads of their own
// (leader election, informers, work queues). Whenever every participating thread sleeps on
// the FakeClock, it moves the clock to the earliest wake-up: a discrete-event simulation in
// which no thread waits in real time and no step is skipped or blurred.
#pragma once

#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace hb::testing {

class ClockDriver {
 public:
  // Drives `clock` while `participants` threads are expected to sleep on it.
  ClockDriver(FakeClock& clock, int participants) : clock_(clock), participants_(participants) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~ClockDriver() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }
  ClockDriver(const ClockDriver&) = delete;
  ClockDriver& operator=(const ClockDriver&) = delete;

  // How many threads must sleep before time moves (a thread started or ended).
  void SetParticipants(int n) {
    absl::MutexLock lock(&mu_);
    participants_ = n;
  }
  // While paused, time stands still: sleeping threads stay asleep.
  void Pause() {
    absl::MutexLock lock(&mu_);
    paused_ = true;
  }
  void Resume() {
    absl::MutexLock lock(&mu_);
    paused_ = false;
  }
  // Every move of the clock so far.
  std::vector<absl::Duration> Jumps() const {
    absl::MutexLock lock(&mu_);
    return jumps_;
  }
  // Waits (real time, as a test's safety bound) until at least `count` moves were made.
  bool WaitForJumps(size_t count, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto enough = [this, count]()
                      ABSL_SHARED_LOCKS_REQUIRED(mu_) { return jumps_.size() >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  void Loop() {
    while (true) {
      int participants;
      {
        absl::MutexLock lock(&mu_);
        if (stop_) return;
        participants = paused_ ? -1 : participants_;
      }
      // Short real-time bounds only so that Pause(), SetParticipants() and the destructor
      // are noticed; time itself never moves unless every participant sleeps.
      if (participants <= 0 || !clock_.AwaitSleepers(participants, absl::Milliseconds(5))) {
        if (participants <= 0) absl::SleepFor(absl::Milliseconds(1));
        continue;
      }
      absl::MutexLock lock(&mu_);
      if (stop_ || paused_ || participants_ != participants) continue;
      if (clock_.Sleepers() < participants_) continue;  // one woke up meanwhile
      std::optional<absl::Time> next = clock_.NextWakeup();
      if (!next) continue;  // everyone waits for something other than time
      jumps_.push_back(*next - clock_.Now());
      clock_.AdvanceTo(*next);
    }
  }

  FakeClock& clock_;
  mutable absl::Mutex mu_;
  int participants_ ABSL_GUARDED_BY(mu_);
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<absl::Duration> jumps_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace hb::testing
