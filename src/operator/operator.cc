#include "operator/operator.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "capability/configmap_source.h"
#include "capability/declaration.h"
#include "common/log.h"

namespace hb::op {
namespace {

const kube::ResourceRef kCapabilities{"chora.dev", "v1alpha1", "capabilities", ""};
const kube::ResourceRef kConfigMaps{"", "v1", "configmaps", ""};

// What no consumer of the caches reads and a real API server sends with every object:
// server-side apply's managedFields and kubectl's last-applied copy of the whole object.
nlohmann::json WithoutBookkeeping(nlohmann::json object) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return object;
  metadata->erase("managedFields");
  auto annotations = metadata->find("annotations");
  if (annotations != metadata->end() && annotations->is_object()) {
    annotations->erase("kubectl.kubernetes.io/last-applied-configuration");
  }
  return object;
}

// What the Capability cache keeps: metadata (a deletion's object is read for its labels and
// key). The index holds what the reconciler reads, so spec and status are not kept twice.
nlohmann::json MetadataOnly(const nlohmann::json& object) {
  auto metadata = object.find("metadata");
  if (metadata == object.end()) return nlohmann::json::object();
  return {{"metadata", *metadata}};
}

}  // namespace

Operator::Operator(kube::KubeClient& kube, heartbeat::HeartbeatEngine& engine, Clock& clock,
                   OperatorOptions options)
    : kube_(kube), engine_(engine), clock_(clock), options_(std::move(options)) {
  informer::WorkQueueOptions queue_options;
  queue_options.name = "capability";
  queue_ = std::make_unique<informer::WorkQueue>(clock_, queue_options);
  events_ = std::make_unique<EventRecorder>(kube_, clock_, options_.instance);
  reconciler_ = std::make_unique<CapabilityReconciler>(kube_, engine_, index_, *events_, clock_,
                                                       options_.reconciler);

  std::vector<std::string> namespaces = options_.watch_namespaces;
  if (namespaces.empty()) namespaces.push_back("");
  for (const std::string& ns : namespaces) {
    informer::InformerOptions o;
    o.ref = kCapabilities.InNamespace(ns);
    o.name = ns.empty() ? "capabilities" : absl::StrCat("capabilities in ", ns);
    o.transform = WithoutBookkeeping;
    o.cache_transform = MetadataOnly;
    capability_informers_.push_back(std::make_unique<informer::Informer>(kube_, clock_, o));
    capability_informers_.back()->AddHandler(
        [this](const informer::InformerEvent& e) { OnCapability(e); });
  }
  auto add_configmap_informer = [&](informer::InformerOptions o) {
    o.transform = WithoutBookkeeping;
    size_t watch = configmap_informers_.size();
    configmap_informers_.push_back(std::make_unique<informer::Informer>(kube_, clock_, o));
    configmap_informers_.back()->AddHandler(
        [this, watch](const informer::InformerEvent& e) { OnConfigMap(watch, e); });
  };
  if (!options_.configmap_selector.empty()) {
    for (const std::string& ns : namespaces) {
      informer::InformerOptions o;
      o.ref = kConfigMaps.InNamespace(ns);
      o.label_selector = options_.configmap_selector;
      o.name = absl::StrCat("configmaps ", options_.configmap_selector);
      add_configmap_informer(o);
    }
  }
  for (const std::string& named : options_.configmaps) {
    size_t slash = named.find('/');
    informer::InformerOptions o;
    o.ref = kConfigMaps.InNamespace(named.substr(0, slash));
    o.field_selector = absl::StrCat("metadata.name=", named.substr(slash + 1));
    o.name = absl::StrCat("configmap ", named);
    add_configmap_informer(o);
  }
  engine_.AddChangeHook([this](const std::string& id) { queue_->Add(id); });
}

Operator::~Operator() { Stop(); }

void Operator::Start(bool lead) {
  if (lead) Lead();
  for (auto* group : {&capability_informers_, &configmap_informers_}) {
    for (auto& informer : *group) {
      informer::Informer* raw = informer.get();
      threads_.emplace_back([raw, cancel = cancel_] { raw->Run(cancel); });
    }
  }
  threads_.emplace_back([this] {
    for (auto* group : {&capability_informers_, &configmap_informers_}) {
      for (auto& informer : *group) {
        if (!informer->WaitForSync(cancel_)) return;  // cancelled
      }
    }
    synced_.store(true);
    LogInfo("Caches synced", {{"identifiers", static_cast<int64_t>(index_.Identifiers().size())}});
    if (!WaitForLeadership()) return;
    LogInfo("Reconciling", {{"workers", options_.workers}});
    for (const std::string& id : index_.Identifiers()) queue_->Add(id);
    std::vector<std::thread> workers;
    for (int i = 0; i < options_.workers; ++i) workers.emplace_back([this] { Work(); });
    for (auto& worker : workers) worker.join();
  });
}

bool Operator::WaitForLeadership() {
  return cancel_.AwaitUnlessCancelled(mu_, [this] { return leading_.load(); });
}

void Operator::Lead() {
  absl::MutexLock lock(&mu_);  // wakes WaitForLeadership()
  leading_.store(true);
}

void Operator::Stop() {
  if (cancel_.IsCancelled()) return;
  cancel_.Cancel();
  queue_->ShutDown();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

void Operator::Work() {
  while (auto id = queue_->Get()) {
    stats_.active_workers.fetch_add(1);
    absl::Time started = clock_.Now();
    ReconcileResult result = ReconcileSafely(*id);
    stats_.duration.Record(clock_.Now() - started);
    stats_.active_workers.fetch_sub(1);
    if (!result.status.ok()) {
      stats_.error.fetch_add(1);
      LogWarning("Reconcile failed; retrying with backoff",
                 {{"id", *id},
                  {"attempt", queue_->NumRequeues(*id) + 1},
                  {"error", result.status.message()}});
      queue_->AddRateLimited(*id);
    } else {
      queue_->Forget(*id);
      (result.requeue_after > absl::ZeroDuration() ? stats_.requeue_after : stats_.success)
          .fetch_add(1);
      if (result.requeue_after > absl::ZeroDuration()) queue_->AddAfter(*id, result.requeue_after);
    }
    queue_->Done(*id);
  }
}

ReconcileResult Operator::ReconcileSafely(const std::string& identifier) {
  try {
    return reconciler_->Reconcile(identifier);
  } catch (const std::exception& e) {
    return ReconcileResult{
        absl::InternalError(absl::StrCat("reconcile failed with an exception: ", e.what())),
        absl::ZeroDuration()};
  } catch (...) {
    return ReconcileResult{absl::InternalError("reconcile failed with an unknown exception"),
                           absl::ZeroDuration()};
  }
}

void Operator::ResyncAll() {
  std::vector<std::string> identifiers = index_.Identifiers();
  // Heartbeats first (no API request each), then the full reconciles with their status writes.
  for (const std::string& id : identifiers) reconciler_->StartHeartbeat(id);
  Enqueue(identifiers);
}

void Operator::Enqueue(const std::vector<std::string>& identifiers) {
  for (const std::string& id : identifiers) queue_->Add(id);
}

void Operator::OnCapability(const informer::InformerEvent& event) {
  bool deleted = event.type == informer::InformerEvent::kDeleted;
  const nlohmann::json& object = deleted ? event.old_object : event.object;
  if (capability::IsMirror(object)) {
    Enqueue(index_.SetMirror(
        event.key, deleted ? std::nullopt
                           : std::optional<capability::Mirror>(capability::FromMirror(object))));
    return;
  }
  if (deleted) {
    Enqueue(index_.SetResource(event.key, std::nullopt));
  } else {
    Enqueue(index_.SetResource(event.key, capability::FromCapability(object)));
  }
}

void Operator::OnConfigMap(size_t watch, const informer::InformerEvent& event) {
  nlohmann::json current;  // what declares now; null: no informer has it any more
  {
    absl::MutexLock lock(&mu_);
    auto& views = configmap_views_[event.key];
    if (event.type == informer::InformerEvent::kDeleted) {
      views.erase(watch);
      if (!views.empty()) current = views.begin()->second;  // still watched by name or label
    } else {
      views[watch] = event.object;
      current = event.object;
    }
    if (views.empty()) configmap_views_.erase(event.key);
  }
  if (current.is_null()) {
    Enqueue(index_.SetConfigMap(event.key, {}));
    absl::MutexLock lock(&mu_);
    reported_errors_.erase(event.key);
    return;
  }
  capability::ConfigMapCapabilities parsed = capability::FromConfigMap(current, options_.defaults);
  bool report = false;
  {
    absl::MutexLock lock(&mu_);
    auto& previous = reported_errors_[event.key];
    report = previous != parsed.errors;
    previous = parsed.errors;
  }
  if (report) {
    for (const std::string& error : parsed.errors) {
      LogError(absl::StrCat("Skipping ", error));
    }
    if (!parsed.errors.empty()) {
      events_->Record(kube::ReferenceOf(current), /*warning=*/true, "InvalidManifest",
                      absl::StrJoin(parsed.errors, "; "));
    }
  }
  Enqueue(index_.SetConfigMap(event.key, std::move(parsed.declarations)));
}

}  // namespace hb::op
