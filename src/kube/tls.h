// TLS material of a KubeConfig applied to an OpenSSL client context: the cluster CA as the
// only trust anchor (like client-go), and the client certificate chain with its key.
#pragma once

#include <openssl/types.h>

#include <string>

#include "absl/status/status.h"

namespace hb::kube {

struct TlsMaterial {
  std::string ca_pem;           // empty: keep the context's trust store (system CAs)
  std::string client_cert_pem;  // leaf first, then intermediates
  std::string client_key_pem;   // secret
};

// Configures `ctx`: TLS 1.2 or newer, the trust store and the client identity. Error
// messages name what was wrong ("certificate authority", "client key") but never include
// key material.
absl::Status ConfigureTls(SSL_CTX* ctx, const TlsMaterial& material);
// Checks that the material parses and that key and certificate belong together.
absl::Status ValidateTls(const TlsMaterial& material);

}  // namespace hb::kube
