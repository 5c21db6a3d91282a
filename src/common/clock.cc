#include "common/clock.h"

#include <algorithm>
#include <chrono>

namespace hb {
namespace {

// RealClock's monotonic readings count steady_clock's progress from the wall time at the
// first reading.
struct Anchor {
  absl::Time wall;
  std::chrono::steady_clock::time_point steady;
};

const Anchor& ProcessAnchor() {
  static const Anchor anchor{absl::Now(), std::chrono::steady_clock::now()};
  return anchor;
}

}  // namespace

// ---- Clock ----

bool Clock::SleepUntil(absl::Time deadline, const CancelToken& cancel) {
  Waiter waiter(*this);
  uint64_t epoch = waiter.Epoch();
  // Destroyed before `waiter`: a concurrent Cancel() never touches a dead waiter.
  CancelToken::Registration wake = cancel.OnCancel([&waiter] { waiter.NotifyAll(); });
  if (cancel.IsCancelled()) return false;
  waiter.WaitUntil(deadline, epoch);
  return !cancel.IsCancelled();
}

// ---- Waiter ----

Waiter::Waiter(Clock& clock) : clock_(clock) { clock_.Register(this); }

Waiter::~Waiter() { clock_.Unregister(this); }

uint64_t Waiter::Epoch() const {
  std::lock_guard<std::mutex> lock(mu_);
  return epoch_;
}

bool Waiter::WaitUntil(absl::Time deadline, uint64_t epoch) {
  std::unique_lock<std::mutex> lock(mu_);
  while (epoch_ == epoch) {
    if (clock_.Now() >= deadline) return false;
    clock_.WaitOn(this, cv_, lock, deadline);
  }
  return true;
}

bool Waiter::WaitReleasing(absl::Mutex& held, absl::Time deadline) {
  uint64_t epoch = Epoch();
  held.Unlock();
  bool notified = WaitUntil(deadline, epoch);
  held.Lock();
  return notified;
}

void Waiter::NotifyAll() {
  std::lock_guard<std::mutex> lock(mu_);
  ++epoch_;
  clock_.Woken(this);
  cv_.notify_all();
}

// ---- RealClock ----

RealClock& RealClock::Get() {
  static auto* clock = new RealClock();
  return *clock;
}

absl::Time RealClock::Now() const {
  const Anchor& anchor = ProcessAnchor();
  return anchor.wall + absl::FromChrono(std::chrono::steady_clock::now() - anchor.steady);
}

absl::Time RealClock::WallNow() const { return absl::Now(); }

void RealClock::WaitOn(const Waiter* /*waiter*/, std::condition_variable& cv,
                       std::unique_lock<std::mutex>& lock, absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) {
    cv.wait(lock);
    return;
  }
  absl::Duration left = deadline - Now();
  if (left <= absl::ZeroDuration()) return;
  // wait_for() measures on steady_clock: a step of the system clock does not move it.
  cv.wait_for(lock, absl::ToChronoNanoseconds(std::min(left, absl::Hours(24))));
}

// ---- FakeClock ----

FakeClock::FakeClock(absl::Time start) : now_(start) {}

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

absl::Time FakeClock::WallNow() const {
  absl::MutexLock lock(&mu_);
  return now_ + wall_offset_;
}

void FakeClock::Advance(absl::Duration d) {
  {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  WakeAll();
}

void FakeClock::AdvanceTo(absl::Time t) {
  {
    absl::MutexLock lock(&mu_);
    if (t <= now_) return;
    now_ = t;
  }
  WakeAll();
}

void FakeClock::StepWall(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  wall_offset_ += d;
}

void FakeClock::WakeAll() {
  std::lock_guard<std::mutex> registry(waiters_mu_);
  for (Waiter* waiter : waiters_) {
    std::lock_guard<std::mutex> lock(waiter->mu_);
    waiter->cv_.notify_all();
  }
}

void FakeClock::Register(Waiter* waiter) {
  std::lock_guard<std::mutex> registry(waiters_mu_);
  waiters_.insert(waiter);
}

void FakeClock::Unregister(Waiter* waiter) {
  std::lock_guard<std::mutex> registry(waiters_mu_);
  waiters_.erase(waiter);
}

void FakeClock::WaitOn(const Waiter* waiter, std::condition_variable& cv,
                       std::unique_lock<std::mutex>& lock, absl::Time deadline) {
  Sleep self{deadline, waiter, false};
  {
    absl::MutexLock sleeping(&sleeping_mu_);
    sleeping_.insert(&self);
  }
  cv.wait(lock);  // Advance() and NotifyAll() take the waiter's mutex: no wake-up is lost
  absl::MutexLock sleeping(&sleeping_mu_);
  sleeping_.erase(&self);
}

void FakeClock::Woken(const Waiter* waiter) {
  absl::MutexLock sleeping(&sleeping_mu_);
  for (Sleep* s : sleeping_) {
    if (s->waiter == waiter) s->woken = true;
  }
}

int FakeClock::SleepersLocked() const {
  absl::Time now = Now();
  int count = 0;
  for (const Sleep* s : sleeping_) {
    if (!s->woken && s->deadline > now) ++count;
  }
  return count;
}

int FakeClock::Sleepers() const {
  absl::MutexLock sleeping(&sleeping_mu_);
  return SleepersLocked();
}

bool FakeClock::AwaitSleepers(int count, absl::Duration timeout) const {
  absl::MutexLock sleeping(&sleeping_mu_);
  auto enough = [this, count]()
                    ABSL_SHARED_LOCKS_REQUIRED(sleeping_mu_) { return SleepersLocked() >= count; };
  return sleeping_mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

std::optional<absl::Time> FakeClock::NextWakeup() const {
  absl::MutexLock sleeping(&sleeping_mu_);
  absl::Time now = Now();
  std::optional<absl::Time> next;
  for (const Sleep* s : sleeping_) {
    if (s->woken || s->deadline <= now || s->deadline == absl::InfiniteFuture()) continue;
    if (!next || s->deadline < *next) next = s->deadline;
  }
  return next;
}

}  // namespace hb
