#include "informer/object_cache.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace hb::informer {

const char* InformerEventTypeName(InformerEvent::Type type) {
  switch (type) {
    case InformerEvent::kAdded:
      return "Added";
    case InformerEvent::kUpdated:
      return "Updated";
    case InformerEvent::kDeleted:
      return "Deleted";
  }
  return "Unknown";
}

std::string ObjectKey(const nlohmann::json& object) {
  std::string ns = kube::ObjectNamespace(object);
  std::string name = kube::ObjectName(object);
  return ns.empty() ? name : absl::StrCat(ns, "/", name);
}

nlohmann::json ObjectCache::Kept(const nlohmann::json& object) const {
  return keep_ ? keep_(object) : object;
}

std::vector<InformerEvent> ObjectCache::Replace(std::vector<nlohmann::json> items) {
  std::map<std::string, nlohmann::json> fresh;
  for (auto& item : items) {
    std::string key = ObjectKey(item);
    fresh[key] = std::move(item);
  }
  std::vector<InformerEvent> events;
  std::vector<InformerEvent> deletions;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, object] : fresh) {
    auto old = objects_.find(key);
    if (old == objects_.end()) {
      events.push_back({InformerEvent::kAdded, key, object, nullptr});
    } else if (kube::ObjectResourceVersion(old->second) != kube::ObjectResourceVersion(object)) {
      events.push_back({InformerEvent::kUpdated, key, object, old->second});
    }
  }
  for (auto& [key, object] : objects_) {
    if (fresh.count(key) == 0) {
      deletions.push_back({InformerEvent::kDeleted, key, object, object});
    }
  }
  if (keep_) {
    for (auto& [key, object] : fresh) object = keep_(object);
  }
  objects_ = std::move(fresh);
  for (auto& deletion : deletions) events.push_back(std::move(deletion));
  return events;
}

std::optional<InformerEvent> ObjectCache::Apply(kube::WatchEventType type, nlohmann::json object) {
  if (type == kube::WatchEventType::kBookmark) return std::nullopt;
  std::string key = ObjectKey(object);
  absl::MutexLock lock(&mu_);
  auto old = objects_.find(key);
  if (type == kube::WatchEventType::kDeleted) {
    if (old == objects_.end()) return std::nullopt;
    InformerEvent event{InformerEvent::kDeleted, key, std::move(object), std::move(old->second)};
    objects_.erase(old);
    return event;
  }
  if (old == objects_.end()) {
    objects_[key] = Kept(object);
    return InformerEvent{InformerEvent::kAdded, key, std::move(object), nullptr};
  }
  if (kube::ObjectResourceVersion(old->second) == kube::ObjectResourceVersion(object)) {
    return std::nullopt;
  }
  nlohmann::json kept = Kept(object);
  InformerEvent event{InformerEvent::kUpdated, key, std::move(object), std::move(old->second)};
  old->second = std::move(kept);
  return event;
}

std::optional<nlohmann::json> ObjectCache::Get(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

std::vector<nlohmann::json> ObjectCache::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<nlohmann::json> out;
  out.reserve(objects_.size());
  for (const auto& [key, object] : objects_) out.push_back(object);
  return out;
}

size_t ObjectCache::size() const {
  absl::MutexLock lock(&mu_);
  return objects_.size();
}

}  // namespace hb::informer
