#include "informer/work_queue.h"

#include <algorithm>
#include <utility>

namespace hb::informer {

WorkQueue::WorkQueue(Clock& clock, WorkQueueOptions options)
    : clock_(clock),
      options_(std::move(options)),
      changed_(clock),
      tokens_(options_.burst),
      tokens_at_(clock.Now()) {}

void WorkQueue::Add(const std::string& key) {
  bool added;
  {
    absl::MutexLock lock(&mu_);
    added = AddLocked(key, clock_.Now());
  }
  Report(added ? 1 : 0, std::nullopt, absl::ZeroDuration());
}

void WorkQueue::AddAfter(const std::string& key, absl::Duration delay) {
  bool added;
  {
    absl::MutexLock lock(&mu_);
    added = AddAfterLocked(key, delay, clock_.Now());
  }
  Report(added ? 1 : 0, std::nullopt, absl::ZeroDuration());
}

void WorkQueue::AddRateLimited(const std::string& key) {
  bool added;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return;
    absl::Time now = clock_.Now();
    absl::Duration delay = BackoffLocked(key);
    ++requeues_[key];
    if (options_.qps > 0) delay = std::max(delay, ReserveLocked(now));
    ++retries_;
    added = AddAfterLocked(key, delay, now);
  }
  if (options_.hooks.on_retry) options_.hooks.on_retry();
  Report(added ? 1 : 0, std::nullopt, absl::ZeroDuration());
}

void WorkQueue::Forget(const std::string& key) {
  absl::MutexLock lock(&mu_);
  requeues_.erase(key);
}

int WorkQueue::NumRequeues(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = requeues_.find(key);
  return it == requeues_.end() ? 0 : it->second;
}

absl::Duration WorkQueue::NextBackoff(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  return BackoffLocked(key);
}

std::optional<std::string> WorkQueue::Get() {
  std::optional<std::string> key;
  absl::Duration queued;
  int adds = 0;
  {
    absl::MutexLock lock(&mu_);
    while (true) {
      absl::Time now = clock_.Now();
      adds += MoveDueLocked(now);
      if (shutting_down_) break;
      if (!queue_.empty()) {
        key = PopLocked(now, &queued);
        break;
      }
      WaitLocked(delayed_.empty() ? absl::InfiniteFuture() : delayed_.begin()->first);
    }
  }
  Report(adds, key, queued);
  return key;
}

std::optional<std::string> WorkQueue::TryGet() {
  std::optional<std::string> key;
  absl::Duration queued;
  int adds = 0;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_.Now();
    adds = MoveDueLocked(now);
    if (!shutting_down_ && !queue_.empty()) key = PopLocked(now, &queued);
  }
  Report(adds, key, queued);
  return key;
}

void WorkQueue::Done(const std::string& key) {
  absl::Duration worked;
  {
    absl::MutexLock lock(&mu_);
    auto it = processing_.find(key);
    if (it == processing_.end()) return;
    worked = clock_.Now() - it->second;
    processing_.erase(it);
    if (!shutting_down_ && dirty_.count(key) > 0) queue_.push_back(key);
    NotifyLocked();  // a queued key, or one fewer in process for ShutDownWithDrain()
  }
  work_time_.Record(worked);
  if (options_.hooks.on_work_time) options_.hooks.on_work_time(worked);
}

void WorkQueue::ShutDown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  queue_.clear();
  dirty_.clear();
  delayed_.clear();
  delayed_at_.clear();
  NotifyLocked();
}

bool WorkQueue::ShutDownWithDrain(absl::Duration timeout) {
  ShutDown();
  absl::Time deadline = clock_.Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (!processing_.empty()) {
    if (clock_.Now() >= deadline) return false;
    WaitLocked(deadline);
  }
  return true;
}

bool WorkQueue::ShuttingDown() const {
  absl::MutexLock lock(&mu_);
  return shutting_down_;
}

size_t WorkQueue::Len() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

WorkQueueMetrics WorkQueue::Metrics() const {
  WorkQueueMetrics m;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_.Now();
    m.depth = static_cast<int64_t>(queue_.size());
    m.delayed = static_cast<int64_t>(delayed_.size());
    m.processing = static_cast<int64_t>(processing_.size());
    m.adds = adds_;
    m.retries = retries_;
    for (const auto& [key, since] : processing_) {
      m.unfinished_work += now - since;
      m.longest_running = std::max(m.longest_running, now - since);
    }
  }
  m.queue_time_count = queue_time_.Count();
  m.queue_time_p50 = queue_time_.Percentile(0.5);
  m.queue_time_p99 = queue_time_.Percentile(0.99);
  m.work_time_count = work_time_.Count();
  m.work_time_p50 = work_time_.Percentile(0.5);
  m.work_time_p99 = work_time_.Percentile(0.99);
  return m;
}

int WorkQueue::MoveDueLocked(absl::Time now) {
  int adds = 0;
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    std::string key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    delayed_at_.erase(key);
    if (AddLocked(key, now)) ++adds;
  }
  return adds;
}

bool WorkQueue::AddLocked(const std::string& key, absl::Time now) {
  if (shutting_down_ || dirty_.count(key) > 0) return false;
  dirty_.emplace(key, now);
  ++adds_;
  if (processing_.count(key) == 0) {
    queue_.push_back(key);
    NotifyLocked();
  }
  return true;
}

bool WorkQueue::AddAfterLocked(const std::string& key, absl::Duration delay, absl::Time now) {
  if (shutting_down_) return false;
  if (delay <= absl::ZeroDuration()) return AddLocked(key, now);
  absl::Time due = now + delay;
  auto it = delayed_at_.find(key);
  if (it != delayed_at_.end()) {
    if (due >= it->second) return false;  // the earlier time wins
    delayed_.erase({it->second, key});
    it->second = due;
  } else {
    delayed_at_.emplace(key, due);
  }
  delayed_.emplace(due, key);
  NotifyLocked();  // blocked Get() callers recompute their deadline
  return false;
}

std::string WorkQueue::PopLocked(absl::Time now, absl::Duration* queued) {
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  auto dirty = dirty_.find(key);
  *queued = dirty != dirty_.end() ? now - dirty->second : absl::ZeroDuration();
  if (dirty != dirty_.end()) dirty_.erase(dirty);
  processing_[key] = now;
  return key;
}

absl::Duration WorkQueue::BackoffLocked(const std::string& key) const {
  auto it = requeues_.find(key);
  int n = it == requeues_.end() ? 0 : it->second;
  absl::Duration delay = options_.base_delay;
  for (int i = 0; i < n && delay < options_.max_delay; ++i) delay *= 2;
  return std::min(delay, options_.max_delay);
}

absl::Duration WorkQueue::ReserveLocked(absl::Time now) {
  double elapsed = absl::ToDoubleSeconds(std::max(now - tokens_at_, absl::ZeroDuration()));
  tokens_ = std::min<double>(options_.burst, tokens_ + elapsed * options_.qps);
  tokens_at_ = now;
  tokens_ -= 1;
  if (tokens_ >= 0) return absl::ZeroDuration();
  return absl::Seconds(-tokens_ / options_.qps);
}

void WorkQueue::WaitLocked(absl::Time deadline) {
  ++waiting_;
  changed_.WaitReleasing(mu_, deadline);
  --waiting_;
}

void WorkQueue::NotifyLocked() {
  if (waiting_ > 0) changed_.NotifyAll();
}

void WorkQueue::Report(int adds, const std::optional<std::string>& key, absl::Duration queued) {
  if (options_.hooks.on_add) {
    for (int i = 0; i < adds; ++i) options_.hooks.on_add();
  }
  if (!key.has_value()) return;
  queue_time_.Record(queued);
  if (options_.hooks.on_queue_time) options_.hooks.on_queue_time(queued);
}

}  // namespace hb::informer
