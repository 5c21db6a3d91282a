#include "manifest/manifest.h"

#include <yaml-cpp/yaml.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "manifest/bounds.h"
#include "manifest/yaml_hygiene.h"

namespace hb::manifest {
namespace {

absl::Status FieldError(absl::string_view source, absl::string_view field,
                        absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", field, ": ", message));
}

// A bounds error ("<field>: <what>", see bounds.h) in `source`.
absl::Status InSource(absl::string_view source, const absl::Status& error) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", error.message()));
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
      return QuoteForMessage(node.Scalar());
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

// A duration (see ParseDuration()); absent or null gives nullopt.
absl::StatusOr<std::optional<absl::Duration>> OptionalDuration(const YAML::Node& parent,
                                                               const char* key,
                                                               absl::string_view source,
                                                               absl::string_view path) {
  YAML::Node node = parent[key];
  if (!node || node.IsNull()) return std::optional<absl::Duration>();
  if (!node.IsScalar()) {
    return FieldError(source, path, absl::StrCat("must be a duration, got ", Describe(node)));
  }
  auto d = ParseDuration(node.Scalar());
  if (!d.ok()) return FieldError(source, path, d.status().message());
  return std::optional<absl::Duration>(*d);
}

// A whole number of seconds, written as a duration; absent or null gives nullopt.
absl::StatusOr<std::optional<int64_t>> OptionalSeconds(const YAML::Node& parent, const char* key,
                                                       absl::string_view source,
                                                       absl::string_view path) {
  auto d = OptionalDuration(parent, key, source, path);
  if (!d.ok()) return d.status();
  if (!d->has_value()) return std::optional<int64_t>();
  int64_t seconds = absl::ToInt64Seconds(**d);
  if (absl::Seconds(seconds) != **d) {
    return FieldError(
        source, path,
        absl::StrCat("must be a whole number of seconds, got ", absl::FormatDuration(**d)));
  }
  return std::optional<int64_t>(seconds);
}

// A whole number; absent or null gives nullopt.
absl::StatusOr<std::optional<int64_t>> OptionalInt(const YAML::Node& parent, const char* key,
                                                   absl::string_view source,
                                                   absl::string_view path) {
  YAML::Node node = parent[key];
  if (!node || node.IsNull()) return std::optional<int64_t>();
  int64_t value = 0;
  if (!node.IsScalar() || !YAML::convert<int64_t>::decode(node, value)) {
    return FieldError(source, path, absl::StrCat("must be a whole number, got ", Describe(node)));
  }
  return std::optional<int64_t>(value);
}

// A port: a whole number 1-65535.
absl::StatusOr<int> Port(const YAML::Node& parent, absl::string_view source,
                         absl::string_view path) {
  auto port = OptionalInt(parent, "port", source, path);
  if (!port.ok()) return port.status();
  if (!port->has_value()) return FieldError(source, path, "missing");
  if (**port < 1 || **port > 65535) {
    return FieldError(source, path, absl::StrCat("must be 1-65535, got ", **port));
  }
  return static_cast<int>(**port);
}

bool IsSegmentChar(char c) {
  return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '-';
}

// `{host, port}` targets of health.tcp and health.grpc.
absl::Status ParseTarget(const YAML::Node& health, const char* key, absl::string_view source,
                         const std::string& base, std::string& host, int& port,
                         std::string* service) {
  YAML::Node node = health[key];
  if (!node || node.IsNull()) return absl::OkStatus();
  std::string path = absl::StrCat(base, ".", key);
  if (!node.IsMap()) {
    return FieldError(source, path, absl::StrCat("must be a mapping, got ", Describe(node)));
  }
  HB_ASSIGN_OR_RETURN(host, OptionalString(node, "host", source, path + ".host"));
  if (host.empty()) return FieldError(source, path + ".host", "missing");
  HB_ASSIGN_OR_RETURN(port, Port(node, source, path + ".port"));
  if (service != nullptr) {
    HB_ASSIGN_OR_RETURN(*service, OptionalString(node, "service", source, path + ".service"));
  }
  return absl::OkStatus();
}

absl::Status ParseInterfaces(const YAML::Node& service, absl::string_view source,
                             const std::string& base, Manifest& m) {
  YAML::Node list = service["interfaces"];
  if (!list || list.IsNull()) return absl::OkStatus();
  std::string path = base + ".interfaces";
  if (!list.IsSequence()) {
    return FieldError(source, path, absl::StrCat("must be a list, got ", Describe(list)));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    YAML::Node item = list[i];
    std::string at = absl::StrCat(path, "[", i, "]");
    if (item.IsScalar()) {  // the registry's form: names
      m.interfaces.push_back(item.Scalar());
      continue;
    }
    if (!item.IsMap()) {
      return FieldError(source, at,
                        absl::StrCat("must be a name or a mapping, got ", Describe(item)));
    }
    HB_ASSIGN_OR_RETURN(std::string type, OptionalString(item, "type", source, at + ".type"));
    if (type.empty()) return FieldError(source, at + ".type", "missing");
    m.interfaces.push_back(type);
    if (type != "rest" || m.rest_port != 0) continue;
    HB_ASSIGN_OR_RETURN(m.rest_port, Port(item, source, at + ".port"));
    HB_ASSIGN_OR_RETURN(m.rest_host, OptionalString(item, "host", source, at + ".host"));
  }
  return absl::OkStatus();
}

absl::Status ParseHealth(const YAML::Node& service, absl::string_view source, Manifest& m) {
  const std::string& base = m.service_path;
  if (!service.IsMap()) {
    if (service.IsNull()) return absl::OkStatus();
    return FieldError(source, base, absl::StrCat("must be a mapping, got ", Describe(service)));
  }
  HB_RETURN_IF_ERROR(ParseInterfaces(service, source, base, m));
  YAML::Node health = service["health"];
  if (!health || health.IsNull()) return absl::OkStatus();
  std::string h = base + ".health";
  if (!health.IsMap()) {
    return FieldError(source, h, absl::StrCat("must be a mapping, got ", Describe(health)));
  }
  HB_ASSIGN_OR_RETURN(m.interval_seconds,
                      OptionalSeconds(health, "interval", source, h + ".interval"));
  HB_ASSIGN_OR_RETURN(m.ttl_seconds,
                      OptionalSeconds(health, "heartbeat_ttl", source, h + ".heartbeat_ttl"));
  HB_ASSIGN_OR_RETURN(m.timeout, OptionalDuration(health, "timeout", source, h + ".timeout"));
  if (m.timeout && *m.timeout <= absl::ZeroDuration()) {
    return FieldError(source, h + ".timeout",
                      absl::StrCat("must be positive, got ", absl::FormatDuration(*m.timeout)));
  }
  if (m.timeout && *m.timeout > absl::Seconds(kMaxTimeoutSeconds)) {
    return FieldError(source, h + ".timeout",
                      absl::StrCat("must be at most ", kMaxTimeoutSeconds, " s, got ",
                                   absl::FormatDuration(*m.timeout)));
  }
  struct StringField {
    const char* key;
    std::string* out;
  };
  for (StringField f : {StringField{"endpoint", &m.endpoint}, StringField{"url", &m.url},
                        StringField{"liveness_probe", &m.liveness_probe},
                        StringField{"readiness_probe", &m.readiness_probe},
                        StringField{"startup_probe", &m.startup_probe}}) {
    HB_ASSIGN_OR_RETURN(*f.out, OptionalString(health, f.key, source, absl::StrCat(h, ".", f.key)));
    absl::Status length = ValidateLength(*f.out, kMaxEndpointLength, absl::StrCat(h, ".", f.key));
    if (!length.ok()) return InSource(source, length);
  }
  struct IntField {
    const char* key;
    std::optional<int64_t>* out;
  };
  for (IntField f : {IntField{"failure_threshold", &m.failure_threshold},
                     IntField{"success_threshold", &m.success_threshold},
                     IntField{"flap_threshold", &m.flap_threshold}}) {
    HB_ASSIGN_OR_RETURN(*f.out, OptionalInt(health, f.key, source, absl::StrCat(h, ".", f.key)));
  }
  struct DurationField {
    const char* key;
    std::optional<absl::Duration>* out;
  };
  for (DurationField f : {DurationField{"initial_delay", &m.initial_delay},
                          DurationField{"deregister_after", &m.deregister_after},
                          DurationField{"flap_window", &m.flap_window}}) {
    HB_ASSIGN_OR_RETURN(*f.out,
                        OptionalDuration(health, f.key, source, absl::StrCat(h, ".", f.key)));
  }
  HB_RETURN_IF_ERROR(ParseTarget(health, "tcp", source, h, m.tcp_host, m.tcp_port, nullptr));
  HB_RETURN_IF_ERROR(
      ParseTarget(health, "grpc", source, h, m.grpc_host, m.grpc_port, &m.grpc_service));
  int targets = (m.url.empty() ? 0 : 1) + (m.tcp_port == 0 ? 0 : 1) + (m.grpc_port == 0 ? 0 : 1);
  if (targets > 1) return FieldError(source, h, "give at most one of url, tcp and grpc");
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
                      absl::StrCat("invalid identifier ", QuoteForMessage(*id),
                                   ": expected lowercase dot-separated segments of "
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
  for (auto [value, max, field] :
       {std::make_tuple(&m.title, kMaxTitleLength, "metadata.dc_title"),
        std::make_tuple(&m.version, kMaxVersionLength, "metadata.dc_hasVersion")}) {
    absl::Status length = ValidateLength(*value, max, field);
    if (!length.ok()) return InSource(source, length);
  }
  // yaml-cpp: a missing key gives an invalid node, which cannot be re-pointed; choose first.
  YAML::Node spec = doc["spec"];
  bool nested = !doc["chora_service"] && spec && spec.IsMap() && spec["chora_service"];
  YAML::Node service = nested ? spec["chora_service"] : doc["chora_service"];
  m.service_path = nested ? "spec.chora_service" : "chora_service";
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
  HB_RETURN_IF_ERROR(internal::CheckManifestText(text, source));
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(text));
    HB_RETURN_IF_ERROR(internal::CheckYamlTree(doc, source));
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
  std::string ttl_field = m.ttl_seconds ? absl::StrCat(m.service_path, ".health.heartbeat_ttl")
                                        : std::string("heartbeat TTL (default)");
  std::string interval_field = m.interval_seconds ? absl::StrCat(m.service_path, ".health.interval")
                                                  : std::string("heartbeat interval (default)");
  absl::Status valid = ValidateTiming(timing.interval_seconds, timing.ttl_seconds, interval_field,
                                      ttl_field, m.interval_seconds ? interval_field : ttl_field);
  if (!valid.ok()) return InSource(m.source, valid);
  return timing;
}

}  // namespace hb::manifest
