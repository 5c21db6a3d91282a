#include "manifest/manifest.h"

#include <yaml-cpp/yaml.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace hb::manifest {
namespace {

const int64_t kMinTtlSeconds = 2;

absl::Status FieldError(absl::string_view source, absl::string_view field,
                        absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", field, ": ", message));
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return absl::StrCat("\"", node.Scalar(), "\"");
    default:
      return "nothing";
  }
}

// A scalar string field; absent or null gives "".
absl::StatusOr<std::string> OptionalString(const YAML::Node& parent, const char* key,
                                           absl::string_view source, absl::string_view path) {
  YAML::Node node = parent[key];
  if (!node || node.IsNull()) return std::string();
  if (!node.IsScalar()) {
    return FieldError(source, path, absl::StrCat("must be a string, got ", Describe(node)));
  }
  return node.Scalar();
}

// A whole number of seconds; absent or null gives nullopt.
absl::StatusOr<std::optional<int64_t>> OptionalSeconds(const YAML::Node& parent, const char* key,
                                                       absl::string_view source,
                                                       absl::string_view path) {
  YAML::Node node = parent[key];
  if (!node || node.IsNull()) return std::optional<int64_t>();
  int64_t value = 0;
  if (!node.IsScalar() || !YAML::convert<int64_t>::decode(node, value)) {
    return FieldError(source, path,
                      absl::StrCat("must be a whole number of seconds, got ", Describe(node)));
  }
  return std::optional<int64_t>(value);
}

bool IsSegmentChar(char c) {
  return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '-';
}

absl::Status ParseHealth(const YAML::Node& service, absl::string_view source, Manifest& m) {
  if (!service.IsMap()) {
    if (service.IsNull()) return absl::OkStatus();
    return FieldError(source, "chora_service",
                      absl::StrCat("must be a mapping, got ", Describe(service)));
  }
  YAML::Node health = service["health"];
  if (!health || health.IsNull()) return absl::OkStatus();
  if (!health.IsMap()) {
    return FieldError(source, "chora_service.health",
                      absl::StrCat("must be a mapping, got ", Describe(health)));
  }
  auto interval = OptionalSeconds(health, "interval", source, "chora_service.health.interval");
  if (!interval.ok()) return interval.status();
  auto ttl = OptionalSeconds(health, "heartbeat_ttl", source, "chora_service.health.heartbeat_ttl");
  if (!ttl.ok()) return ttl.status();
  auto timeout = OptionalSeconds(health, "timeout", source, "chora_service.health.timeout");
  if (!timeout.ok()) return timeout.status();
  auto endpoint = OptionalString(health, "endpoint", source, "chora_service.health.endpoint");
  if (!endpoint.ok()) return endpoint.status();
  m.interval_seconds = *interval;
  m.ttl_seconds = *ttl;
  m.timeout_seconds = *timeout;
  m.endpoint = *endpoint;
  if (m.timeout_seconds && *m.timeout_seconds <= 0) {
    return FieldError(source, "chora_service.health.timeout",
                      absl::StrCat("must be positive, got ", *m.timeout_seconds));
  }
  return absl::OkStatus();
}

absl::StatusOr<Manifest> ParseDocument(const YAML::Node& doc, absl::string_view source) {
  if (!doc.IsMap()) {
    return FieldError(source, "(document)",
                      absl::StrCat("a manifest must be a YAML mapping, got ", Describe(doc)));
  }
  YAML::Node metadata = doc["metadata"];
  if (!metadata || !metadata.IsMap()) {
    return FieldError(source, "metadata",
                      metadata ? absl::StrCat("must be a mapping, got ", Describe(metadata))
                               : std::string("missing"));
  }
  Manifest m;
  m.source = std::string(source);
  auto id = OptionalString(metadata, "dc_identifier", source, "metadata.dc_identifier");
  if (!id.ok()) return id.status();
  if (id->empty()) return FieldError(source, "metadata.dc_identifier", "missing");
  if (!IsValidIdentifier(*id)) {
    return FieldError(source, "metadata.dc_identifier",
                      absl::StrCat("invalid identifier \"", *id,
                                   "\": expected lowercase dot-separated segments of "
                                   "[a-z0-9_-] such as chora.devex.registry"));
  }
  m.identifier = *id;
  for (auto [key, field, out] :
       {std::make_tuple("dc_type", "metadata.dc_type", &m.declared_type),
        std::make_tuple("dc_title", "metadata.dc_title", &m.title),
        std::make_tuple("dc_hasVersion", "metadata.dc_hasVersion", &m.version)}) {
    auto value = OptionalString(metadata, key, source, field);
    if (!value.ok()) return value.status();
    *out = *value;
  }
  YAML::Node service = doc["chora_service"];
  m.service = static_cast<bool>(service);
  if (m.service) {
    absl::Status health = ParseHealth(service, source, m);
    if (!health.ok()) return health;
  }
  return m;
}

}  // namespace

const char kIdentifierPattern[] =
    "^[a-z0-9]([a-z0-9_-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9_-]*[a-z0-9])?)*$";

bool IsValidIdentifier(absl::string_view id) {
  if (id.empty() || id.size() > 253) return false;
  size_t start = 0;
  while (start <= id.size()) {
    size_t end = id.find('.', start);
    if (end == absl::string_view::npos) end = id.size();
    absl::string_view segment = id.substr(start, end - start);
    if (segment.empty()) return false;
    for (char c : segment) {
      if (!IsSegmentChar(c)) return false;
    }
    if (!absl::ascii_isalnum(segment.front()) || !absl::ascii_isalnum(segment.back())) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

absl::StatusOr<Manifest> ParseManifest(absl::string_view text, absl::string_view source) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(text));
    return ParseDocument(doc, source);
  } catch (const YAML::Exception& e) {
    std::string where = e.mark.is_null() ? std::string()
                                         : absl::StrCat("line ", e.mark.line + 1, ", column ",
                                                        e.mark.column + 1, ": ");
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid YAML: ", where, e.msg));
  }
}

absl::StatusOr<HeartbeatTiming> ResolveTiming(const Manifest& m, const HeartbeatTiming& defaults) {
  HeartbeatTiming timing;
  timing.interval_seconds = m.interval_seconds.value_or(defaults.interval_seconds);
  timing.ttl_seconds = m.ttl_seconds.value_or(defaults.ttl_seconds);
  const char* ttl_field =
      m.ttl_seconds ? "chora_service.health.heartbeat_ttl" : "heartbeat TTL (default)";
  const char* interval_field =
      m.interval_seconds ? "chora_service.health.interval" : "heartbeat interval (default)";
  if (timing.ttl_seconds < kMinTtlSeconds) {
    return FieldError(m.source, ttl_field,
                      absl::StrCat("TTL must be at least ", kMinTtlSeconds, " seconds, got ",
                                   timing.ttl_seconds));
  }
  if (timing.interval_seconds < 1) {
    return FieldError(
        m.source, interval_field,
        absl::StrCat("interval must be at least 1 second, got ", timing.interval_seconds));
  }
  if (timing.interval_seconds >= timing.ttl_seconds) {
    return FieldError(
        m.source, m.interval_seconds ? interval_field : ttl_field,
        absl::StrCat("interval (", timing.interval_seconds, " s) must be below the TTL (",
                     timing.ttl_seconds, " s), or the key expires between heartbeats"));
  }
  return timing;
}

}  // namespace hb::manifest
