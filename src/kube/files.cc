#include "kube/files.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace hb::kube {

absl::StatusOr<std::string> ReadFileToString(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string message = absl::StrCat("cannot read ", what, " ", path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::FailedPreconditionError(message);
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad())
    return absl::FailedPreconditionError(absl::StrCat("error reading ", what, " ", path));
  return contents.str();
}

std::string ResolvePath(absl::string_view base_dir, absl::string_view path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return std::string(path);
  if (base_dir.back() == '/') return absl::StrCat(base_dir, path);
  return absl::StrCat(base_dir, "/", path);
}

std::string DirName(absl::string_view path) {
  auto slash = path.rfind('/');
  if (slash == absl::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

}  // namespace hb::kube
