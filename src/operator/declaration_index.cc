#include "operator/declaration_index.h"

#include <algorithm>

namespace hb::op {
namespace {

using capability::Declaration;

// Removes from `entry` the declarations of one source.
void RemoveFrom(IndexEntry& entry, Declaration::Kind kind, const std::string& key) {
  auto& ds = entry.declarations;
  ds.erase(std::remove_if(ds.begin(), ds.end(),
                          [&](const Declaration& d) {
                            if (d.kind != kind) return false;
                            std::string own = d.ns.empty() ? d.name : d.ns + "/" + d.name;
                            return own == key;
                          }),
           ds.end());
}

std::vector<std::string> Union(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::set<std::string> all = a;
  all.insert(b.begin(), b.end());
  return {all.begin(), all.end()};
}

}  // namespace

void DeclarationIndex::Drop(const std::string& identifier) {
  auto it = by_identifier_.find(identifier);
  if (it != by_identifier_.end() && it->second.declarations.empty() && it->second.mirrors.empty()) {
    by_identifier_.erase(it);
  }
}

std::vector<std::string> DeclarationIndex::SetResource(const std::string& object_key,
                                                       std::optional<Declaration> declaration) {
  absl::MutexLock lock(&mu_);
  std::set<std::string> before = resources_[object_key];
  for (const std::string& id : before) {
    RemoveFrom(by_identifier_[id], Declaration::Kind::kResource, object_key);
    Drop(id);
  }
  std::set<std::string> after;
  if (declaration) {
    after.insert(declaration->identifier);
    by_identifier_[declaration->identifier].declarations.push_back(*std::move(declaration));
  }
  if (after.empty()) {
    resources_.erase(object_key);
  } else {
    resources_[object_key] = after;
  }
  return Union(before, after);
}

std::vector<std::string> DeclarationIndex::SetConfigMap(const std::string& configmap_key,
                                                        std::vector<Declaration> declarations) {
  absl::MutexLock lock(&mu_);
  std::set<std::string> before = configmaps_[configmap_key];
  for (const std::string& id : before) {
    RemoveFrom(by_identifier_[id], Declaration::Kind::kConfigMap, configmap_key);
    Drop(id);
  }
  std::set<std::string> after;
  for (Declaration& d : declarations) {
    after.insert(d.identifier);
    by_identifier_[d.identifier].declarations.push_back(std::move(d));
  }
  if (after.empty()) {
    configmaps_.erase(configmap_key);
  } else {
    configmaps_[configmap_key] = after;
  }
  return Union(before, after);
}

std::vector<std::string> DeclarationIndex::SetMirror(const std::string& object_key,
                                                     std::optional<capability::Mirror> mirror) {
  absl::MutexLock lock(&mu_);
  std::set<std::string> affected;
  if (auto it = mirrors_.find(object_key); it != mirrors_.end()) {
    affected.insert(it->second);
    by_identifier_[it->second].mirrors.erase(object_key);
    Drop(it->second);
    mirrors_.erase(it);
  }
  if (mirror) {
    std::string identifier = mirror->identifier;
    affected.insert(identifier);
    mirrors_[object_key] = identifier;
    by_identifier_[identifier].mirrors[object_key] = *std::move(mirror);
  }
  return {affected.begin(), affected.end()};
}

IndexEntry DeclarationIndex::Get(const std::string& identifier) const {
  absl::MutexLock lock(&mu_);
  auto it = by_identifier_.find(identifier);
  return it == by_identifier_.end() ? IndexEntry{} : it->second;
}

bool DeclarationIndex::HasResource(const std::string& object_key) const {
  absl::MutexLock lock(&mu_);
  return resources_.count(object_key) > 0;
}

std::optional<capability::Mirror> DeclarationIndex::MirrorAt(const std::string& object_key) const {
  absl::MutexLock lock(&mu_);
  auto it = mirrors_.find(object_key);
  if (it == mirrors_.end()) return std::nullopt;
  auto entry = by_identifier_.find(it->second);
  if (entry == by_identifier_.end()) return std::nullopt;
  auto mirror = entry->second.mirrors.find(object_key);
  if (mirror == entry->second.mirrors.end()) return std::nullopt;
  return mirror->second;
}

std::vector<std::string> DeclarationIndex::Identifiers() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids;
  for (const auto& [id, entry] : by_identifier_) ids.push_back(id);
  return ids;
}

}  // namespace hb::op
