#include "kube/errors.h"

#include <algorithm>
#include <cstdint>
#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace hb::kube {
namespace {

constexpr int kMaxMessage = 1024;  // a proxy's HTML error page must not flood the logs

std::string ReasonForHttp(int http_code) {
  switch (http_code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "";
  }
}

std::string Truncate(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.size() <= kMaxMessage) return std::string(text);
  return absl::StrCat(text.substr(0, kMaxMessage), "...");
}

std::string GetString(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t GetInt(const nlohmann::json& object, const char* key, int64_t fallback) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

absl::Duration RetryAfterFromDetails(const nlohmann::json& status) {
  auto details = status.find("details");
  if (details == status.end() || !details->is_object()) return absl::ZeroDuration();
  return absl::Seconds(GetInt(*details, "retryAfterSeconds", 0));
}

std::string Describe(absl::string_view what, const ApiError& error) {
  std::string text = absl::StrCat(what, ": ", error.http_code);
  if (!error.reason.empty()) absl::StrAppend(&text, " ", error.reason);
  if (!error.message.empty()) absl::StrAppend(&text, ": ", error.message);
  if (error.retry_after > absl::ZeroDuration()) {
    absl::StrAppend(&text, " (retry after ", absl::FormatDuration(error.retry_after), ")");
  }
  return text;
}

}  // namespace

absl::StatusCode CodeForHttp(int http_code, absl::string_view reason) {
  switch (http_code) {
    case 400:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 405:
    case 406:
    case 415:
      return absl::StatusCode::kUnimplemented;
    case 409:
      return reason == "AlreadyExists" ? absl::StatusCode::kAlreadyExists
                                       : absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kOutOfRange;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 500:
      return absl::StatusCode::kInternal;
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      break;
  }
  if (http_code > 500 && http_code < 600) return absl::StatusCode::kUnavailable;
  return absl::StatusCode::kUnknown;
}

absl::Status MakeApiError(const ApiError& error) {
  absl::Status status(CodeForHttp(error.http_code, error.reason), error.message);
  nlohmann::json payload = {{"code", error.http_code}, {"reason", error.reason}};
  if (error.retry_after > absl::ZeroDuration()) {
    payload["retryAfterSeconds"] = absl::ToInt64Seconds(error.retry_after);
  }
  status.SetPayload(kApiErrorPayloadUrl, absl::Cord(payload.dump()));
  return status;
}

std::optional<ApiError> GetApiError(const absl::Status& status) {
  auto payload = status.GetPayload(kApiErrorPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  auto json = nlohmann::json::parse(std::string(*payload), nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return std::nullopt;
  ApiError error;
  error.http_code = static_cast<int>(GetInt(json, "code", 0));
  error.reason = GetString(json, "reason");
  error.message = std::string(status.message());
  error.retry_after = absl::Seconds(GetInt(json, "retryAfterSeconds", 0));
  return error;
}

absl::Status StatusFromHttp(absl::string_view what, int http_code, absl::string_view body,
                            absl::string_view retry_after_header) {
  ApiError error;
  error.http_code = http_code;
  auto json = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (json.is_object() && GetString(json, "kind") == "Status") {
    error.reason = GetString(json, "reason");
    error.message = Truncate(GetString(json, "message"));
    error.retry_after = RetryAfterFromDetails(json);
  } else {
    error.message = Truncate(body);
  }
  if (error.reason.empty()) error.reason = ReasonForHttp(http_code);
  int64_t seconds = 0;
  if (absl::SimpleAtoi(retry_after_header, &seconds) && seconds > 0) {
    error.retry_after = absl::Seconds(seconds);
  }
  error.message = Describe(what, error);
  return MakeApiError(error);
}

absl::Status StatusFromKubeStatus(absl::string_view what, const nlohmann::json& status) {
  if (!status.is_object()) {
    return absl::InternalError(absl::StrCat(what, ": malformed error from the server"));
  }
  ApiError error;
  error.http_code = static_cast<int>(GetInt(status, "code", 500));
  error.reason = GetString(status, "reason");
  error.message = Truncate(GetString(status, "message"));
  error.retry_after = RetryAfterFromDetails(status);
  if (error.reason.empty()) error.reason = ReasonForHttp(error.http_code);
  error.message = Describe(what, error);
  return MakeApiError(error);
}

bool IsNotFound(const absl::Status& status) { return status.code() == absl::StatusCode::kNotFound; }
bool IsAlreadyExists(const absl::Status& status) {
  return status.code() == absl::StatusCode::kAlreadyExists;
}
bool IsConflict(const absl::Status& status) { return status.code() == absl::StatusCode::kAborted; }
bool IsGone(const absl::Status& status) { return status.code() == absl::StatusCode::kOutOfRange; }
bool IsInvalid(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument;
}
bool IsUnauthorized(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnauthenticated;
}
bool IsForbidden(const absl::Status& status) {
  return status.code() == absl::StatusCode::kPermissionDenied;
}

bool IsRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return true;
    case absl::StatusCode::kInternal: {
      auto error = GetApiError(status);  // a 500 answer, not a local failure
      return error.has_value() && error->http_code >= 500;
    }
    default:
      return false;
  }
}

absl::Duration RetryAfter(const absl::Status& status) {
  auto error = GetApiError(status);
  if (!error.has_value() || error->retry_after <= absl::ZeroDuration()) {
    return absl::ZeroDuration();
  }
  // A confused or hostile server must not park the client for hours.
  return std::min(error->retry_after, kMaxRetryAfter);
}

}  // namespace hb::kube
