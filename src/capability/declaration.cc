#include "capability/declaration.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "capability/health_spec.h"
#include "capability/json_fields.h"
#include "common/time_format.h"
#include "manifest/bounds.h"
#include "manifest/manifest.h"

namespace hb::capability {

const char kFinalizer[] = "chora.dev/heartbeat-cleanup";
const char kManagedByLabel[] = "chora.dev/managed-by";
const char kManagedByValue[] = "heartbeat-operator";
const char kSourceAnnotation[] = "chora.dev/source";

namespace {

using internal::Field;
using internal::ObjectField;
using internal::StringField;

// The integer `parent[field]`, `fallback` when absent; sets `error` on a wrong type.
int64_t IntField(const nlohmann::json& parent, const char* field, int64_t fallback,
                 const std::string& path, std::string& error) {
  const nlohmann::json* f = Field(parent, field);
  if (f == nullptr) return fallback;
  if (!f->is_number_integer()) {
    if (error.empty()) error = absl::StrCat(path, ": must be an integer, got ", f->dump());
    return fallback;
  }
  return f->get<int64_t>();
}

std::vector<std::string> Strings(const nlohmann::json& parent, const char* field) {
  std::vector<std::string> out;
  const nlohmann::json* f = Field(parent, field);
  if (f == nullptr || !f->is_array()) return out;
  for (const nlohmann::json& item : *f) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

bool Declaration::HasFinalizer() const {
  return std::find(finalizers.begin(), finalizers.end(), kFinalizer) != finalizers.end();
}

absl::Time CreationTime(const nlohmann::json& object) {
  auto parsed = ParseRfc3339(StringField(ObjectField(object, "metadata"), "creationTimestamp"));
  return parsed.ok() ? *parsed : absl::InfinitePast();
}

bool IsMirror(const nlohmann::json& capability) {
  const nlohmann::json& labels = ObjectField(ObjectField(capability, "metadata"), "labels");
  return StringField(labels, kManagedByLabel) == kManagedByValue;
}

Mirror FromMirror(const nlohmann::json& capability) {
  Mirror m;
  const nlohmann::json& metadata = ObjectField(capability, "metadata");
  m.ns = StringField(metadata, "namespace");
  m.name = StringField(metadata, "name");
  m.uid = StringField(metadata, "uid");
  m.resource_version = StringField(metadata, "resourceVersion");
  m.generation = internal::IntField(metadata, "generation").value_or(0);
  m.source = StringField(ObjectField(metadata, "annotations"), kSourceAnnotation);
  const nlohmann::json* spec = Field(capability, "spec");
  m.spec = spec != nullptr ? *spec : nlohmann::json::object();
  m.identifier = StringField(m.spec, "identifier");
  m.status = ParseStatus(ObjectField(capability, "status"));
  return m;
}

Declaration FromCapability(const nlohmann::json& capability) {
  Declaration d;
  d.kind = Declaration::Kind::kResource;
  const nlohmann::json& metadata = ObjectField(capability, "metadata");
  d.ns = StringField(metadata, "namespace");
  d.name = StringField(metadata, "name");
  d.source = absl::StrCat("Capability ", d.ObjectKey());
  d.created = CreationTime(capability);
  d.generation = internal::IntField(metadata, "generation").value_or(0);
  d.uid = StringField(metadata, "uid");
  d.resource_version = StringField(metadata, "resourceVersion");
  d.finalizers = Strings(metadata, "finalizers");
  d.deleting = Field(metadata, "deletionTimestamp") != nullptr;
  d.status = ParseStatus(ObjectField(capability, "status"));
  const nlohmann::json& spec = ObjectField(capability, "spec");
  const nlohmann::json& heartbeat = ObjectField(spec, "heartbeat");
  const nlohmann::json& health = ObjectField(spec, "health");
  std::string& error = d.invalid;
  d.identifier = StringField(spec, "identifier");
  if (d.identifier.empty()) d.identifier = d.name;
  if (!manifest::IsValidIdentifier(d.identifier)) {
    error = absl::StrCat(Field(spec, "identifier") != nullptr ? "spec.identifier" : "metadata.name",
                         ": \"", d.identifier,
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
  if (const nlohmann::json* paused = Field(heartbeat, "paused");
      paused != nullptr && paused->is_boolean()) {
    d.paused = paused->get<bool>();
  }
  // The same bounds as every other source (manifest/bounds.h): the CRD's, which the API
  // server enforces too when it evaluates the schema.
  for (const absl::Status& bound :
       {manifest::ValidateTiming(d.interval_seconds, d.ttl_seconds,
                                 "spec.heartbeat.intervalSeconds", "spec.heartbeat.ttlSeconds",
                                 "spec.heartbeat.intervalSeconds"),
        manifest::ValidateLength(d.title, manifest::kMaxTitleLength, "spec.title"),
        manifest::ValidateLength(d.version, manifest::kMaxVersionLength, "spec.version"),
        manifest::ValidateLength(d.endpoint, manifest::kMaxEndpointLength,
                                 "spec.health.endpoint")}) {
    if (!bound.ok() && error.empty()) error = std::string(bound.message());
  }
  auto check = HealthSpecFromJson(health, d.ns, d.interval_seconds);
  if (check.ok()) {
    d.check = *std::move(check);
  } else if (error.empty()) {
    error = std::string(check.status().message());
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
