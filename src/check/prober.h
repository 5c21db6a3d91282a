// Prober: asks one service whether it is healthy, asynchronously.
//
// Probe() starts a probe and returns at once; `done` is called exactly once with the
// result, from the prober's own thread (or from Probe() itself for probers that answer from
// memory), never with a lock of the caller's held by the prober. The prober bounds every
// probe by spec.timeout. Probes still in flight when the prober is destroyed are
// abandoned without calling `done`. Implementations are thread-safe.
#pragma once

#include <functional>

#include "check/check_spec.h"
#include "check/check_state.h"

namespace hb::check {

using ProbeDone = std::function<void(ProbeResult)>;

class Prober {
 public:
  virtual ~Prober() = default;
  virtual void Probe(const CheckSpec& spec, ProbeDone done) = 0;
};

}  // namespace hb::check
