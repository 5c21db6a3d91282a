// EndpointSliceProber: serviceRef health checks answered from the cluster's own readiness.
//
// One informer per watched namespace (all namespaces when none is given) keeps the
// discovery.k8s.io/v1 EndpointSlices that carry the label kubernetes.io/service-name; a
// probe of service ns/name counts the ready endpoints of its slices (an endpoint whose
// conditions.ready is true or unset, as Kubernetes asks consumers to read it) and passes
// while at least spec.min_ready are ready. `spec.service_port` (a port name or number)
// counts only slices that expose that port. No probe traffic reaches the service: the
// kubelet's readiness probes already did the work, so 100,000 checks cost a map lookup
// each.
//
// The informers start with the first serviceRef probe, so a fleet without such checks
// lists no EndpointSlices. Probes asked before every informer has listed once wait and are answered
// when it has (a verdict from an empty cache would be a false "unhealthy"). Thread-safe; Probe()
// answers from the calling thread when synced. Stop() (or the destructor) cancels the
// informers and drops unanswered probes.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "check/prober.h"
#include "common/cancel.h"
#include "common/clock.h"
#include "informer/informer.h"
#include "kube/client.h"

namespace hb::op {

class EndpointSliceProber final : public check::Prober {
 public:
  // `page_size`: objects per list page (0: one unpaged list).
  EndpointSliceProber(kube::KubeClient& kube, Clock& clock, std::vector<std::string> namespaces,
                      int64_t page_size = 500);
  ~EndpointSliceProber() override;
  EndpointSliceProber(const EndpointSliceProber&) = delete;
  EndpointSliceProber& operator=(const EndpointSliceProber&) = delete;

  // Starts the informers (the first Probe() does too); idempotent.
  void Start();
  void Stop();
  void Probe(const check::CheckSpec& spec, check::ProbeDone done) override;

  struct Count {
    int ready = 0;
    int total = 0;
    int slices = 0;
  };
  // Endpoints of service `ns`/`name` exposing `port` ("" any), from the cache.
  Count Endpoints(const std::string& ns, const std::string& name, const std::string& port) const;

 private:
  struct Slice {
    std::string service;             // "ns/name"
    std::vector<std::string> ports;  // names and numbers
    int ready = 0;
    int total = 0;
  };
  void OnSlice(const informer::InformerEvent& event);
  check::ProbeResult Answer(const check::CheckSpec& spec) const;
  void AnswerWaiting();

  CancelToken cancel_;
  std::vector<std::unique_ptr<informer::Informer>> informers_;
  absl::Mutex start_mu_;  // serialises Start() and Stop() on threads_
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(start_mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Slice> slices_ ABSL_GUARDED_BY(mu_);  // by "ns/slice"
  // "ns/service" -> its slices' keys.
  absl::flat_hash_map<std::string, std::vector<std::string>> by_service_ ABSL_GUARDED_BY(mu_);
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::pair<check::CheckSpec, check::ProbeDone>> waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb::op
