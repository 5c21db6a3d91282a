// HttpTransport: blocking HTTP(S) requests to one API server over cpprestsdk, which stays
// hidden behind this class.
//
// Send() shares one connection pool (keep-alive connections are reused); Stream() opens a
// connection of its own for a long-running response (a watch) and hands its body on piece
// by piece as it arrives. Thread-safe. Failures without an HTTP answer are statuses:
// kUnavailable (connection refused or lost, TLS failure), kDeadlineExceeded (timeout),
// kCancelled. Any HTTP answer, 4xx and 5xx included, is an HttpResponse.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/cancel.h"
#include "kube/config.h"

namespace hb::kube {

struct HttpRequest {
  std::string method;        // "GET", "POST", ...
  std::string target;        // path and query, percent-encoded: "/api/v1/pods?limit=5"
  std::string content_type;  // sent with `body` when not empty
  std::string body;
  std::string authorization;  // the Authorization header value, or ""; secret
};

struct HttpResponse {
  int status = 0;
  std::string body;         // Stream(): only for non-2xx answers
  std::string retry_after;  // the Retry-After header
};

struct TransportOptions {
  std::string user_agent;
  // Connection and inactivity limit of Send()'s pool (each Send() also has a deadline).
  absl::Duration timeout = absl::Seconds(30);
};

class HttpTransport {
 public:
  // Checks the server URL and TLS material up front, so that a bad kubeconfig fails here
  // with a clear message rather than on every request.
  static absl::StatusOr<std::unique_ptr<HttpTransport>> Create(const KubeConfig& config,
                                                               TransportOptions options);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Sends a request and reads the whole answer, giving up after `deadline` has passed.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, absl::Duration deadline);

  // Receives the body of a 2xx answer piece by piece (each piece is whatever has arrived,
  // not a line); returning non-OK from `on_data` aborts the request with that status.
  // Ends with the response (status only) when the server finished the body, kCancelled
  // when `cancel` fires, kDeadlineExceeded when nothing arrived for `idle_timeout`. For a
  // non-2xx answer `on_data` is not called and the response carries the body.
  using DataHandler = std::function<absl::Status(absl::string_view data)>;
  absl::StatusOr<HttpResponse> Stream(const HttpRequest& request, absl::Duration idle_timeout,
                                      const CancelToken& cancel, const DataHandler& on_data);

 private:
  struct Impl;
  explicit HttpTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "?k1=v1&k2=v2" with keys and values percent-encoded; pairs with an empty value are left
// out; "" when nothing remains.
std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace hb::kube
