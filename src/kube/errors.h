// Errors of the Kubernetes client as absl::Status, and the predicates callers branch on.
//
// Mapping (HTTP status and Kubernetes Status `reason` → absl code):
//   400 BadRequest, 422 Invalid            kInvalidArgument
//   401 Unauthorized                       kUnauthenticated
//   403 Forbidden                          kPermissionDenied
//   404 NotFound                           kNotFound            IsNotFound()
//   405, 406, 415 (not supported here)     kUnimplemented
//   409 reason AlreadyExists               kAlreadyExists       IsAlreadyExists()
//   409 any other reason (Conflict)        kAborted             IsConflict()
//   410 Gone / Expired                     kOutOfRange          IsGone()  → re-list
//   429 TooManyRequests                    kResourceExhausted   IsRetryable()
//   500 InternalError                      kInternal            IsRetryable()
//   502, 503 and other 5xx                 kUnavailable         IsRetryable()
//   504 / Timeout                          kDeadlineExceeded    IsRetryable()
//   no answer (refused, reset, TLS)        kUnavailable         IsRetryable()
//   no answer within the request timeout   kDeadlineExceeded    IsRetryable()
//   the caller cancelled                   kCancelled
// A watch ERROR event carrying a Status is mapped the same way by its `code`.
//
// Every status made from an API server answer carries a payload under kApiErrorPayloadUrl:
// the JSON {"code": <HTTP status>, "reason": "...", "retryAfterSeconds": <n>} (read it with
// GetApiError()). The predicates look at the absl code only, so a fake client can produce
// equivalent errors with MakeApiError(). Messages name the request ("GET /api/v1/...") and
// carry the server's message; they never contain credentials.
//
// absl has IsNotFound() and IsAlreadyExists() too (with the same meaning under this
// mapping); argument-dependent lookup finds both, so call these qualified:
// kube::IsNotFound(status).
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace hb::kube {

inline constexpr absl::string_view kApiErrorPayloadUrl = "heartbeat-operator/kube-api-error";

// What the API server said, as far as error handling cares.
struct ApiError {
  int http_code = 0;   // HTTP status of the answer
  std::string reason;  // Kubernetes Status reason: NotFound, AlreadyExists, Conflict, Expired, ...
  std::string message;
  absl::Duration retry_after = absl::ZeroDuration();  // from Retry-After or details
};

// The absl code for an HTTP status and Kubernetes reason (table above).
absl::StatusCode CodeForHttp(int http_code, absl::string_view reason);

// A status with CodeForHttp(), `error.message` and the payload.
absl::Status MakeApiError(const ApiError& error);
// The payload of a status made by MakeApiError(), if any.
std::optional<ApiError> GetApiError(const absl::Status& status);

// A status for a non-2xx answer to `what` (e.g. "GET /api/v1/namespaces/x/pods/y"), from its
// body (a Kubernetes Status object when the server sent one) and Retry-After header.
absl::Status StatusFromHttp(absl::string_view what, int http_code, absl::string_view body,
                            absl::string_view retry_after_header);
// A status from a Kubernetes Status object (e.g. the object of a watch ERROR event).
absl::Status StatusFromKubeStatus(absl::string_view what, const nlohmann::json& status);

bool IsNotFound(const absl::Status& status);
bool IsAlreadyExists(const absl::Status& status);
// A write carried a stale metadata.resourceVersion: re-read and retry.
bool IsConflict(const absl::Status& status);
// The resourceVersion is too old (410): the caller must re-list.
bool IsGone(const absl::Status& status);
bool IsInvalid(const absl::Status& status);
bool IsUnauthorized(const absl::Status& status);
bool IsForbidden(const absl::Status& status);
// Worth retrying the same request later (throttling, server errors, no connection).
bool IsRetryable(const absl::Status& status);
// How long the server asked the client to wait before retrying (Retry-After or the
// Status details), at most kMaxRetryAfter; zero when it did not say.
inline constexpr absl::Duration kMaxRetryAfter = absl::Seconds(60);
absl::Duration RetryAfter(const absl::Status& status);

}  // namespace hb::kube
