#include "operator/endpoint_slices.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace hb::op {
namespace {

const kube::ResourceRef kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices", ""};
constexpr char kServiceLabel[] = "kubernetes.io/service-name";

const nlohmann::json& Child(const nlohmann::json& o, const char* name) {
  static const nlohmann::json* const kNull = new nlohmann::json();
  if (!o.is_object()) return *kNull;
  auto it = o.find(name);
  return it == o.end() ? *kNull : *it;
}

std::string String(const nlohmann::json& o, const char* name) {
  const nlohmann::json& f = Child(o, name);
  return f.is_string() ? f.get<std::string>() : "";
}

// What a probe reads of a slice: its identity, service label, port names and numbers, and
// each endpoint's ready condition (addresses, topology and the rest are dropped).
nlohmann::json Slim(nlohmann::json slice) {
  const nlohmann::json& metadata = Child(slice, "metadata");
  nlohmann::json out = {
      {"metadata",
       {{"name", String(metadata, "name")},
        {"namespace", String(metadata, "namespace")},
        {"resourceVersion", String(metadata, "resourceVersion")},
        {"labels", {{kServiceLabel, String(Child(metadata, "labels"), kServiceLabel)}}}}}};
  nlohmann::json ports = nlohmann::json::array();
  for (const nlohmann::json& port : Child(slice, "ports")) {
    if (!port.is_object()) continue;
    nlohmann::json p = nlohmann::json::object();
    if (port.contains("name")) p["name"] = port["name"];
    if (port.contains("port")) p["port"] = port["port"];
    ports.push_back(std::move(p));
  }
  nlohmann::json endpoints = nlohmann::json::array();
  for (const nlohmann::json& endpoint : Child(slice, "endpoints")) {
    if (!endpoint.is_object()) continue;
    const nlohmann::json& ready = Child(Child(endpoint, "conditions"), "ready");
    endpoints.push_back({{"conditions", ready.is_boolean() ? nlohmann::json{{"ready", ready}}
                                                           : nlohmann::json::object()}});
  }
  out["ports"] = std::move(ports);
  out["endpoints"] = std::move(endpoints);
  return out;
}

}  // namespace

EndpointSliceProber::EndpointSliceProber(kube::KubeClient& kube, Clock& clock,
                                         std::vector<std::string> namespaces, int64_t page_size) {
  if (namespaces.empty()) namespaces.push_back("");
  for (const std::string& ns : namespaces) {
    informer::InformerOptions o;
    o.ref = kEndpointSlices.InNamespace(ns);
    o.label_selector = kServiceLabel;
    o.page_size = page_size;
    o.transform = Slim;
    o.name = ns.empty() ? "endpointslices" : absl::StrCat("endpointslices in ", ns);
    informers_.push_back(std::make_unique<informer::Informer>(kube, clock, o));
    informers_.back()->AddHandler([this](const informer::InformerEvent& e) { OnSlice(e); });
  }
}

EndpointSliceProber::~EndpointSliceProber() { Stop(); }

void EndpointSliceProber::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_ || stopped_) return;
    started_ = true;
  }
  absl::MutexLock threads_lock(&start_mu_);
  for (auto& informer : informers_) {
    informer::Informer* raw = informer.get();
    threads_.emplace_back([raw, cancel = cancel_] { raw->Run(cancel); });
  }
  threads_.emplace_back([this] {
    for (auto& informer : informers_) {
      if (!informer->WaitForSync(cancel_)) return;
    }
    int64_t services = 0;
    {
      absl::MutexLock lock(&mu_);
      synced_ = true;
      services = static_cast<int64_t>(by_service_.size());
    }
    LogInfo("EndpointSlices listed; serviceRef checks answer", {{"services", services}});
    AnswerWaiting();
  });
}

void EndpointSliceProber::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    waiting_.clear();
  }
  cancel_.Cancel();
  absl::MutexLock lock(&start_mu_);
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void EndpointSliceProber::OnSlice(const informer::InformerEvent& event) {
  const nlohmann::json& labels = Child(Child(event.object, "metadata"), "labels");
  std::string ns = String(Child(event.object, "metadata"), "namespace");
  Slice slice;
  slice.service = absl::StrCat(ns, "/", String(labels, kServiceLabel));
  for (const nlohmann::json& port : Child(event.object, "ports")) {
    if (!port.is_object()) continue;
    if (!String(port, "name").empty()) slice.ports.push_back(String(port, "name"));
    if (Child(port, "port").is_number_integer()) {
      slice.ports.push_back(std::to_string(Child(port, "port").get<int64_t>()));
    }
  }
  for (const nlohmann::json& endpoint : Child(event.object, "endpoints")) {
    if (!endpoint.is_object()) continue;
    const nlohmann::json& ready = Child(Child(endpoint, "conditions"), "ready");
    slice.total++;
    if (!ready.is_boolean() || ready.get<bool>()) slice.ready++;  // unset reads as ready
  }
  absl::MutexLock lock(&mu_);
  auto old = slices_.find(event.key);
  if (old != slices_.end()) {
    auto& keys = by_service_[old->second.service];
    keys.erase(std::remove(keys.begin(), keys.end(), event.key), keys.end());
    if (keys.empty()) by_service_.erase(old->second.service);
    slices_.erase(old);
  }
  if (event.type == informer::InformerEvent::kDeleted) return;
  by_service_[slice.service].push_back(event.key);
  slices_[event.key] = std::move(slice);
}

EndpointSliceProber::Count EndpointSliceProber::Endpoints(const std::string& ns,
                                                          const std::string& name,
                                                          const std::string& port) const {
  absl::MutexLock lock(&mu_);
  Count c;
  auto it = by_service_.find(absl::StrCat(ns, "/", name));
  if (it == by_service_.end()) return c;
  for (const std::string& key : it->second) {
    const Slice& s = slices_.at(key);
    if (!port.empty() && std::find(s.ports.begin(), s.ports.end(), port) == s.ports.end()) {
      continue;
    }
    c.slices++;
    c.ready += s.ready;
    c.total += s.total;
  }
  return c;
}

check::ProbeResult EndpointSliceProber::Answer(const check::CheckSpec& spec) const {
  Count c = Endpoints(spec.service_namespace, spec.service_name, spec.service_port);
  check::ProbeResult r;
  r.latency = absl::ZeroDuration();
  r.pass = c.ready >= spec.min_ready;
  if (r.pass) return r;
  if (c.slices == 0) {
    r.reason = absl::StrCat("no EndpointSlices for service ", spec.service_namespace, "/",
                            spec.service_name,
                            spec.service_port.empty() ? "" : " with port " + spec.service_port);
  } else {
    r.reason =
        absl::StrCat(c.ready, " of ", c.total, " endpoints ready (need ", spec.min_ready, ")");
  }
  return r;
}

void EndpointSliceProber::Probe(const check::CheckSpec& spec, check::ProbeDone done) {
  Start();  // the first serviceRef check starts the informers
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    if (!synced_) {
      waiting_.emplace_back(spec, std::move(done));
      return;
    }
  }
  done(Answer(spec));
}

void EndpointSliceProber::AnswerWaiting() {
  std::vector<std::pair<check::CheckSpec, check::ProbeDone>> waiting;
  {
    absl::MutexLock lock(&mu_);
    waiting.swap(waiting_);
  }
  for (auto& [spec, done] : waiting) done(Answer(spec));
}

}  // namespace hb::op
