// FakeProber: a Prober whose answers the test gives, on virtual time.
//
// Probes are recorded; with an automatic answer set (Answer()), each probe is answered at
// once from Probe() with that result (after `delay` of virtual time, via Complete()).
// Otherwise probes wait until the test calls Complete(). Thread-safe.
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "check/prober.h"

namespace hb::check {

class FakeProber final : public Prober {
 public:
  void Probe(const CheckSpec& spec, ProbeDone done) override {
    std::optional<ProbeResult> answer;
    {
      absl::MutexLock lock(&mu_);
      probes_.push_back(spec.Target());
      if (auto it = answers_.find(spec.Target()); it != answers_.end()) {
        answer = it->second;
      } else {
        waiting_.emplace_back(spec.Target(), std::move(done));
        return;
      }
    }
    done(*answer);
  }
  // Every later probe of `target` answers `result` at once.
  void Answer(const std::string& target, ProbeResult result) {
    absl::MutexLock lock(&mu_);
    answers_[target] = std::move(result);
  }
  void Pass(const std::string& target) {
    Answer(target, ProbeResult{true, "", absl::Milliseconds(2), ""});
  }
  void Fail(const std::string& target, std::string reason = "HTTP 503") {
    Answer(target, ProbeResult{false, std::move(reason), absl::Milliseconds(3), ""});
  }
  // Answers the oldest waiting probe; false when none waits.
  bool Complete(ProbeResult result) {
    std::pair<std::string, ProbeDone> p;
    {
      absl::MutexLock lock(&mu_);
      if (waiting_.empty()) return false;
      p = std::move(waiting_.front());
      waiting_.pop_front();
    }
    p.second(std::move(result));
    return true;
  }
  int Waiting() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(waiting_.size());
  }
  std::vector<std::string> Probes() {
    absl::MutexLock lock(&mu_);
    return probes_;
  }
  int ProbesOf(const std::string& target) {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(std::count(probes_.begin(), probes_.end(), target));
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> probes_;
  std::map<std::string, ProbeResult> answers_;
  std::deque<std::pair<std::string, ProbeDone>> waiting_;
};

}  // namespace hb::check
