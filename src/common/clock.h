// Clock: the one source of time for everything that schedules, times out, backs off or
// waits, so that unit tests run it on virtual time (FakeClock) instead of sleeping.
//
// Two readings, never mixed:
//  - Now(): monotonic scheduling time: deadlines, due times, durations. It never steps,
//    whatever happens to the system clock. RealClock anchors it to the wall clock at
//    process start, so it reads like a date, but only differences between readings mean
//    anything.
//  - WallNow(): UTC wall time for what is written out (health-value timestamps, Kubernetes
//    timestamps, log lines). It may step either way; never derive a deadline from it.
//
// Waiting also goes through the clock, so that FakeClock::Advance() wakes the waiters:
//  - SleepUntil()/SleepFor() block until a deadline or until a CancelToken is cancelled;
//  - Waiter lets threads sleep until a deadline or until they are notified of new work.
// On a FakeClock nothing waits in real time: a sleeper wakes only when the clock is moved
// past its deadline (or it is notified), and tests can see who sleeps (Sleepers(),
// NextWakeup()) to move time from one wake-up to the next.
//
// Thread-safe throughout.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/cancel.h"

namespace hb {

class Waiter;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic scheduling time.
  virtual absl::Time Now() const = 0;
  // Wall time (UTC), for values only.
  virtual absl::Time WallNow() const = 0;

  // Blocks until Now() >= `deadline` (true) or `cancel` is cancelled (false; at once when
  // it already is).
  bool SleepUntil(absl::Time deadline, const CancelToken& cancel);
  bool SleepFor(absl::Duration d, const CancelToken& cancel) {
    return SleepUntil(Now() + d, cancel);
  }

 protected:
  friend class Waiter;
  // Blocks on `cv`, whose mutex `lock` holds, until notified or until `deadline` by this
  // clock. May return early: callers check their condition again.
  virtual void WaitOn(const Waiter* waiter, std::condition_variable& cv,
                      std::unique_lock<std::mutex>& lock, absl::Time deadline) = 0;
  // A Waiter came into being / is going away (FakeClock keeps a registry to wake them).
  virtual void Register(Waiter* /*waiter*/) {}
  virtual void Unregister(Waiter* /*waiter*/) {}
  // The waiter was notified: it no longer counts as sleeping.
  virtual void Woken(const Waiter* /*waiter*/) {}
};

// Lets threads sleep on a Clock until a deadline or until NotifyAll().
//
// Notifications are counted so that none is lost between deciding to wait and waiting:
// read Epoch() while deciding (under the lock that guards the state notifiers change),
// release that lock, then WaitUntil(deadline, epoch) returns at once if NotifyAll() was
// called since. Several threads may wait at once; NotifyAll() wakes all of them.
class Waiter {
 public:
  explicit Waiter(Clock& clock);
  ~Waiter();
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  uint64_t Epoch() const;
  // True when notified after `epoch`; false when the deadline was reached first.
  bool WaitUntil(absl::Time deadline, uint64_t epoch);
  // The usual shape of the above: called with `held` locked (the lock guarding what
  // notifiers change), releases it while waiting from the current epoch, and locks it again
  // before returning. The caller then checks its condition again.
  bool WaitReleasing(absl::Mutex& held, absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(held);
  void NotifyAll();

 private:
  friend class FakeClock;
  Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t epoch_ = 0;  // guarded by mu_
};

// The system's clocks: steady_clock for Now(), the real-time clock for WallNow().
class RealClock final : public Clock {
 public:
  // A process-wide instance; never destroyed.
  static RealClock& Get();
  absl::Time Now() const override;
  absl::Time WallNow() const override;

 protected:
  void WaitOn(const Waiter* waiter, std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
              absl::Time deadline) override;
};

// Virtual time that moves only when a test says so.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000));

  absl::Time Now() const override;
  absl::Time WallNow() const override;

  // Moves both readings on and wakes the sleepers whose deadline has come.
  void Advance(absl::Duration d);
  // Advance() to `t` (no-op when `t` is not later than Now()).
  void AdvanceTo(absl::Time t);
  // The system clock was stepped (NTP, an operator): only WallNow() moves, either way.
  void StepWall(absl::Duration d);

  // Threads blocked on this clock that nothing has woken yet: no deadline, or a deadline
  // still ahead.
  int Sleepers() const;
  // Waits in real time until at least `count` threads sleep; false after `timeout`.
  bool AwaitSleepers(int count, absl::Duration timeout) const;
  // The earliest deadline among the sleepers; nullopt when none has one.
  std::optional<absl::Time> NextWakeup() const;

 protected:
  void WaitOn(const Waiter* waiter, std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
              absl::Time deadline) override;
  void Register(Waiter* waiter) override;
  void Unregister(Waiter* waiter) override;
  void Woken(const Waiter* waiter) override;

 private:
  void WakeAll();
  int SleepersLocked() const ABSL_SHARED_LOCKS_REQUIRED(sleeping_mu_);

  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  absl::Duration wall_offset_ ABSL_GUARDED_BY(mu_);

  // Lock order: waiters_mu_, then a Waiter's mutex, then sleeping_mu_ (and mu_ last).
  std::mutex waiters_mu_;
  std::set<Waiter*> waiters_;  // guarded by waiters_mu_
  // One per blocked thread (on its stack for the length of the wait).
  struct Sleep {
    absl::Time deadline;
    const Waiter* waiter;
    bool woken;  // notified: about to run again
  };
  mutable absl::Mutex sleeping_mu_;
  std::set<Sleep*> sleeping_ ABSL_GUARDED_BY(sleeping_mu_);
};

}  // namespace hb
