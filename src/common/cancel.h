// CancelToken: a shared "stop now" flag for anything that blocks: a Kubernetes watch, a
// sleep on a Clock (Clock::SleepUntil), a component's Run() loop.
//
// Copies share one state: the owner keeps a copy, hands another to the blocking call, and
// calls Cancel() from any thread to make it return promptly. A token cannot be reset; use a
// fresh one for the next call. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/synchronization/mutex.h"

namespace hb {

class CancelToken {
 public:
  // A new, uncancelled token.
  CancelToken();

  // Cancels the token and runs the registered callbacks on this thread. Idempotent.
  void Cancel() const;
  bool IsCancelled() const;
  // Blocks until the token is cancelled. (Timed waits go through a Clock:
  // Clock::SleepUntil(deadline, token).)
  void WaitForCancel() const;
  // Blocks until `condition` holds or the token is cancelled; returns whether it holds.
  // `condition` is evaluated with `mu` held, and whoever makes it true changes its state
  // under `mu`. Call without holding `mu`.
  bool AwaitUnlessCancelled(absl::Mutex& mu, const std::function<bool()>& condition) const;

  // A callback registered with OnCancel(); destroying it unregisters the callback and, if
  // the callback is running on another thread, waits for it to finish.
  class Registration {
   public:
    Registration() = default;
    Registration(Registration&& other) noexcept;
    Registration& operator=(Registration&& other) noexcept;
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration();

   private:
    friend class CancelToken;
    struct State;
    Registration(std::shared_ptr<State> state, int64_t id) : state_(std::move(state)), id_(id) {}
    void Reset();
    std::shared_ptr<State> state_;
    int64_t id_ = 0;
  };

  // Runs `fn` once when the token is cancelled: on the cancelling thread, or right here
  // when it already is. `fn` must not block for long.
  Registration OnCancel(std::function<void()> fn) const;

 private:
  std::shared_ptr<Registration::State> state_;
};

}  // namespace hb
