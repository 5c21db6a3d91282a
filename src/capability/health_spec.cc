#include "capability/health_spec.h"

#include "absl/strings/str_cat.h"
#include "capability/json_fields.h"

namespace hb::capability {
namespace {

using internal::Field;
using internal::ObjectField;

constexpr char kPrefix[] = "spec.health.";

absl::Status Bad(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(kPrefix, field, ": ", message));
}

// Reads typed fields of one object, remembering the first error.
class Reader {
 public:
  Reader(const nlohmann::json& object, std::string path) : o_(object), path_(std::move(path)) {}
  std::string String(const char* name) {
    const nlohmann::json* f = Field(o_, name);
    if (f == nullptr) return "";
    if (!f->is_string()) Fail(name, "must be a string");
    return f->is_string() ? f->get<std::string>() : "";
  }
  int64_t Int(const char* name, int64_t fallback) {
    const nlohmann::json* f = Field(o_, name);
    if (f == nullptr) return fallback;
    if (!f->is_number_integer()) {
      Fail(name, "must be an integer");
      return fallback;
    }
    return f->get<int64_t>();
  }
  // An integer the check holds as int (ports, minReady, thresholds): a value beyond int fails
  // rather than being cut down to one that passes the bounds (4294967376 is 80 as an int).
  int SmallInt(const char* name, int fallback) {
    int64_t value = Int(name, fallback);
    if (value != static_cast<int>(value)) {
      Fail(name, absl::StrCat("out of range, got ", value));
      return fallback;
    }
    return static_cast<int>(value);
  }
  bool Bool(const char* name) {
    const nlohmann::json* f = Field(o_, name);
    if (f != nullptr && !f->is_boolean()) Fail(name, "must be true or false");
    return f != nullptr && f->is_boolean() && f->get<bool>();
  }
  absl::Status status() const { return status_; }

 private:
  void Fail(const char* name, absl::string_view message) {
    if (status_.ok()) status_ = Bad(absl::StrCat(path_, name), message);
  }
  const nlohmann::json& o_;
  std::string path_;
  absl::Status status_;
};

absl::Status ReadTarget(const nlohmann::json& health, const std::string& ns,
                        check::CheckSpec& spec) {
  Reader h(health, "");
  std::string url = h.String("url");
  std::string endpoint = h.String("endpoint");
  int targets = (url.empty() ? 0 : 1) + (Field(health, "tcp") ? 1 : 0) +
                (Field(health, "grpc") ? 1 : 0) + (Field(health, "serviceRef") ? 1 : 0);
  if (targets > 1) {
    return absl::InvalidArgumentError("spec.health: at most one of url, tcp, grpc, serviceRef");
  }
  if (!url.empty()) {
    spec.kind = check::CheckKind::kHttp;
    spec.url = check::JoinUrl(url, endpoint);
  } else if (const nlohmann::json* tcp = Field(health, "tcp")) {
    Reader r(*tcp, "tcp.");
    spec.kind = check::CheckKind::kTcp;
    spec.host = r.String("host");
    spec.port = r.SmallInt("port", 0);
    if (!r.status().ok()) return r.status();
  } else if (const nlohmann::json* grpc = Field(health, "grpc")) {
    Reader r(*grpc, "grpc.");
    spec.kind = check::CheckKind::kGrpc;
    spec.host = r.String("host");
    spec.port = r.SmallInt("port", 0);
    spec.grpc_service = r.String("service");
    spec.grpc_tls = r.Bool("tls");
    if (!r.status().ok()) return r.status();
  } else if (const nlohmann::json* ref = Field(health, "serviceRef")) {
    Reader r(*ref, "serviceRef.");
    spec.kind = check::CheckKind::kServiceRef;
    spec.service_namespace = ns;
    spec.service_name = r.String("name");
    spec.min_ready = r.SmallInt("minReady", 1);
    if (const nlohmann::json* port = Field(*ref, "port")) {
      if (port->is_number_integer()) {
        spec.service_port = std::to_string(port->get<int64_t>());
      } else if (port->is_string()) {
        spec.service_port = port->get<std::string>();
      } else {
        return Bad("serviceRef.port", "must be a port name or number");
      }
    }
    if (!r.status().ok()) return r.status();
  }
  return h.status();
}

absl::Status ReadHttpOptions(const nlohmann::json& health, check::CheckSpec& spec) {
  Reader h(health, "");
  spec.bearer_token_file = h.String("bearerTokenFile");
  Reader tls(ObjectField(health, "tls"), "tls.");
  spec.tls.ca_file = tls.String("caFile");
  spec.tls.cert_file = tls.String("certFile");
  spec.tls.key_file = tls.String("keyFile");
  spec.tls.server_name = tls.String("serverName");
  spec.tls.insecure_skip_verify = tls.Bool("insecureSkipVerify");
  if (!tls.status().ok()) return tls.status();
  if (const nlohmann::json* headers = Field(health, "headers")) {
    if (!headers->is_array()) return Bad("headers", "must be a list");
    for (const nlohmann::json& item : *headers) {
      Reader r(item, "headers[].");
      std::string name = r.String("name");
      std::string value = r.String("value");
      if (!r.status().ok()) return r.status();
      spec.headers.emplace_back(std::move(name), std::move(value));
    }
  }
  return h.status();
}

}  // namespace

absl::StatusOr<check::CheckSpec> HealthSpecFromJson(const nlohmann::json& health,
                                                    const std::string& ns,
                                                    int64_t interval_seconds) {
  if (Field(health, "disabled") != nullptr && health["disabled"].is_boolean() &&
      health["disabled"].get<bool>()) {
    return check::NoCheck("spec.health.disabled is true");
  }
  check::CheckSpec spec;
  absl::Status target = ReadTarget(health, ns, spec);
  if (!target.ok()) return target;
  if (spec.kind == check::CheckKind::kNone) {
    return check::NoCheck("spec.health names no target (url, tcp, grpc or serviceRef)");
  }
  absl::Status options = ReadHttpOptions(health, spec);
  if (!options.ok()) return options;
  Reader h(health, "");
  spec.period = absl::Seconds(h.Int("periodSeconds", interval_seconds));
  int64_t timeout = h.Int("timeoutSeconds", 0);
  spec.timeout = timeout > 0 ? absl::Seconds(timeout) : spec.period / 2;
  spec.failure_threshold = h.SmallInt("failureThreshold", 3);
  spec.success_threshold = h.SmallInt("successThreshold", 1);
  spec.initial_delay = absl::Seconds(h.Int("initialDelaySeconds", 0));
  spec.deregister_after = absl::Seconds(h.Int("deregisterAfterSeconds", 0));
  spec.flap_threshold = h.SmallInt("flapThreshold", 5);
  spec.flap_window = absl::Seconds(h.Int("flapWindowSeconds", 300));
  if (!h.status().ok()) return h.status();
  absl::Status valid = check::ValidateCheckSpec(spec, kPrefix);
  if (!valid.ok()) return valid;
  return spec;
}

}  // namespace hb::capability
