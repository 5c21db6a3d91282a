// TokenSource: the bearer token sent with every request.
//
// Either a fixed token, or a token file (service-account tokens are rotated by the kubelet)
// that is re-read when the cached copy is older than the refresh interval and, through
// Refresh(), after the server answered 401. A failed re-read keeps the last good token.
// Thread-safe. The token is never logged.
#pragma once

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace hb::kube {

class TokenSource {
 public:
  // `clock` must outlive the source. With a `token_file`, `token` is only a fallback for
  // when the file was never readable.
  TokenSource(std::string token, std::string token_file, const Clock& clock,
              absl::Duration refresh_interval = absl::Minutes(1));

  // The token to send ("" for none); an error only when the file was never readable.
  absl::StatusOr<std::string> Token();
  // Re-reads the token file now; true when the token changed.
  bool Refresh();
  bool has_file() const { return !file_.empty(); }

 private:
  // Reads the file into token_; false (and a warning) when that fails.
  bool ReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const std::string file_;
  const Clock& clock_;
  const absl::Duration refresh_interval_;

  absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  bool have_file_token_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time read_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string last_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb::kube
