#include "alert/tracker.h"

#include <algorithm>

namespace hb::alert {

TransitionTracker::TransitionTracker(TrackerPolicy policy) : policy_(policy) {}

std::optional<StormChange> TransitionTracker::Observe(const std::string& identifier,
                                                      AlertLevel level, absl::Time now) {
  auto [it, inserted] = entries_.try_emplace(identifier);
  Entry& e = it->second;
  if (inserted) {
    // Declared again after a removal that is still to be notified: carry on from it.
    if (auto gone = removed_.find(identifier); gone != removed_.end()) {
      e.notified = gone->second;
      removed_.erase(gone);
      unsettled_.erase(identifier);
    }
  }
  if (!inserted && level == e.current) return std::nullopt;
  const bool was_failing = IsFailing(e.current);
  failing_ += (IsFailing(level) ? 1 : 0) - (was_failing ? 1 : 0);
  e.current = level;
  if (e.current == e.notified || e.current == AlertLevel::kPending) {
    unsettled_.erase(identifier);
  } else if (e.notified == AlertLevel::kPending && e.current == AlertLevel::kHealthy) {
    e.notified = AlertLevel::kHealthy;  // first known level, healthy: not news
    unsettled_.erase(identifier);
  } else {
    const absl::Time due = IsFailing(level) ? now + policy_.hold : now;
    auto [u, fresh] = unsettled_.try_emplace(identifier, due);
    // A failure that only changes kind (unhealthy -> down) keeps the time it began.
    if (!fresh && !(was_failing && IsFailing(level))) u->second = due;
  }
  return UpdateStorm(now);
}

std::optional<StormChange> TransitionTracker::Remove(const std::string& identifier,
                                                     absl::Time now) {
  auto it = entries_.find(identifier);
  if (it == entries_.end()) return std::nullopt;
  if (IsFailing(it->second.current)) --failing_;
  if (IsFailing(it->second.notified)) {
    removed_[identifier] = it->second.notified;
    unsettled_[identifier] = now;
  } else {
    unsettled_.erase(identifier);
  }
  entries_.erase(it);
  return UpdateStorm(now);
}

std::vector<DueChange> TransitionTracker::TakeDue(absl::Time now) {
  std::vector<DueChange> due;
  if (storm_) return due;
  for (const auto& [id, when] : unsettled_) {
    if (when > now) continue;
    if (auto e = entries_.find(id); e != entries_.end()) {
      due.push_back({id, e->second.notified, e->second.current});
      e->second.notified = e->second.current;
    } else if (auto gone = removed_.find(id); gone != removed_.end()) {
      due.push_back({id, gone->second, AlertLevel::kRemoved});
      removed_.erase(gone);
    }
  }
  for (const DueChange& change : due) unsettled_.erase(change.identifier);
  std::sort(due.begin(), due.end(),
            [](const DueChange& a, const DueChange& b) { return a.identifier < b.identifier; });
  return due;
}

absl::Time TransitionTracker::NextDue() const {
  absl::Time next = absl::InfiniteFuture();
  if (storm_) return next;
  for (const auto& entry : unsettled_) next = std::min(next, entry.second);
  return next;
}

std::optional<StormChange> TransitionTracker::UpdateStorm(absl::Time now) {
  const double known = static_cast<double>(entries_.size());
  const double failing = static_cast<double>(failing_);
  if (!storm_ && failing_ >= policy_.min_failing && failing > policy_.share * known) {
    storm_ = true;
  } else if (storm_ && (failing_ < policy_.min_failing || failing <= 0.8 * policy_.share * known)) {
    storm_ = false;
    // What still fails as the storm ends gets one more hold: capabilities still coming back
    // from the outage (their keys being re-put) are not news. Recoveries stay due at once.
    for (auto& [id, due] : unsettled_) {
      auto e = entries_.find(id);
      if (e != entries_.end() && IsFailing(e->second.current))
        due = std::max(due, now + policy_.hold);
    }
  } else {
    return std::nullopt;
  }
  return StormChange{storm_, failing_, total(), held()};
}

}  // namespace hb::alert
