#include "capability/configmap_source.h"

#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "capability/json_fields.h"
#include "manifest/discovery.h"

namespace hb::capability {

ConfigMapCapabilities FromConfigMap(const nlohmann::json& configmap,
                                    const manifest::HeartbeatTiming& defaults) {
  ConfigMapCapabilities result;
  const nlohmann::json& metadata = internal::ObjectField(configmap, "metadata");
  std::string ns = internal::StringField(metadata, "namespace");
  std::string name = internal::StringField(metadata, "name");
  std::string uid = internal::StringField(metadata, "uid");
  std::string resource_version = internal::StringField(metadata, "resourceVersion");
  std::vector<manifest::Document> documents;
  std::vector<std::string> keys;
  const nlohmann::json& data = internal::ObjectField(configmap, "data");
  for (auto it = data.begin(); it != data.end(); ++it) {  // keys come sorted
    if (!absl::EndsWith(it.key(), ".yaml") && !absl::EndsWith(it.key(), ".yml")) continue;
    if (!it->is_string()) continue;
    documents.push_back(manifest::Document{
        absl::StrCat("ConfigMap ", ns, "/", name, "[", it.key(), "]"), it->get<std::string>()});
    keys.push_back(it.key());
  }
  // A rest interface binding 0.0.0.0 names no address the controller can reach: such
  // entries are checked as none (and say so) unless they give health.url.
  manifest::Catalog catalog =
      manifest::BuildCatalog(documents, defaults, manifest::CheckDefaults{true, ""});
  result.errors = std::move(catalog.errors);
  auto key_of = [&](const std::string& source) {
    for (size_t i = 0; i < documents.size(); ++i) {
      if (documents[i].source == source) return keys[i];
    }
    return std::string();
  };
  auto base = [&](const manifest::Manifest& m) {
    Declaration d;
    d.kind = Declaration::Kind::kConfigMap;
    d.identifier = m.identifier;
    d.source = m.source;
    d.ns = ns;
    d.name = name;
    d.key = key_of(m.source);
    d.created = CreationTime(configmap);
    d.uid = uid;
    d.resource_version = resource_version;
    d.title = m.title;
    d.version = m.version;
    d.endpoint = m.endpoint;
    // The CRD holds whole seconds: a sub-second timeout is shown rounded up.
    d.timeout_seconds =
        m.timeout ? absl::ToInt64Seconds(absl::Ceil(*m.timeout, absl::Seconds(1))) : 0;
    return d;
  };
  for (const manifest::ServiceCapability& service : catalog.services) {
    Declaration d = base(service.manifest);
    d.service = true;
    d.interval_seconds = service.timing.interval_seconds;
    d.ttl_seconds = service.timing.ttl_seconds;
    d.check = service.check;
    result.declarations.push_back(std::move(d));
  }
  for (const manifest::Manifest& other : catalog.others) {
    Declaration d = base(other);
    d.service = false;
    d.interval_seconds = defaults.interval_seconds;
    d.ttl_seconds = defaults.ttl_seconds;
    result.declarations.push_back(std::move(d));
  }
  return result;
}

namespace {

// FNV-1a over the ConfigMap name and the identifier: stable across builds and machines
// (std::hash is not), so a mirror keeps its name through upgrades.
std::string NameHash(const std::string& configmap, const std::string& identifier) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(configmap);
  mix(std::string(1, '\0'));
  mix(identifier);
  return absl::StrCat(absl::Hex(h >> 24, absl::kZeroPad10));  // 40 bits
}

}  // namespace

std::string MirrorName(const std::string& configmap, const std::string& identifier) {
  // "<configmap>.<identifier>" is unambiguous while the ConfigMap name has no dot (the
  // first dot then ends it) and the identifier no underscore (object names cannot hold
  // one). Otherwise a hash of both tells apart what would look alike ("a_b" and "a-b";
  // ConfigMap "x" with "y.z" and ConfigMap "x.y" with "z").
  std::string name = absl::StrCat(configmap, ".", identifier);
  bool plain = configmap.find('.') == std::string::npos &&
               identifier.find('_') == std::string::npos && name.size() <= 253;
  if (plain) return name;
  std::string hash = NameHash(configmap, identifier);
  name = absl::StrCat(configmap, ".", absl::StrReplaceAll(identifier, {{"_", "-"}}));
  if (name.size() > 253 - hash.size() - 1) name.resize(253 - hash.size() - 1);
  while (!name.empty() && !absl::ascii_isalnum(name.back())) name.pop_back();
  return absl::StrCat(name, "-", hash);
}

std::string MirrorKey(const Declaration& d) {
  return absl::StrCat(d.ns, "/", MirrorName(d.name, d.identifier));
}

std::string MirrorSource(const Declaration& d) {
  return absl::StrCat("configmap/", d.ns, "/", d.name, "/", d.key);
}

nlohmann::json MirrorObject(const Declaration& d) {
  nlohmann::json heartbeat = {
      {"intervalSeconds", d.interval_seconds}, {"ttlSeconds", d.ttl_seconds}, {"paused", false}};
  nlohmann::json spec = {{"identifier", d.identifier},
                         {"type", d.service ? "Service" : "Pattern"},
                         {"heartbeat", heartbeat}};
  if (!d.title.empty()) spec["title"] = d.title;
  if (!d.version.empty()) spec["version"] = d.version;
  nlohmann::json health = nlohmann::json::object();
  if (!d.endpoint.empty()) health["endpoint"] = d.endpoint;
  if (d.timeout_seconds > 0) health["timeoutSeconds"] = d.timeout_seconds;
  if (!health.empty()) spec["health"] = health;
  nlohmann::json metadata = nlohmann::json::object();
  metadata["name"] = MirrorName(d.name, d.identifier);
  metadata["namespace"] = d.ns;
  metadata["labels"][kManagedByLabel] = std::string(kManagedByValue);
  metadata["annotations"][kSourceAnnotation] = MirrorSource(d);
  if (!d.uid.empty()) {
    metadata["ownerReferences"] = nlohmann::json::array(
        {{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", d.name}, {"uid", d.uid}}});
  }
  return {{"apiVersion", "chora.dev/v1alpha1"},
          {"kind", "Capability"},
          {"metadata", metadata},
          {"spec", spec}};
}

}  // namespace hb::capability
