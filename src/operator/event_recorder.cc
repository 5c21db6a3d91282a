#include "operator/event_recorder.h"

#include "capability/capability_status.h"
#include "common/log.h"

namespace hb::op {

EventRecorder::EventRecorder(kube::KubeClient& client, Clock& clock, std::string instance)
    : client_(client), clock_(clock), instance_(std::move(instance)) {}

void EventRecorder::Record(const nlohmann::json& object, bool warning, const std::string& reason,
                           const std::string& message) {
  const nlohmann::json& metadata = object.value("metadata", nlohmann::json::object());
  std::string ns = metadata.value("namespace", "default");
  std::string name = metadata.value("name", "");
  std::string now = capability::KubeTime(clock_.Now());
  nlohmann::json involved = {{"apiVersion", object.value("apiVersion", "")},
                             {"kind", object.value("kind", "")},
                             {"name", name},
                             {"namespace", ns}};
  if (metadata.contains("uid")) involved["uid"] = metadata["uid"];
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
