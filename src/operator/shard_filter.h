// ShardFilter: which identifiers this replica owns when the work is shared across replicas
// (--shards auto). The reconciler asks it before it touches an identifier's heartbeat,
// status, Events, mirrors or finalizers; an identifier it does not own is handed over
// (the engine stops writing it and keeps its lease renewed for the new owner) and nothing
// else is done for it. Without one (null), this replica owns everything.
//
// Implementations are thread-safe. RunIfOwned() holds ownership steady while `act` runs: a
// change of the members waits for it, so an engine call made inside can never follow the
// hand-over of that identifier. `act` must be quick (an engine call, never an API call).
#pragma once

#include <string>

#include "absl/functional/function_ref.h"

namespace hb::op {

class ShardFilter {
 public:
  virtual ~ShardFilter() = default;
  // Runs `act` if this replica owns `identifier` now; returns whether it did.
  virtual bool RunIfOwned(const std::string& identifier, absl::FunctionRef<void()> act) = 0;
  // This replica's member name (status.shard).
  virtual const std::string& member() const = 0;
};

}  // namespace hb::op
