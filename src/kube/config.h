// KubeConfig: where the Kubernetes API server is and how to authenticate to it, loaded from
// a kubeconfig file or from the pod's service account.
//
// LoadDefault() picks the first source that applies, like kubectl and client-go:
//   1. the --kubeconfig flag (a file that must exist),
//   2. $KUBECONFIG (one or more files separated by ':'; merged, the first file that sets
//      a value wins),
//   3. in-cluster: $KUBERNETES_SERVICE_HOST/PORT and the service account directory,
//   4. ~/.kube/config.
// KubeConfig::origin says which one was used. Errors name the file and the field.
//
// The token and the client key are secrets: they are never logged and never put in a
// status message (Describe() leaves them out).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hb::kube {

inline constexpr absl::string_view kServiceAccountDir =
    "/var/run/secrets/kubernetes.io/serviceaccount";

struct KubeConfig {
  std::string server;           // https://host:port (http:// only for tests)
  std::string ca_pem;           // CA bundle to verify the server; empty: system CAs
  std::string client_cert_pem;  // client certificate (chain), with client_key_pem
  std::string client_key_pem;   // secret
  std::string token;            // bearer token; secret
  // A file holding the bearer token, re-read at least every minute and after a 401
  // (service-account tokens rotate). When set it takes precedence over `token`.
  std::string token_file;
  bool insecure_skip_tls_verify = false;
  std::string default_namespace = "default";
  std::string origin;  // where this came from, for logs, e.g. "kubeconfig /x (context y)"
};

// One line without secrets: server, namespace, authentication kinds, origin.
std::string Describe(const KubeConfig& config);

// From kubeconfig files (merged in order); `context` empty: the current-context.
absl::StatusOr<KubeConfig> LoadKubeconfig(const std::vector<std::string>& paths,
                                          absl::string_view context = {});
absl::StatusOr<KubeConfig> LoadKubeconfig(const std::string& path, absl::string_view context = {});
// One kubeconfig given as text: relative file paths in it are resolved against `base_dir`
// (files it names are still read); messages call it "kubeconfig (text)".
absl::StatusOr<KubeConfig> ParseKubeconfig(absl::string_view text, absl::string_view base_dir,
                                           absl::string_view context = {});

// In-cluster configuration from the service host and port and the service account
// directory (token, ca.crt, namespace). The token is used as token_file so that it is
// re-read when it rotates.
absl::StatusOr<KubeConfig> LoadInCluster(absl::string_view service_host,
                                         absl::string_view service_port,
                                         absl::string_view service_account_dir);
// The same from $KUBERNETES_SERVICE_HOST, $KUBERNETES_SERVICE_PORT and kServiceAccountDir.
absl::StatusOr<KubeConfig> LoadInCluster();

// Everything LoadDefault() looks at, so that tests need not change the environment.
struct ConfigSources {
  std::string kubeconfig_flag;  // --kubeconfig; empty when not given
  std::string context;          // --context; empty: the current-context
  std::string kubeconfig_env;   // $KUBECONFIG
  std::string service_host;     // $KUBERNETES_SERVICE_HOST
  std::string service_port;     // $KUBERNETES_SERVICE_PORT
  std::string service_account_dir = std::string(kServiceAccountDir);
  std::string home;  // $HOME
  // The process environment and standard locations, with the given flags.
  static ConfigSources FromEnvironment(absl::string_view kubeconfig_flag,
                                       absl::string_view context = {});
};

absl::StatusOr<KubeConfig> LoadDefault(const ConfigSources& sources);
// LoadDefault(ConfigSources::FromEnvironment(kubeconfig_flag, context)).
absl::StatusOr<KubeConfig> LoadDefault(absl::string_view kubeconfig_flag,
                                       absl::string_view context = {});

}  // namespace hb::kube
