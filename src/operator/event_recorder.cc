#include "operator/event_recorder.h"

#include "capability/capability_status.h"
#include "common/log.h"

namespace hb::op {

EventRecorder::EventRecorder(kube::KubeClient& client, Clock& clock, std::string instance)
    : client_(client), clock_(clock), instance_(std::move(instance)) {}

void EventRecorder::Record(const kube::ObjectReference& object, bool warning,
                           const std::string& reason, const std::string& message) {
  std::string ns = object.namespace_.empty() ? "default" : object.namespace_;
  const std::string& name = object.name;
  std::string now = capability::KubeTime(clock_.WallNow());
  nlohmann::json involved = {
      {"apiVersion", object.api_version}, {"kind", object.kind}, {"name", name}, {"namespace", ns}};
  if (!object.uid.empty()) involved["uid"] = object.uid;
  nlohmann::json event = {{"apiVersion", "v1"},
                          {"kind", "Event"},
                          {"metadata", {{"generateName", name + "."}, {"namespace", ns}}},
                          {"involvedObject", involved},
                          {"reason", reason},
                          {"message", message},
                          {"type", warning ? "Warning" : "Normal"},
                          {"source", {{"component", "heartbeat-operator"}, {"host", instance_}}},
                          {"reportingComponent", "heartbeat-operator"},
                          {"reportingInstance", instance_},
                          {"firstTimestamp", now},
                          {"lastTimestamp", now},
                          {"count", 1}};
  auto created = client_.Create(kube::ResourceRef{"", "v1", "events", ns}, event);
  if (!created.ok()) {
    LogDebug(
        "could not record an event",
        {{"object", ns + "/" + name}, {"reason", reason}, {"error", created.status().message()}});
  }
}

}  // namespace hb::op
