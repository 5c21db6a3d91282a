#include "check/check_state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace hb::check {
namespace {

std::string Millis(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d), " ms"); }

}  // namespace

const char* CheckStatusValue(CheckStatus status) {
  switch (status) {
    case CheckStatus::kPending:
      return "pending";
    case CheckStatus::kPassing:
      return "healthy";
    case CheckStatus::kFailing:
      return "unhealthy";
  }
  return "pending";
}

bool CheckReport::SameVerdict(const CheckReport& o) const {
  return kind == o.kind && status == o.status && reason == o.reason && flapping == o.flapping &&
         deregistered == o.deregistered && dependencies == o.dependencies;
}

CheckState::Limits CheckState::LimitsOf(const CheckSpec& s) {
  return Limits{s.kind,           s.failure_threshold, s.success_threshold,
                s.flap_threshold, s.flap_window,       s.deregister_after};
}

CheckState::CheckState(const CheckSpec& spec) : spec_(LimitsOf(spec)) {
  report_.kind = spec.kind;
  report_.since = absl::InfinitePast();
  report_.last_check = absl::InfinitePast();
  if (spec.kind == CheckKind::kNone) report_.reason = spec.none_reason;
}

void CheckState::SetSpec(const CheckSpec& spec) {
  if (spec.kind != spec_.kind) {  // another kind of check: its history says nothing
    *this = CheckState(spec);
    return;
  }
  spec_ = LimitsOf(spec);
}

void CheckState::Seed(const CheckSeed& seed, absl::Time now, absl::Time wall) {
  if (seeded_ || report_.checks > 0) return;
  seeded_ = true;
  report_.status = seed.status;
  report_.since = seed.since;
  report_.consecutive_failures = seed.consecutive_failures;
  report_.reason = seed.reason;
  report_.deregistered = seed.deregistered;
  if (seed.status == CheckStatus::kFailing) {
    absl::Duration spent = seed.since == absl::InfinitePast()
                               ? absl::ZeroDuration()
                               : std::max(absl::ZeroDuration(), wall - seed.since);
    failing_since_ = now - spent;
  }
}

const CheckReport& CheckState::Apply(const ProbeResult& r, absl::Time now, absl::Time wall) {
  CheckReport before = report_;
  report_.checks++;
  report_.last_check = wall;
  report_.last_latency = r.latency;
  report_.dependencies = r.dependencies;
  if (r.pass) {
    report_.consecutive_successes++;
    report_.consecutive_failures = 0;
    report_.last_result = absl::StrCat("pass (", Millis(r.latency), ")");
    if (report_.status != CheckStatus::kPassing &&
        report_.consecutive_successes >= spec_.success_threshold) {
      Enter(CheckStatus::kPassing, now, wall);
    }
  } else {
    report_.consecutive_failures++;
    report_.consecutive_successes = 0;
    report_.last_result = absl::StrCat("fail: ", r.reason, " (", Millis(r.latency), ")");
    // The last failure's cause is shown only while failing, so a passing value does not
    // change with every failure below the threshold.
    if (report_.status == CheckStatus::kFailing) report_.reason = r.reason;
    bool enter = report_.status == CheckStatus::kPending ||
                 (report_.status == CheckStatus::kPassing &&
                  report_.consecutive_failures >= spec_.failure_threshold);
    if (enter) {
      report_.reason = r.reason;
      Enter(CheckStatus::kFailing, now, wall);
    }
  }
  UpdateFlapping(now);
  UpdateDeregistered(now);
  report_.transition = !report_.SameVerdict(before) || report_.status != before.status;
  return report_;
}

void CheckState::Enter(CheckStatus status, absl::Time now, absl::Time wall) {
  if (report_.status != CheckStatus::kPending) {
    transitions_.push_back(now);  // leaving pending is the first verdict, not a change
  }
  report_.status = status;
  report_.since = wall;
  if (status == CheckStatus::kPassing) report_.reason.clear();
  failing_since_ = status == CheckStatus::kFailing ? now : absl::InfiniteFuture();
}

void CheckState::UpdateFlapping(absl::Time now) {
  auto kept = std::find_if(transitions_.begin(), transitions_.end(),
                           [&](absl::Time t) { return t > now - spec_.flap_window; });
  transitions_.erase(transitions_.begin(), kept);
  int changes = static_cast<int>(transitions_.size());
  if (!report_.flapping && changes > spec_.flap_threshold) report_.flapping = true;
  if (report_.flapping && changes == 0) report_.flapping = false;
}

void CheckState::UpdateDeregistered(absl::Time now) {
  bool failing = report_.status == CheckStatus::kFailing;
  report_.deregistered = failing && spec_.deregister_after > absl::ZeroDuration() &&
                         now - failing_since_ >= spec_.deregister_after;
}

}  // namespace hb::check
