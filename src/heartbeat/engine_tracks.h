// The two state machines of one capability in the HeartbeatEngine (internal to
// src/heartbeat): the lease track (does it hold an etcd lease, and what does keeping it
// need next?) and the put track (when is the health value written next?). Each track is
// in one explicit state and says when it next needs attention (Due()); the engine's due
// time for a capability is the earliest of its tracks'. A later track (health checks) joins
// the same way.
//
// Plain data; the engine mutates them under its lock.
#pragma once

#include <algorithm>
#include <cstdint>

#include "absl/time/time.h"

namespace hb::heartbeat {

// A request that needs one of the engine's in-flight slots (grants and puts) is either
// waiting for its time, queued for a slot, or awaiting etcd's answer.
enum class Request {
  kIdle,      // nothing asked of etcd; the track's own times say when to ask
  kQueued,    // waiting for a free in-flight slot (the engine's FIFO queues)
  kInFlight,  // sent; only etcd's answer moves the track on
};

//              grant answered                       TTL changed
//   kGranting ----------------> kHeld  <----------> kRegranting (keeps renewing the
//     |    ^                    |  ^   new lease     current lease while a new one is
//     |    |   lost (TTL 0,     |  |   answered      granted; the key then moves to it)
//     |    |   no answer, put   |  |
//     |    +--- refused) -------+  |
//     v          TTL > 0           |
//   kProbing ----------------------+   (adoption: a live lease found in etcd is renewed
//     | no answer / TTL 0               instead of replaced)
//     +--> kGranting
struct LeaseTrack {
  enum class State { kGranting, kProbing, kHeld, kRegranting };

  State state = State::kGranting;
  // kGranting, kRegranting: the grant request; no new grant before `retry_at`.
  Request grant = Request::kIdle;
  absl::Time retry_at = absl::InfinitePast();
  absl::Time queued_at;    // grant == kQueued: since when (for the lag gauge)
  int grant_failures = 0;  // consecutive, for the retry backoff (EngineOptions::retry)

  int64_t id = 0;  // kProbing: the lease probed; kHeld, kRegranting: the lease held
  int64_t granted_ttl = 0;
  int64_t stale = 0;  // the lease a TTL change left behind, revoked after the next put
  absl::Time probe_deadline = absl::InfiniteFuture();  // kProbing
  // kHeld, kRegranting: local estimate of the lease's expiry (last answered keep-alive's
  // send time + TTL) and the next renewal.
  absl::Time deadline = absl::InfinitePast();
  absl::Time next_keepalive = absl::InfiniteFuture();
  // The oldest unanswered keep-alive's send time; InfinitePast when none awaits an answer.
  absl::Time keepalive_sent = absl::InfinitePast();

  bool Holding() const { return state == State::kHeld || state == State::kRegranting; }
  bool AwaitingKeepAlive() const { return keepalive_sent != absl::InfinitePast(); }
  // A grant may be sent (at retry_at or later).
  bool GrantReady() const {
    return (state == State::kGranting || state == State::kRegranting) && grant == Request::kIdle;
  }

  // When the track next needs attention; InfiniteFuture when only an answer (or the
  // adoption scan, for kGranting) can move it.
  absl::Time Due() const {
    switch (state) {
      case State::kGranting:
        return grant == Request::kIdle ? retry_at : absl::InfiniteFuture();
      case State::kProbing:
        return probe_deadline;
      case State::kHeld:
        return std::min(next_keepalive, deadline);
      case State::kRegranting:
        return std::min({next_keepalive, deadline,
                         grant == Request::kIdle ? retry_at : absl::InfiniteFuture()});
    }
    return absl::InfiniteFuture();
  }
};

// The health value's writes, active while the lease track holds a lease: a routine put
// every period (the interval, or the refresh period in on-change mode) and an extra put
// owed after a grant, a failed put or a change of the value.
struct PutTrack {
  Request request = Request::kIdle;
  absl::Time next_routine = absl::InfiniteFuture();
  bool owed = false;
  absl::Time owed_not_before = absl::InfinitePast();  // a failed put retries with backoff
  absl::Time queued_at;                               // request == kQueued: scheduled time
  int failures = 0;  // consecutive failed puts (back-pressure excluded)
  int retries = 0;   // consecutive unsuccessful puts, for the retry backoff

  absl::Time Due() const {
    if (request != Request::kIdle) return absl::InfiniteFuture();
    return owed ? std::min(next_routine, owed_not_before) : next_routine;
  }
};

}  // namespace hb::heartbeat
