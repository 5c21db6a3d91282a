// HeartbeatEngine: keeps one etcd lease and one health key alive per capability.
//
// Per capability it grants a lease (TTL) (or, in LeaseMode::kShared, uses one of a few
// leases shared by the capabilities of that TTL), puts the health value (health_value.h) on its
// health key (health_key.h) attached to that lease, and renews the lease over the
// client's single multiplexed keep-alive stream every TTL/3. In
// `kEveryBeat` mode the value is rewritten every interval (heartbeat_count and timestamp
// advance); in `kOnChange` mode only when it changes or every `refresh` period, liveness
// then resting on keep-alives alone.
//
// A lease is lost when a keep-alive answers TTL <= 0, a put answers "lease not found",
// or no keep-alive answer arrives before the lease's local deadline (last answered
// keep-alive's send time + TTL). A lost lease is re-granted and the key re-put at once.
// With adoption on, a health key found at start whose lease is still alive is kept: its
// lease is renewed instead of replaced, so a restart does not make keys flap, and the key is
// rewritten at once (it still carries the former writer's value and time).
//
// Load shaping: first puts happen right after the grant, but each capability's beat and
// keep-alive phase is then placed at random within its interval, and renewals carry
// +/- `jitter`, so thousands of capabilities never fire together. Puts, grants and
// revokes in flight are capped (`max_in_flight`); puts due together are written in one
// etcd transaction of up to `max_batch` puts; "too many requests" is back-pressure
// (retried later, not a failure). Keep-alives are never held back by puts, so leases
// survive even when etcd cannot take every put; being late is measured and logged. When
// keep-alive answers slow down (`keepalive_congestion`), routine puts pause until they
// recover.
//
// Time: everything runs on the injected Clock: scheduling, deadlines and lease expiry on
// its monotonic Now(), so a step of the system clock neither stops renewals nor declares
// leases lost; only the values written (timestamp, last heartbeat) use WallNow(). The
// engine does work only inside RunDue(), which a driver calls at the time it returns
// (EngineRunner in production; tests on a FakeClock). etcd callbacks only update state and
// call the wake hook.
//
// Thread-safety: all public methods are thread-safe; the etcd client is never called with
// the engine's lock held.
// Lifetime: the engine registers itself as the client's keep-alive listener. It must
// outlive every callback the client may still deliver: stop driving it, destroy (or
// quiesce) the client, then destroy the engine.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "check/check_spec.h"
#include "check/check_state.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/jitter.h"
#include "etcd/etcd_client.h"
#include "heartbeat/stats.h"

namespace hb::check {
class Checker;
}

namespace hb::heartbeat {

enum class WriteMode { kEveryBeat, kOnChange };
const char* WriteModeName(WriteMode mode);

// kPerCapability: a lease per capability (a key's lease id names its capability alone).
// kShared: capabilities with the same TTL put their keys on one of `shared_leases` leases
// (chosen by a stable hash of the identifier), so that keep-alives are O(leases), not
// O(capabilities). Removal, deregistration and a kLetExpire removal then delete the key (the
// lease lives on for the others); a lost shared lease re-puts all its keys on its successor;
// a TTL change moves the key to a lease of the new TTL with one put (no gap); adoption at
// start finds the shared leases from the keys' lease ids. Process death: every key still
// expires within its TTL.
enum class LeaseMode { kPerCapability, kShared };
const char* LeaseModeName(LeaseMode mode);

struct CapabilitySpec {
  std::string identifier;
  absl::Duration interval = absl::Seconds(10);
  int64_t ttl_seconds = 30;
  std::string source;  // optional, copied into the value
  // How the service is checked (EngineOptions::checker runs it); null: nothing checks it.
  // Shared, so that a large fleet without checks carries one pointer per capability.
  std::shared_ptr<const check::CheckSpec> check;
};

struct EngineOptions {
  std::string key_prefix = "/chora/capabilities/";
  WriteMode mode = WriteMode::kEveryBeat;
  absl::Duration refresh = absl::Minutes(5);  // on-change: rewrite at least this often
  int max_in_flight = 512;                    // puts + grants + revokes awaiting an answer
  int max_batch = 128;   // puts per etcd transaction (etcd's --max-txn-ops); 1: no batching
  bool adopt = true;     // adopt live leases found at start
  double jitter = 0.05;  // renewal spread, fraction of the period
  absl::Duration keepalive_timeout = absl::Seconds(5);  // adoption probe answer deadline
  absl::Duration lag_warning = absl::Seconds(2);        // "falling behind" threshold
  // A keep-alive answered later than this fraction of its lease's TTL means etcd is
  // saturated: routine puts are held back (grants and first puts are not) until answers
  // are twice as fast again, so that renewals, not value rewrites, get etcd's remaining
  // capacity. At TTL 30 s: from 7.5 s, while the lease still has more than 20 s to live.
  double keepalive_congestion = 0.25;
  BackoffPolicy retry{absl::Milliseconds(200), absl::Seconds(5), 2.0, 0.5};
  uint64_t seed = 0;   // jitter seed; 0 picks a random one
  std::string writer;  // written into every value as "writer" when set (who wrote it)
  LeaseMode lease_mode = LeaseMode::kPerCapability;
  int shared_leases = 16;  // kShared: leases per distinct TTL
  // Removal::kHandOver: how long the lease of a handed-over capability is still renewed.
  absl::Duration hand_over_grace = absl::Seconds(60);
  // Runs each capability's CapabilitySpec::check and reports to the engine, which then
  // writes the check's verdict into the value (at once when it changes) and removes the
  // key while the check says deregistered. Null: no checks; values carry no check fields.
  // Must outlive the engine's use of it (stop the checker before destroying the engine).
  check::Checker* checker = nullptr;
};

// The operator's side of a heartbeat (the check's verdict is reported beside it):
// kDeregistered: the check failed for its deregister-after period; key and lease removed.
enum class Health { kPending, kHealthy, kFailing, kLeaseLost, kDeregistered };
const char* HealthName(Health health);

// A snapshot of one capability's heartbeat, for status reporting.
struct HeartbeatStatus {
  std::string identifier;
  std::string key;
  std::string source;  // CapabilitySpec::source
  Health health = Health::kPending;
  std::string message;  // why it is not healthy
  int64_t lease_id = 0;
  int64_t ttl_seconds = 0;
  absl::Duration interval;
  uint64_t heartbeat_count = 0;
  std::optional<absl::Time> last_heartbeat;  // last successful put (wall time)
  std::optional<absl::Time> lease_deadline;  // local estimate of the expiry (Clock::Now())
  std::optional<check::CheckReport> check;   // the check's last report (with a checker)
};

class HeartbeatEngine {
 public:
  HeartbeatEngine(etcd::EtcdClient& etcd, Clock& clock, EngineOptions options);
  ~HeartbeatEngine();
  HeartbeatEngine(const HeartbeatEngine&) = delete;
  HeartbeatEngine& operator=(const HeartbeatEngine&) = delete;

  // Called (from any thread, without engine locks held) when work became due earlier
  // than the time RunDue() last returned. Set before the first Upsert().
  void SetWakeHook(std::function<void()> wake);
  // Adds a hook called with an identifier whenever its Health, lease, message or check
  // verdict changes (hooks run in the order added, on the thread that made the change,
  // without engine locks held; they must be quick). Add them before the first Upsert().
  void AddChangeHook(std::function<void(const std::string&)> changed);

  // Adds a capability or changes one (interval, TTL, source, check). A TTL change re-grants
  // (the key moves to the new lease without disappearing); an interval change does not.
  // InvalidArgument for a bad identifier, TTL < 2 s, or interval not in [0.1 s, TTL).
  absl::Status Upsert(const CapabilitySpec& spec);
  // What Remove() does with the health key.
  enum class Removal {
    kLetExpire,  // leave the key; it vanishes when its lease expires (not renewed any more)
    kDeleteKey,  // revoke the lease and delete the key, whatever lease it is on
    // Another process takes the capability over (shards): stop writing the key at once but
    // keep renewing its lease for EngineOptions::hand_over_grace, so that the new owner
    // adopts lease and key without a gap; then forget both (no revoke, no delete). An
    // Upsert() meanwhile takes the capability back on the same lease. `done` is called once
    // no put of it is in flight any more. Per-capability leases only: for a shared-lease
    // member it fails with FailedPrecondition and the heartbeat runs on.
    kHandOver,
  };
  // Completion of a removal: OK once etcd confirmed it (kLetExpire: at once; kHandOver: once
  // no put is in flight), else why not.
  using RemovalDone = std::function<void(absl::Status)>;
  // Stops heartbeating `identifier` (when it runs) and, with kDeleteKey, removes its key
  // from etcd: the lease is revoked and the key deleted, even a key this process never
  // wrote (a former leader's). `done` (optional) is called exactly once, from this call or
  // from an etcd callback thread, without engine locks held: OK when the key is confirmed
  // gone (or was absent), the etcd error otherwise (the caller retries; the heartbeat
  // stays stopped).
  void Remove(const std::string& identifier, Removal removal, RemovalDone done = nullptr);

  // Does everything due at clock.Now(): adoption scan, grants, puts, keep-alives, lease
  // deadline checks, revokes. Returns when it next has work (InfiniteFuture: none).
  absl::Time RunDue();
  // The shortest interval among the capabilities (InfiniteDuration when there are none), for
  // a driver that batches wake-ups to keep each beat's delay a small part of its interval.
  absl::Duration ShortestInterval() const;

  // Reads the existing health keys again before granting anything new, so that leases
  // renewed by another process since start-up (a former leader) are adopted.
  void RescanExistingKeys();

  // Stops heartbeating everything; with `revoke`, revokes every lease (bounded in flight,
  // through RunDue). Upsert() is refused afterwards.
  void BeginShutdown(bool revoke);
  // True once shut down and no revoke or other call is awaiting an answer.
  bool Drained() const;

  // A check's report (the checker calls it): the value is rewritten at once when the
  // verdict changed; `deregistered` removes the key (revoking its lease) until a report
  // without it re-registers the capability.
  void SetCheck(const std::string& identifier, const check::CheckReport& report);
  // The check state found in the capability's key at start (adoption scan), for a
  // restarted process to carry on from; nullopt when none was found.
  std::optional<check::CheckSeed> CheckSeedFor(const std::string& identifier) const;

  std::optional<HeartbeatStatus> GetStatus(const std::string& identifier) const;
  std::vector<HeartbeatStatus> AllStatuses() const;
  const EngineStats& stats() const { return stats_; }
  // Starts the latency and lateness histograms afresh (benchmarks measure after warm-up).
  void ResetHistograms();
  EngineGauges Gauges() const;

 private:
  class Impl;
  check::Checker* const checker_;
  std::unique_ptr<Impl> impl_;
  EngineStats stats_;
};

}  // namespace hb::heartbeat
