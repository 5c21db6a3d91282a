#include "capability/declaration.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/time_format.h"
#include "manifest/manifest.h"

namespace hb::capability {

const char kFinalizer[] = "chora.dev/heartbeat-cleanup";
const char kManagedByLabel[] = "chora.dev/managed-by";
const char kManagedByValue[] = "heartbeat-operator";
const char kSourceAnnotation[] = "chora.dev/source";

namespace {

// The integer at `object[a][b]`, `fallback` when absent; sets `error` on a wrong type.
int64_t IntField(const nlohmann::json& parent, const char* field, int64_t fallback,
                 const std::string& path, std::string& error) {
  if (!parent.is_object()) return fallback;
  auto it = parent.find(field);
  if (it == parent.end() || it->is_null()) return fallback;
  if (!it->is_number_integer()) {
    if (error.empty()) error = absl::StrCat(path, ": must be an integer, got ", it->dump());
    return fallback;
  }
  return it->get<int64_t>();
}

std::string StringField(const nlohmann::json& parent, const char* field) {
  if (!parent.is_object()) return "";
  auto it = parent.find(field);
  return it != parent.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

absl::Time CreationTime(const nlohmann::json& object) {
  const nlohmann::json& metadata = object.value("metadata", nlohmann::json::object());
  auto parsed = ParseRfc3339(StringField(metadata, "creationTimestamp"));
  return parsed.ok() ? *parsed : absl::InfinitePast();
}

bool IsMirror(const nlohmann::json& capability) {
  const nlohmann::json& metadata = capability.value("metadata", nlohmann::json::object());
  const nlohmann::json& labels = metadata.value("labels", nlohmann::json::object());
  return StringField(labels, kManagedByLabel) == kManagedByValue;
}

Declaration FromCapability(const nlohmann::json& capability) {
  Declaration d;
  d.kind = Declaration::Kind::kResource;
  const nlohmann::json& metadata = capability.value("metadata", nlohmann::json::object());
  d.ns = StringField(metadata, "namespace");
  d.name = StringField(metadata, "name");
  d.source = absl::StrCat("Capability ", d.ObjectKey());
  d.created = CreationTime(capability);
  d.generation = metadata.value("generation", int64_t{0});
  d.deleting = metadata.contains("deletionTimestamp") && !metadata["deletionTimestamp"].is_null();
  if (auto finalizers = metadata.find("finalizers");
      finalizers != metadata.end() && finalizers->is_array()) {
    d.has_finalizer =
        std::find(finalizers->begin(), finalizers->end(), kFinalizer) != finalizers->end();
  }
  const nlohmann::json& spec = capability.value("spec", nlohmann::json::object());
  const nlohmann::json& heartbeat = spec.value("heartbeat", nlohmann::json::object());
  const nlohmann::json& health = spec.value("health", nlohmann::json::object());
  std::string& error = d.invalid;
  d.identifier = StringField(spec, "identifier");
  if (d.identifier.empty()) d.identifier = d.name;
  if (!manifest::IsValidIdentifier(d.identifier)) {
    error = absl::StrCat(spec.contains("identifier") ? "spec.identifier" : "metadata.name", ": \"",
                         d.identifier,
                         "\" is not a valid identifier (lowercase dot-separated segments of "
                         "[a-z0-9_-])");
  }
  std::string type = StringField(spec, "type");
  if (!type.empty() && type != "Service" && type != "Pattern" && error.empty()) {
    error = absl::StrCat("spec.type: must be Service or Pattern, got \"", type, "\"");
  }
  d.service = type != "Pattern";
  d.title = StringField(spec, "title");
  d.version = StringField(spec, "version");
  d.endpoint = StringField(health, "endpoint");
  d.interval_seconds =
      IntField(heartbeat, "intervalSeconds", 10, "spec.heartbeat.intervalSeconds", error);
  d.ttl_seconds = IntField(heartbeat, "ttlSeconds", 30, "spec.heartbeat.ttlSeconds", error);
  d.timeout_seconds = IntField(health, "timeoutSeconds", 0, "spec.health.timeoutSeconds", error);
  if (auto paused = heartbeat.is_object() ? heartbeat.find("paused") : heartbeat.end();
      heartbeat.is_object() && paused != heartbeat.end() && paused->is_boolean()) {
    d.paused = paused->get<bool>();
  }
  if (error.empty() && d.ttl_seconds < 2) {
    error = absl::StrCat("spec.heartbeat.ttlSeconds: must be at least 2, got ", d.ttl_seconds);
  } else if (error.empty() && d.interval_seconds < 1) {
    error = absl::StrCat("spec.heartbeat.intervalSeconds: must be at least 1, got ",
                         d.interval_seconds);
  } else if (error.empty() && d.interval_seconds >= d.ttl_seconds) {
    error = absl::StrCat("spec.heartbeat.intervalSeconds: ", d.interval_seconds,
                         " must be below spec.heartbeat.ttlSeconds (", d.ttl_seconds,
                         "), or the key expires between heartbeats");
  }
  return d;
}

int Winner(const std::vector<Declaration>& declarations) {
  auto rank = [](const Declaration& d) {
    return std::make_tuple(d.deleting, d.kind == Declaration::Kind::kConfigMap, d.created, d.ns,
                           d.name, d.key);
  };
  int best = -1;
  for (int i = 0; i < static_cast<int>(declarations.size()); ++i) {
    if (best < 0 || rank(declarations[i]) < rank(declarations[best])) best = i;
  }
  return best;
}

}  // namespace hb::capability
