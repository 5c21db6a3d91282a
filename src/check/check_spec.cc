#include "check/check_spec.h"

#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace hb::check {
namespace {

auto Fields(const TlsOptions& t) {
  return std::tie(t.ca_file, t.cert_file, t.key_file, t.server_name, t.insecure_skip_verify);
}

auto Fields(const CheckSpec& s) {
  return std::tie(s.kind, s.none_reason, s.url, s.headers, s.bearer_token_file, s.tls, s.grpc_tls,
                  s.host, s.port, s.grpc_service, s.service_namespace, s.service_name,
                  s.service_port, s.min_ready, s.period, s.timeout, s.initial_delay,
                  s.failure_threshold, s.success_threshold, s.deregister_after, s.flap_threshold,
                  s.flap_window);
}

absl::Status Bad(const std::string& prefix, absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(prefix, field, ": ", message));
}

absl::Status InRange(const std::string& prefix, absl::string_view field, int64_t value, int64_t low,
                     int64_t high) {
  if (value >= low && value <= high) return absl::OkStatus();
  return Bad(prefix, field, absl::StrCat("must be ", low, "-", high, ", got ", value));
}

}  // namespace

const char* CheckKindName(CheckKind kind) {
  switch (kind) {
    case CheckKind::kNone:
      return "none";
    case CheckKind::kHttp:
      return "http";
    case CheckKind::kTcp:
      return "tcp";
    case CheckKind::kGrpc:
      return "grpc";
    case CheckKind::kServiceRef:
      return "serviceRef";
  }
  return "none";
}

bool TlsOptions::operator==(const TlsOptions& o) const { return Fields(*this) == Fields(o); }
bool CheckSpec::operator==(const CheckSpec& o) const { return Fields(*this) == Fields(o); }

std::string CheckSpec::Target() const {
  switch (kind) {
    case CheckKind::kHttp:
      return url;
    case CheckKind::kTcp:
      return absl::StrCat(host, ":", port);
    case CheckKind::kGrpc:
      return absl::StrCat(grpc_tls ? "grpcs://" : "grpc://", host, ":", port, "/", grpc_service);
    case CheckKind::kServiceRef:
      return absl::StrCat("service ", service_namespace, "/", service_name,
                          service_port.empty() ? "" : ":", service_port);
    case CheckKind::kNone:
      break;
  }
  return "";
}

absl::Status CheckFilesAllowed(const CheckSpec& s, const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();
  std::string prefix = dir.back() == '/' ? dir : dir + "/";
  for (const std::string* file :
       {&s.bearer_token_file, &s.tls.ca_file, &s.tls.cert_file, &s.tls.key_file}) {
    if (file->empty()) continue;
    if (!absl::StartsWith(*file, prefix) || absl::StrContains(*file, "/../") ||
        absl::EndsWith(*file, "/..")) {
      return absl::PermissionDeniedError(
          absl::StrCat("file ", *file, " is outside the check files directory ", dir));
    }
  }
  return absl::OkStatus();
}

std::string JoinUrl(std::string base, const std::string& path) {
  if (path.empty()) return base;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return absl::StrCat(base, path.front() == '/' ? "" : "/", path);
}

CheckSpec NoCheck(std::string reason) {
  CheckSpec spec;
  spec.none_reason = std::move(reason);
  return spec;
}

absl::Status ValidateCheckSpec(const CheckSpec& s, const std::string& p, FieldNames names) {
  auto name = [names](const char* crd, const char* manifest) {
    return names == FieldNames::kCrd ? crd : manifest;
  };
  if (s.kind == CheckKind::kHttp && !absl::StartsWith(s.url, "http://") &&
      !absl::StartsWith(s.url, "https://")) {
    return Bad(p, "url", absl::StrCat("must start with http:// or https://, got \"", s.url, "\""));
  }
  if (s.url.size() > 2048) return Bad(p, "url", "longer than 2048 characters");
  if (s.kind == CheckKind::kTcp || s.kind == CheckKind::kGrpc) {
    const char* what = s.kind == CheckKind::kTcp ? "tcp" : "grpc";
    if (s.host.empty()) return Bad(p, absl::StrCat(what, ".host"), "missing");
    if (auto st = InRange(p, absl::StrCat(what, ".port"), s.port, 1, 65535); !st.ok()) return st;
  }
  if (s.kind == CheckKind::kServiceRef) {
    if (s.service_name.empty()) return Bad(p, "serviceRef.name", "missing");
    if (auto st = InRange(p, "serviceRef.minReady", s.min_ready, 1, 1'000'000); !st.ok()) return st;
  }
  for (const auto& [header, value] : s.headers) {
    if (header.empty() || header.find_first_of(":\r\n ") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return Bad(p, "headers", absl::StrCat("header \"", header, "\" has a bad name or value"));
    }
  }
  if (s.period < absl::Seconds(1) || s.period > absl::Hours(1)) {
    return Bad(p, name("periodSeconds", "interval"),
               absl::StrCat("must be 1 s to 1 h, got ", absl::FormatDuration(s.period)));
  }
  if (s.timeout <= absl::ZeroDuration() || s.timeout > absl::Minutes(10)) {
    return Bad(
        p, name("timeoutSeconds", "timeout"),
        absl::StrCat("must be above 0 and at most 10 min, got ", absl::FormatDuration(s.timeout)));
  }
  if (s.timeout >= s.period) {
    return Bad(p, name("timeoutSeconds", "timeout"),
               absl::StrCat(absl::FormatDuration(s.timeout), " must be below the check period (",
                            absl::FormatDuration(s.period), ")"));
  }
  if (auto st =
          InRange(p, name("failureThreshold", "failure_threshold"), s.failure_threshold, 1, 100);
      !st.ok())
    return st;
  if (auto st =
          InRange(p, name("successThreshold", "success_threshold"), s.success_threshold, 1, 100);
      !st.ok())
    return st;
  if (auto st = InRange(p, name("flapThreshold", "flap_threshold"), s.flap_threshold, 2, 100);
      !st.ok())
    return st;
  if (s.initial_delay < absl::ZeroDuration() || s.initial_delay > absl::Hours(1)) {
    return Bad(p, name("initialDelaySeconds", "initial_delay"), "must be 0 s to 1 h");
  }
  if (s.deregister_after < absl::ZeroDuration() || s.deregister_after > absl::Hours(24 * 7)) {
    return Bad(p, name("deregisterAfterSeconds", "deregister_after"),
               "must be 0 (never) to 604800 s");
  }
  if (s.flap_window < absl::Seconds(10) || s.flap_window > absl::Hours(24)) {
    return Bad(p, name("flapWindowSeconds", "flap_window"), "must be 10-86400 s");
  }
  return absl::OkStatus();
}

}  // namespace hb::check
