// EventRecorder: Kubernetes Events (core/v1) about Capabilities and ConfigMaps, so that
// `kubectl describe` and `kubectl get events` show what happened and why.
//
// Best effort: a failed write is logged at debug level and dropped (events must never
// block reconciling). Thread-safe.
#pragma once

#include <string>

#include "common/clock.h"
#include "kube/client.h"

namespace hb::op {

class EventRecorder {
 public:
  EventRecorder(kube::KubeClient& client, Clock& clock, std::string instance);

  // `warning` selects type Warning instead of Normal.
  void Record(const kube::ObjectReference& object, bool warning, const std::string& reason,
              const std::string& message);

 private:
  kube::KubeClient& client_;
  Clock& clock_;
  const std::string instance_;
};

}  // namespace hb::op
