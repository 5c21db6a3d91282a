// WatchAudit: what an etcd watch of the health prefix (and the leader fence key) tells
// about a fault scenario: keys deleted, lease changes, gaps between beats, and writes made
// by a process that did not hold the fence at that revision. Also the fault suite's summary
// table, printed once when the test binary ends. Not thread-safe (one test thread).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "support/etcd_server.h"

namespace hb::testing {

struct WatchAudit {
  int deletes = 0;         // DELETE events of health keys
  int lease_changes = 0;   // PUTs of a key on another lease than its previous PUT
  int puts = 0;            // PUTs of health keys
  absl::Duration max_gap;  // longest time between two beats of one key (value timestamps)
  // Health PUTs whose "writer" is not the instance holding the fence at that point of the
  // stream (or made before any fence was taken, when `fenced`).
  int foreign_writes = 0;
  std::vector<std::string> fence_holders;          // instances that took the fence, in order
  std::map<std::string, std::string> last_writer;  // per key
  std::map<std::string, absl::Time> last_beat;     // per key: value timestamp of its last PUT
  std::string first_foreign;                       // the first foreign write, for messages

  // `health_prefix` e.g. "/chora/capabilities/"; `fence_key` "" when there is none.
  static WatchAudit Of(const std::vector<EtcdServer::WatchRecord>& events,
                       const std::string& health_prefix, const std::string& fence_key);
};

// Adds a row to the summary table: scenario, keys lost (expected keys absent at the end),
// DELETE events, lease changes, longest gap between beats, foreign writes.
void RecordFaultSummary(const std::string& scenario, int keys_lost, const WatchAudit& audit);

}  // namespace hb::testing
