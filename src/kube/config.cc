#include "kube/config.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "kube/files.h"

namespace hb::kube {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

bool FileExists(const std::string& path) { return ReadFileToString(path, "file").ok(); }

std::vector<std::string> SplitKubeconfigEnv(absl::string_view value) {
  std::vector<std::string> paths;
  for (absl::string_view part : absl::StrSplit(value, ':', absl::SkipWhitespace())) {
    paths.emplace_back(absl::StripAsciiWhitespace(part));
  }
  return paths;
}

}  // namespace

std::string Describe(const KubeConfig& config) {
  std::string auth;
  if (!config.client_cert_pem.empty()) auth = "client certificate";
  if (!config.token_file.empty()) {
    absl::StrAppend(&auth, auth.empty() ? "" : " + ", "token file ", config.token_file);
  } else if (!config.token.empty()) {
    absl::StrAppend(&auth, auth.empty() ? "" : " + ", "bearer token");
  }
  if (auth.empty()) auth = "anonymous";
  std::string tls = config.insecure_skip_tls_verify ? "TLS not verified"
                    : config.ca_pem.empty()         ? "system CAs"
                                                    : "cluster CA";
  return absl::StrCat("server ", config.server, ", namespace ", config.default_namespace, ", ",
                      auth, ", ", tls, ", from ", config.origin);
}

absl::StatusOr<KubeConfig> LoadInCluster(absl::string_view service_host,
                                         absl::string_view service_port,
                                         absl::string_view service_account_dir) {
  if (service_host.empty() || service_port.empty()) {
    return absl::FailedPreconditionError(
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not "
        "set");
  }
  const std::string dir(service_account_dir);
  KubeConfig config;
  bool ipv6 = service_host.find(':') != absl::string_view::npos;
  config.server =
      absl::StrCat("https://", ipv6 ? "[" : "", service_host, ipv6 ? "]" : "", ":", service_port);
  config.token_file = absl::StrCat(dir, "/token");
  HB_ASSIGN_OR_RETURN(std::string token,
                      ReadFileToString(config.token_file, "service account token"));
  if (absl::StripAsciiWhitespace(token).empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("service account token ", config.token_file, " is empty"));
  }
  HB_ASSIGN_OR_RETURN(config.ca_pem,
                      ReadFileToString(absl::StrCat(dir, "/ca.crt"), "service account CA"));
  auto ns = ReadFileToString(absl::StrCat(dir, "/namespace"), "service account namespace");
  if (ns.ok() && !absl::StripAsciiWhitespace(*ns).empty()) {
    config.default_namespace = std::string(absl::StripAsciiWhitespace(*ns));
  }
  config.origin = absl::StrCat("in-cluster service account ", dir);
  return config;
}

absl::StatusOr<KubeConfig> LoadInCluster() {
  return LoadInCluster(Env("KUBERNETES_SERVICE_HOST"), Env("KUBERNETES_SERVICE_PORT"),
                       kServiceAccountDir);
}

ConfigSources ConfigSources::FromEnvironment(absl::string_view kubeconfig_flag,
                                             absl::string_view context) {
  ConfigSources sources;
  sources.kubeconfig_flag = std::string(kubeconfig_flag);
  sources.context = std::string(context);
  sources.kubeconfig_env = Env("KUBECONFIG");
  sources.service_host = Env("KUBERNETES_SERVICE_HOST");
  sources.service_port = Env("KUBERNETES_SERVICE_PORT");
  sources.home = Env("HOME");
  return sources;
}

absl::StatusOr<KubeConfig> LoadDefault(const ConfigSources& sources) {
  if (!sources.kubeconfig_flag.empty()) {
    return LoadKubeconfig(sources.kubeconfig_flag, sources.context);
  }
  if (!sources.kubeconfig_env.empty()) {
    std::vector<std::string> existing;  // like kubectl, files in $KUBECONFIG may be missing
    for (auto& path : SplitKubeconfigEnv(sources.kubeconfig_env)) {
      if (FileExists(path)) existing.push_back(std::move(path));
    }
    if (existing.empty()) {
      return absl::NotFoundError(
          absl::StrCat("none of the files in KUBECONFIG exists: ", sources.kubeconfig_env));
    }
    return LoadKubeconfig(existing, sources.context);
  }
  if (!sources.service_host.empty() && !sources.service_port.empty() &&
      FileExists(absl::StrCat(sources.service_account_dir, "/token"))) {
    return LoadInCluster(sources.service_host, sources.service_port, sources.service_account_dir);
  }
  if (!sources.home.empty()) {
    std::string path = absl::StrCat(sources.home, "/.kube/config");
    if (FileExists(path)) return LoadKubeconfig(path, sources.context);
  }
  return absl::NotFoundError(
      "no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, run in a pod with "
      "a service account, or create ~/.kube/config");
}

absl::StatusOr<KubeConfig> LoadDefault(absl::string_view kubeconfig_flag,
                                       absl::string_view context) {
  return LoadDefault(ConfigSources::FromEnvironment(kubeconfig_flag, context));
}

}  // namespace hb::kube
