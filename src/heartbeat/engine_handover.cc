// HeartbeatEngine::Impl: Removal::kHandOver, a capability passed to another process that
// adopts its lease and key (all under mu_).
#include "heartbeat/engine_impl.h"

namespace hb::heartbeat {

using State = LeaseTrack::State;

void HeartbeatEngine::Impl::StartHandOver(Entry& e, absl::Time now, RemovalDone done, Effects& fx) {
  if (e.handing_over) {  // again: the first grace stands, both completions are reported
    if (!done) return;
    if (e.hand_over_done) {
      RemovalDone first = std::move(e.hand_over_done);
      e.hand_over_done = [first = std::move(first), done = std::move(done)](absl::Status s) {
        if (first) first(s);
        if (done) done(s);
      };
    } else {
      e.hand_over_done = std::move(done);
    }
    MaybeFinishHandOver(e, fx);
    return;
  }
  e.handing_over = true;
  e.handed_over_until = now + options_.hand_over_grace;
  e.hand_over_done = std::move(done);
  e.put.owed = false;
  if (e.put.request == Request::kQueued) e.put.request = Request::kIdle;  // its item goes stale
  LogDebug("Capability handed over; its lease is renewed until the new owner adopts it",
           {{"id", e.spec.identifier}, {"lease", LeaseIdHex(e.lease.id)}});
  fx.changed.push_back(e.spec.identifier);
  MaybeFinishHandOver(e, fx);
  Schedule(e, now);
}

void HeartbeatEngine::Impl::MaybeFinishHandOver(Entry& e, Effects& fx) {
  if (!e.handing_over || e.put.request == Request::kInFlight || !e.hand_over_done) return;
  fx.removed.emplace_back(std::move(e.hand_over_done), absl::OkStatus());
  e.hand_over_done = nullptr;
}

void HeartbeatEngine::Impl::EvaluateHandOver(Entry& e, absl::Time now, Effects& fx) {
  bool held = e.lease.state == State::kHeld && now < e.lease.deadline;
  if ((now >= e.handed_over_until || !held) && e.put.request != Request::kInFlight) {
    if (e.hand_over_done) fx.removed.emplace_back(std::move(e.hand_over_done), absl::OkStatus());
    EraseEntry(e, /*revoke=*/false, 0, fx);  // `e` is gone; the new owner renews the lease
    return;
  }
  if (held && now >= e.lease.next_keepalive) SendKeepAlive(e, now, fx);
  // Not NextDue(): with a put in flight on a lapsed lease that would be "now" again and again.
  absl::Time next = e.handed_over_until;
  if (held) next = std::min({next, e.lease.next_keepalive, e.lease.deadline});
  Schedule(e, std::max(next, now));
}

void HeartbeatEngine::Impl::TakeBack(Entry& e, absl::Time now, Effects& fx) {
  e.handing_over = false;
  e.handed_over_until = absl::InfiniteFuture();
  if (e.hand_over_done) fx.removed.emplace_back(std::move(e.hand_over_done), absl::OkStatus());
  e.hand_over_done = nullptr;
  e.put.owed = true;  // the value is this process's again at once
  e.put.owed_not_before = absl::InfinitePast();
  if (e.put.next_routine < now) e.put.next_routine = now + e.spec.interval;
  LogDebug("Capability taken back", {{"id", e.spec.identifier}});
  fx.changed.push_back(e.spec.identifier);
}

}  // namespace hb::heartbeat
