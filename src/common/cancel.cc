#include "common/cancel.h"

#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace hb {

struct CancelToken::Registration::State {
  absl::Mutex mu;
  bool cancelled ABSL_GUARDED_BY(mu) = false;
  int64_t next_id ABSL_GUARDED_BY(mu) = 1;
  std::map<int64_t, std::function<void()>> callbacks ABSL_GUARDED_BY(mu);
  // The callbacks are being run by Cancel() on this thread.
  bool running ABSL_GUARDED_BY(mu) = false;
  std::thread::id runner ABSL_GUARDED_BY(mu);
};

CancelToken::CancelToken() : state_(std::make_shared<Registration::State>()) {}

void CancelToken::Cancel() const {
  std::map<int64_t, std::function<void()>> callbacks;
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->cancelled) return;
    state_->cancelled = true;
    callbacks.swap(state_->callbacks);
    state_->running = true;
    state_->runner = std::this_thread::get_id();
  }
  for (auto& [id, fn] : callbacks) fn();
  absl::MutexLock lock(&state_->mu);
  state_->running = false;
}

bool CancelToken::IsCancelled() const {
  absl::MutexLock lock(&state_->mu);
  return state_->cancelled;
}

void CancelToken::WaitForCancel() const {
  absl::MutexLock lock(&state_->mu);
  state_->mu.Await(absl::Condition(&state_->cancelled));
}

bool CancelToken::AwaitUnlessCancelled(absl::Mutex& mu,
                                       const std::function<bool()>& condition) const {
  bool cancelled = false;
  // Registered before `mu` is taken: the callback takes it (so the waiter re-checks).
  Registration wake = OnCancel([&mu, &cancelled] {
    absl::MutexLock lock(&mu);
    cancelled = true;
  });
  absl::MutexLock lock(&mu);
  auto done = [&] { return cancelled || condition(); };
  mu.Await(absl::Condition(&done));
  return condition();
}

CancelToken::Registration CancelToken::OnCancel(std::function<void()> fn) const {
  {
    absl::MutexLock lock(&state_->mu);
    if (!state_->cancelled) {
      int64_t id = state_->next_id++;
      state_->callbacks.emplace(id, std::move(fn));
      return Registration(state_, id);
    }
  }
  fn();
  return Registration();
}

CancelToken::Registration::Registration(Registration&& other) noexcept
    : state_(std::move(other.state_)), id_(other.id_) {
  other.state_ = nullptr;
}

CancelToken::Registration& CancelToken::Registration::operator=(Registration&& other) noexcept {
  if (this != &other) {
    Reset();
    state_ = std::move(other.state_);
    id_ = other.id_;
    other.state_ = nullptr;
  }
  return *this;
}

CancelToken::Registration::~Registration() { Reset(); }

void CancelToken::Registration::Reset() {
  if (state_ == nullptr) return;
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  s.callbacks.erase(id_);
  if (s.running && s.runner != std::this_thread::get_id()) {
    s.mu.Await(absl::Condition(
        +[](State* st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(st->mu) { return !st->running; }, &s));
  }
  state_ = nullptr;
}

}  // namespace hb
