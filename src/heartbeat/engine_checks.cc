// HeartbeatEngine::Impl: health check reports (the value's verdict, deregistration) and
// the check states found in existing keys.
#include "absl/strings/str_cat.h"
#include "heartbeat/engine_impl.h"
#include "heartbeat/health_value.h"

namespace hb::heartbeat {
namespace {

std::optional<check::CheckStatus> ParseCheckStatus(const std::string& status) {
  if (status == "healthy") return check::CheckStatus::kPassing;
  if (status == "unhealthy") return check::CheckStatus::kFailing;
  return std::nullopt;
}

}  // namespace

void HeartbeatEngine::Impl::SetCheck(const std::string& id, const check::CheckReport& report) {
  Effects fx;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    Entry& e = *slots_[it->second];
    bool verdict = !e.check || !e.check->SameVerdict(report);
    if (!e.check) e.check = std::make_unique<check::CheckReport>();
    *e.check = report;
    if (report.checks > 0) seeds_.erase(id);
    if (!verdict) return;
    absl::Time now = clock_.Now();
    fx.changed.push_back(id);
    if (report.deregistered && !e.withdrawn) {
      Withdraw(e, fx);
    } else if (!report.deregistered && e.withdrawn) {
      Restore(e, now, fx);
    } else if (e.lease.Holding()) {
      // The verdict is written at once, in every write mode.
      e.put.owed = true;
      e.put.owed_not_before = absl::InfinitePast();
      Schedule(e, now);
      fx.wake = true;
    }
  }
  Apply(fx);
}

void HeartbeatEngine::Impl::ExpectCheck(Entry& e) {
  if (options_.checker == nullptr) return;
  check::CheckKind kind = e.spec.check ? e.spec.check->kind : check::CheckKind::kNone;
  if (e.check && e.check->kind == kind) return;
  check::CheckReport pending;  // until the checker's first report: nothing is known yet
  pending.kind = kind;
  pending.since = absl::InfinitePast();
  pending.last_check = absl::InfinitePast();
  if (pending.kind == check::CheckKind::kNone && e.spec.check) {
    pending.reason = e.spec.check->none_reason;
  }
  e.check = std::make_unique<check::CheckReport>(std::move(pending));
}

void HeartbeatEngine::Impl::Withdraw(Entry& e, Effects& fx) {
  LogLimited(LogLevel::kWarning, "Check failing past its deregister-after period; removing the key",
             {{"id", e.spec.identifier}, {"lease", LeaseIdHex(e.lease.id)}});
  e.withdrawn = true;
  if (e.role == Role::kMember) {
    // The shared lease lives on for the others: the key is deleted (again after a put in
    // flight), and the member stays attached to its lease for when it comes back.
    DeleteMemberKey(e, 0);
    DropPrevious(e);
  } else if (e.lease.id != 0 && e.lease.state != LeaseTrack::State::kGranting) {
    QueueRevoke(e.lease.id);  // etcd deletes the key with its lease
    by_lease_.erase(e.lease.id);
  }
  if (e.lease.stale != 0) QueueRevoke(e.lease.stale);
  e.lease.stale = 0;
  e.lease.id = 0;
  e.lease.keepalive_sent = absl::InfinitePast();
  SetLeaseState(e, LeaseTrack::State::kGranting);  // a grant in flight is revoked on answer
  e.put.owed = false;
  if (e.put.request == Request::kQueued) e.put.request = Request::kIdle;
  SetHealth(e, Health::kDeregistered,
            absl::StrCat("check failing for longer than its deregister-after period; the key is "
                         "removed until the check passes again"),
            fx);
  Schedule(e, absl::InfiniteFuture());
  fx.wake = true;
}

void HeartbeatEngine::Impl::Restore(Entry& e, absl::Time now, Effects& fx) {
  LogLimited(LogLevel::kInfo, "Check passing again; registering the key",
             {{"id", e.spec.identifier}});
  e.withdrawn = false;
  e.lease.retry_at = now;  // a member holds its shared lease again (EvaluateMember)
  e.put.owed = true;
  e.put.owed_not_before = absl::InfinitePast();
  SetHealth(e, Health::kPending, "check passing again; granting a lease", fx);
  Schedule(e, now);
  fx.wake = true;
}

void HeartbeatEngine::Impl::RenderCheckFields(const Entry& e, HealthValue& value) const {
  const check::CheckReport* r = e.check.get();
  if (r == nullptr) return;  // no checker
  value.check = check::CheckKindName(r->kind);
  if (r->kind == check::CheckKind::kNone) {
    value.status = "healthy";
    value.reason = r->reason;
    return;
  }
  auto seed = seeds_.find(e.spec.identifier);
  if (r->checks == 0 && seed != seeds_.end()) {  // carry on from the key found at start
    value.status = check::CheckStatusValue(seed->second.status);
    value.since = seed->second.since;
    value.reason = seed->second.reason;
    value.consecutive_failures = seed->second.consecutive_failures;
    return;
  }
  value.status = check::CheckStatusValue(r->status);
  value.reason = r->reason;
  value.since = r->since;
  value.consecutive_failures = r->consecutive_failures;
  if (r->checks > 0) value.latency = r->last_latency;
  value.dependencies = r->dependencies;
  value.flapping = r->flapping;
}

std::optional<check::CheckSeed> HeartbeatEngine::Impl::CheckSeedFor(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = seeds_.find(id);
  if (it == seeds_.end()) return std::nullopt;
  return it->second;
}

void HeartbeatEngine::Impl::NoteCheckSeed(const std::string& id, const HealthValue& value) {
  if (value.check.empty() || value.check == "none") return;
  std::optional<check::CheckStatus> status = ParseCheckStatus(value.status);
  if (!status) return;
  check::CheckSeed seed;
  seed.status = *status;
  seed.since = value.since;
  seed.consecutive_failures = value.consecutive_failures;
  seed.reason = value.reason;
  seeds_[id] = seed;
}

}  // namespace hb::heartbeat
