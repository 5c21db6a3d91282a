// Small file helpers shared by the configuration loaders and the token source.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hb::kube {

// The whole file; NotFound / PermissionDenied / FailedPrecondition with a message naming
// `what` and the path (never the contents).
absl::StatusOr<std::string> ReadFileToString(const std::string& path, absl::string_view what);
// `path` if absolute, else joined to `base_dir`; "" stays "".
std::string ResolvePath(absl::string_view base_dir, absl::string_view path);
// The directory part of `path` ("." when there is none).
std::string DirName(absl::string_view path);

}  // namespace hb::kube
