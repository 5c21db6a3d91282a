// Fuzz target: kubeconfig parsing (kube/config.h, ParseKubeconfig()).
//
// The input is one kubeconfig, resolved for its current-context and for the context "dev".
// Relative paths in it resolve against fuzz/data/kubeconfig, which holds a CA, a client
// certificate and key and a token file. A configuration that loads must keep the loader's
// rules: a server URL with http:// or https://, a client certificate only with its key,
// never both insecure-skip-tls-verify and a CA; Describe() must not show the token or the key.
//
// Inputs that could name device nodes, FIFOs or /proc files (which block or never end when
// read) are skipped: any mention of /dev, /proc, /sys, /run or /var, and backslashes (escapes
// in quoted YAML scalars could spell those paths).
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fuzz_support.h"
#include "kube/config.h"

namespace hb::kube {
namespace {

bool MayReadSpecialFiles(absl::string_view text) {
  for (absl::string_view bad : {"/dev", "/proc", "/sys", "/run", "/var", "\\"}) {
    if (absl::StrContains(text, bad)) return true;
  }
  return false;
}

void Check(const KubeConfig& c) {
  if (!absl::StartsWith(c.server, "https://") && !absl::StartsWith(c.server, "http://")) {
    fuzz::Fail("a kubeconfig loaded with a bad server", c.server);
  }
  if (c.client_cert_pem.empty() != c.client_key_pem.empty()) {
    fuzz::Fail("a kubeconfig loaded with a client certificate or key alone");
  }
  if (c.insecure_skip_tls_verify && !c.ca_pem.empty()) {
    fuzz::Fail("a kubeconfig loaded with both a CA and insecure-skip-tls-verify");
  }
  if (c.default_namespace.empty()) fuzz::Fail("a kubeconfig loaded without a namespace");
  // The description depends on whether there are secrets, never on what they are.
  KubeConfig other = c;
  if (!other.token.empty()) other.token = "other-token";
  if (!other.client_key_pem.empty()) other.client_key_pem = "other-key";
  if (Describe(c) != Describe(other)) fuzz::Fail("Describe() shows a secret", Describe(c));
}

}  // namespace
}  // namespace hb::kube

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text = hb::fuzz::AsText(data, size);
  if (hb::kube::MayReadSpecialFiles(text)) return 0;
  for (absl::string_view context : {absl::string_view(), absl::string_view("dev")}) {
    auto config = hb::kube::ParseKubeconfig(text, HB_FUZZ_KUBECONFIG_DIR, context);
    if (config.ok()) hb::kube::Check(*config);
  }
  return 0;
}
