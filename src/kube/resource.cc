#include "kube/resource.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace hb::kube {
namespace {

// RFC 3986 pchar without the percent sign; everything else is percent-encoded.
bool IsPathChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("-._~!$&'()*+,;=:@").find(c) != absl::string_view::npos;
}

absl::StatusOr<std::string> Segment(absl::string_view what, absl::string_view value) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat("empty ", what));
  if (value == "." || value == ".." || value.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid ", what, " \"", value, "\""));
  }
  std::string out;
  for (char c : value) {
    if (IsPathChar(c)) {
      out.push_back(c);
    } else {
      unsigned char u = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back("0123456789ABCDEF"[u >> 4]);
      out.push_back("0123456789ABCDEF"[u & 0xF]);
    }
  }
  return out;
}

std::string MetadataField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  auto it = metadata->find(key);
  return it != metadata->end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::string ResourceRef::ApiVersion() const {
  return group.empty() ? version : absl::StrCat(group, "/", version);
}

ResourceRef ResourceRef::InNamespace(absl::string_view ns) const {
  ResourceRef copy = *this;
  copy.namespace_ = std::string(ns);
  return copy;
}

bool operator==(const ResourceRef& a, const ResourceRef& b) {
  return a.group == b.group && a.version == b.version && a.resource == b.resource &&
         a.namespace_ == b.namespace_;
}

absl::StatusOr<std::string> ResourcePath(const ResourceRef& ref, absl::string_view name,
                                         absl::string_view subresource) {
  std::string path;
  if (ref.group.empty()) {
    path = "/api";
  } else {
    auto group = Segment("API group", ref.group);
    if (!group.ok()) return group.status();
    path = absl::StrCat("/apis/", *group);
  }
  auto version = Segment("API version", ref.version);
  if (!version.ok()) return version.status();
  absl::StrAppend(&path, "/", *version);
  if (!ref.namespace_.empty()) {
    auto ns = Segment("namespace", ref.namespace_);
    if (!ns.ok()) return ns.status();
    absl::StrAppend(&path, "/namespaces/", *ns);
  }
  auto resource = Segment("resource", ref.resource);
  if (!resource.ok()) return resource.status();
  absl::StrAppend(&path, "/", *resource);
  if (!name.empty()) {
    auto object = Segment("object name", name);
    if (!object.ok()) return object.status();
    absl::StrAppend(&path, "/", *object);
  }
  if (!subresource.empty()) {
    if (name.empty()) return absl::InvalidArgumentError("a subresource needs an object name");
    auto sub = Segment("subresource", subresource);
    if (!sub.ok()) return sub.status();
    absl::StrAppend(&path, "/", *sub);
  }
  return path;
}

std::string ObjectName(const nlohmann::json& object) { return MetadataField(object, "name"); }
std::string ObjectNamespace(const nlohmann::json& object) {
  return MetadataField(object, "namespace");
}
std::string ObjectResourceVersion(const nlohmann::json& object) {
  return MetadataField(object, "resourceVersion");
}

ObjectReference ReferenceOf(const nlohmann::json& object) {
  auto top = [&](const char* field) -> std::string {
    if (!object.is_object()) return "";
    auto it = object.find(field);
    return it != object.end() && it->is_string() ? it->get<std::string>() : "";
  };
  return ObjectReference{top("apiVersion"), top("kind"), ObjectNamespace(object),
                         ObjectName(object), MetadataField(object, "uid")};
}

nlohmann::json MergePatchFor(const nlohmann::json& from, const nlohmann::json& to) {
  if (!to.is_object() || !from.is_object()) return to;
  nlohmann::json patch = nlohmann::json::object();
  for (auto it = from.begin(); it != from.end(); ++it) {
    if (!to.contains(it.key())) patch[it.key()] = nullptr;
  }
  for (auto it = to.begin(); it != to.end(); ++it) {
    auto old = from.find(it.key());
    if (old == from.end()) {
      patch[it.key()] = *it;
    } else if (*old != *it) {
      patch[it.key()] = old->is_object() && it->is_object() ? MergePatchFor(*old, *it) : *it;
    }
  }
  return patch;
}

}  // namespace hb::kube
