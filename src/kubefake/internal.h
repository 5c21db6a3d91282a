// Helpers shared by the FakeKubeClient sources: storage names and API errors worded like
// the real server's. Not part of the public interface.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kube/errors.h"
#include "kube/resource.h"

namespace hb::kubefake::internal {

// The storage an object lives in: group/version/resource.
inline std::string CollectionOf(const kube::ResourceRef& ref) {
  return absl::StrCat(ref.group, "/", ref.version, "/", ref.resource);
}

// "configmaps" or "widgets.example.dev", as the server names a resource in messages.
inline std::string Qualified(const kube::ResourceRef& ref) {
  return ref.group.empty() ? ref.resource : absl::StrCat(ref.resource, ".", ref.group);
}

inline absl::Status ApiStatus(int code, absl::string_view reason, absl::string_view message) {
  return kube::MakeApiError(
      {code, std::string(reason), std::string(message), absl::ZeroDuration()});
}

inline absl::Status BadRequest(absl::string_view message) {
  return ApiStatus(400, "BadRequest", message);
}

inline absl::Status NotFound(const kube::ResourceRef& ref, absl::string_view name) {
  return ApiStatus(404, "NotFound", absl::StrCat(Qualified(ref), " \"", name, "\" not found"));
}

inline absl::Status AlreadyExists(const kube::ResourceRef& ref, absl::string_view name) {
  return ApiStatus(409, "AlreadyExists",
                   absl::StrCat(Qualified(ref), " \"", name, "\" already exists"));
}

inline absl::Status Conflict(const kube::ResourceRef& ref, absl::string_view name,
                             absl::string_view why =
                                 "the object has been modified; please apply "
                                 "your changes to the latest version and try "
                                 "again") {
  return ApiStatus(
      409, "Conflict",
      absl::StrCat("Operation cannot be fulfilled on ", Qualified(ref), " \"", name, "\": ", why));
}

inline absl::Status Invalid(const kube::ResourceRef& ref, absl::string_view name,
                            absl::string_view detail) {
  return ApiStatus(422, "Invalid",
                   absl::StrCat(Qualified(ref), " \"", name, "\" is invalid: ", detail));
}

inline absl::Status Expired(absl::string_view message) {
  return ApiStatus(410, "Expired", message);
}

}  // namespace hb::kubefake::internal
