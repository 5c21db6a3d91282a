#include "operator/event_recorder.h"

#include "absl/strings/str_cat.h"
#include "capability/capability_status.h"
#include "common/log.h"

namespace hb::op {

EventRecorder::EventRecorder(kube::KubeClient& client, Clock& clock, std::string instance,
                             EventRecorderOptions options)
    : client_(client),
      clock_(clock),
      instance_(std::move(instance)),
      options_(options),
      global_(clock, options.qps, options.burst) {}

EventRecorder::Stats EventRecorder::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool EventRecorder::Admit(const std::string& object_key, absl::Time now) {
  auto& bucket = per_object_[object_key];
  if (!bucket) {
    double refill = 1.0 / absl::ToDoubleSeconds(options_.per_object_refill);
    bucket = std::make_unique<TokenBucket>(clock_, refill, options_.per_object_burst);
  }
  bool admitted = bucket->TryTake() && global_.TryTake();
  if (admitted) return true;
  ++stats_.dropped;
  int64_t suppressed = 0;
  if (drop_log_.Allow(now, &suppressed)) {
    LogWarning("Events dropped: over the event budget (the statuses are still written)",
               {{"object", object_key}, {"dropped_total", stats_.dropped}});
  }
  return false;
}

void EventRecorder::Forget(const std::string& key) {
  auto it = tracked_.find(key);
  if (it == tracked_.end()) return;
  order_.erase(it->second.age);
  tracked_.erase(it);
}

void EventRecorder::Record(const kube::ObjectReference& object, bool warning,
                           const std::string& reason, const std::string& message) {
  std::string ns = object.namespace_.empty() ? "default" : object.namespace_;
  const std::string& name = object.name;
  const std::string type = warning ? "Warning" : "Normal";
  const std::string object_key = absl::StrCat(object.kind, "/", ns, "/", name, "/", object.uid);
  const std::string key = absl::StrCat(object_key, "\x1f", type, "\x1f", reason, "\x1f", message);
  absl::Time now = clock_.Now();
  std::string now_text = capability::KubeTime(clock_.WallNow());
  const kube::ResourceRef events{"", "v1", "events", ns};
  std::string correlated_name;
  int64_t count = 1;
  {
    absl::MutexLock lock(&mu_);
    auto it = tracked_.find(key);
    if (it != tracked_.end() && now - it->second.last > options_.correlation_window) {
      Forget(key);
      it = tracked_.end();
    }
    if (!Admit(object_key, now)) return;
    if (it != tracked_.end()) {
      Tracked& t = it->second;
      t.last = now;
      count = ++t.count;
      correlated_name = t.event_name;
      order_.splice(order_.end(), order_, t.age);
      ++stats_.correlated;
    }
  }
  if (!correlated_name.empty()) {
    auto patched = client_.Patch(events, correlated_name, kube::PatchType::kMerge,
                                 {{"count", count}, {"lastTimestamp", now_text}}, {});
    if (patched.ok()) return;
    absl::MutexLock lock(&mu_);  // gone (expired by the server): start a new one
    Forget(key);
    --stats_.correlated;
  }
  nlohmann::json involved = {
      {"apiVersion", object.api_version}, {"kind", object.kind}, {"name", name}, {"namespace", ns}};
  if (!object.uid.empty()) involved["uid"] = object.uid;
  nlohmann::json event = {{"apiVersion", "v1"},
                          {"kind", "Event"},
                          {"metadata", {{"generateName", name + "."}, {"namespace", ns}}},
                          {"involvedObject", involved},
                          {"reason", reason},
                          {"message", message},
                          {"type", type},
                          {"source", {{"component", "heartbeat-operator"}, {"host", instance_}}},
                          {"reportingComponent", "heartbeat-operator"},
                          {"reportingInstance", instance_},
                          {"firstTimestamp", now_text},
                          {"lastTimestamp", now_text},
                          {"count", 1}};
  auto created = client_.Create(events, event);
  if (!created.ok()) {
    LogDebug(
        "could not record an event",
        {{"object", ns + "/" + name}, {"reason", reason}, {"error", created.status().message()}});
    return;
  }
  absl::MutexLock lock(&mu_);
  ++stats_.created;
  Forget(key);
  order_.push_back(key);
  tracked_[key] = Tracked{kube::ObjectName(*created), ns, 1, now, std::prev(order_.end())};
  while (tracked_.size() > options_.max_tracked && !order_.empty()) Forget(order_.front());
  if (per_object_.size() > options_.max_tracked * 4) per_object_.clear();  // bounded memory
}

}  // namespace hb::op
