#include "kube/token_source.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "kube/files.h"

namespace hb::kube {

TokenSource::TokenSource(std::string token, std::string token_file, const Clock& clock,
                         absl::Duration refresh_interval)
    : file_(std::move(token_file)),
      clock_(clock),
      refresh_interval_(refresh_interval),
      token_(std::move(token)) {}

absl::StatusOr<std::string> TokenSource::Token() {
  absl::MutexLock lock(&mu_);
  if (!file_.empty() && clock_.Now() - read_at_ >= refresh_interval_) ReadLocked();
  if (!file_.empty() && !have_file_token_ && token_.empty()) {
    return absl::UnauthenticatedError(last_error_);
  }
  return token_;
}

bool TokenSource::Refresh() {
  if (file_.empty()) return false;
  absl::MutexLock lock(&mu_);
  std::string before = token_;
  return ReadLocked() && token_ != before;
}

bool TokenSource::ReadLocked() {
  read_at_ = clock_.Now();  // also after a failure: retry at the next interval, not per request
  auto contents = ReadFileToString(file_, "bearer token file");
  if (!contents.ok()) {
    last_error_ = std::string(contents.status().message());
    LogWarning("Cannot read the Kubernetes bearer token file; keeping the previous token",
               {{"path", file_}, {"error", last_error_}});
    return false;
  }
  std::string token(absl::StripAsciiWhitespace(*contents));
  if (token.empty()) {
    last_error_ = absl::StrCat("bearer token file ", file_, " is empty");
    LogWarning("The Kubernetes bearer token file is empty; keeping the previous token",
               {{"path", file_}});
    return false;
  }
  token_ = std::move(token);
  have_file_token_ = true;
  return true;
}

}  // namespace hb::kube
