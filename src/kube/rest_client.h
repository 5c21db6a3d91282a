// RestKubeClient: KubeClient over the API server's REST interface (JSON over HTTP/1.1 and
// TLS, via cpprestsdk), built from a KubeConfig.
//
//  - TLS: the kubeconfig's CA is the only trust anchor; client certificate and key come
//    from memory; insecure_skip_tls_verify turns verification off. http:// is accepted for
//    tests.
//  - Authentication: "Authorization: Bearer" with the fixed token, or the token file re-read
//    every token_refresh_interval and after a 401 (the request is then retried once when the
//    file held a new token).
//  - Non-watch calls share a pool of keep-alive connections and each has a deadline of
//    request_timeout; every watch has a connection of its own.
//  - Every request carries User-Agent "heartbeat-operator/<version>"; writes carry
//    fieldManager=<field_manager>.
//  - Client-side rate limit: with qps > 0 every request but a watch takes a
//    token of one bucket (qps, burst) and waits for it on the clock, as client-go does, so
//    a burst of status writes cannot flood the API server; waits over 1 s are logged
//    (rate-limited) and counted in RateLimitStats().
// Thread-safe: one client serves all worker threads.
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/log_limiter.h"
#include "common/token_bucket.h"
#include "kube/client.h"
#include "kube/config.h"

namespace hb::kube {

class HttpTransport;
class TokenSource;
struct HttpRequest;
struct HttpResponse;

// "heartbeat-operator/<version>".
std::string DefaultUserAgent();

struct RestClientOptions {
  std::string user_agent = DefaultUserAgent();
  absl::Duration request_timeout = absl::Seconds(30);  // every call except Watch
  std::string field_manager = "heartbeat-operator";    // for writes; "" sends none
  Clock* clock = nullptr;  // token refresh and rate limit; null: RealClock
  absl::Duration token_refresh_interval = absl::Minutes(1);
  double qps = 0;  // requests per second on average; 0: unlimited
  int burst = 1;   // requests at once above the average
};

class RestKubeClient final : public KubeClient {
 public:
  // Fails (InvalidArgument) on a bad server URL or unusable TLS material; does not contact
  // the server.
  static absl::StatusOr<std::unique_ptr<RestKubeClient>> FromConfig(const KubeConfig& config,
                                                                    RestClientOptions options = {});
  ~RestKubeClient() override;

  absl::StatusOr<nlohmann::json> Get(const ResourceRef& ref, absl::string_view name) override;
  absl::StatusOr<ListResult> List(const ResourceRef& ref, const ListOptions& options) override;
  absl::StatusOr<nlohmann::json> Create(const ResourceRef& ref,
                                        const nlohmann::json& object) override;
  absl::StatusOr<nlohmann::json> Update(const ResourceRef& ref,
                                        const nlohmann::json& object) override;
  absl::StatusOr<nlohmann::json> UpdateStatus(const ResourceRef& ref,
                                              const nlohmann::json& object) override;
  absl::StatusOr<nlohmann::json> Patch(const ResourceRef& ref, absl::string_view name,
                                       PatchType type, const nlohmann::json& patch,
                                       const PatchOptions& options) override;
  absl::Status Delete(const ResourceRef& ref, absl::string_view name,
                      const DeleteOptions& options) override;
  absl::Status Watch(const ResourceRef& ref, const WatchOptions& options,
                     const WatchHandler& handler, const CancelToken& cancel) override;

  // GET of any path (e.g. "/version"), for diagnostics.
  absl::StatusOr<nlohmann::json> GetPath(const std::string& path);

  // The rate limiter's counters (requests, how many waited and how long in all).
  TokenBucket::Stats RateLimitStats() const { return bucket_->stats(); }

 private:
  RestKubeClient(RestClientOptions options, std::unique_ptr<HttpTransport> transport,
                 std::unique_ptr<TokenSource> tokens);

  // Takes a token for one request, waiting on the clock when the budget is spent.
  void Throttle(const HttpRequest& request);

  // Sends with the current token; after a 401, re-reads the token file and retries once.
  absl::StatusOr<HttpResponse> SendAuthorized(HttpRequest request);
  // A request whose 2xx answer is a JSON object.
  absl::StatusOr<nlohmann::json> Call(const std::string& method, const std::string& target,
                                      const std::string& content_type, const std::string& body);
  absl::StatusOr<nlohmann::json> Put(const ResourceRef& ref, const nlohmann::json& object,
                                     absl::string_view subresource);
  std::string WriteQuery(absl::string_view field_manager) const;

  // Constant after construction.
  const RestClientOptions options_;
  const std::unique_ptr<HttpTransport> transport_;
  const std::unique_ptr<TokenSource> tokens_;
  Clock& clock_;
  const std::unique_ptr<TokenBucket> bucket_;
  absl::Mutex throttle_mu_;
  LogLimiter throttle_log_ ABSL_GUARDED_BY(throttle_mu_){1, absl::Minutes(1)};
};

}  // namespace hb::kube
