#include "kube/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"

namespace hb::kube {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using CertPtr = std::unique_ptr<X509, X509Free>;

std::unique_ptr<BIO, BioFree> MemoryBio(const std::string& data) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// The reason OpenSSL gave for the last failure (no secrets: only library messages).
std::string OpensslReason() {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof(buffer));
  return buffer;
}

absl::Status Invalid(const char* what, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("invalid ", what, ": ", problem));
}

// Every certificate in a PEM bundle; an error when there is none.
absl::Status ReadCertificates(const std::string& pem, const char* what,
                              std::vector<CertPtr>& certs) {
  auto bio = MemoryBio(pem);
  if (bio == nullptr) return Invalid(what, OpensslReason());
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  ERR_clear_error();  // the loop always ends with "no start line"
  if (certs.empty()) return Invalid(what, "no PEM certificate found");
  return absl::OkStatus();
}

absl::Status UseTrustStore(SSL_CTX* ctx, const std::string& ca_pem) {
  std::vector<CertPtr> certs;
  if (absl::Status s = ReadCertificates(ca_pem, "certificate authority", certs); !s.ok()) return s;
  X509_STORE* store = X509_STORE_new();
  for (const auto& cert : certs) {
    if (X509_STORE_add_cert(store, cert.get()) != 1) {
      X509_STORE_free(store);
      return Invalid("certificate authority", OpensslReason());
    }
  }
  SSL_CTX_set_cert_store(ctx, store);  // takes ownership, frees the default store
  return absl::OkStatus();
}

absl::Status UseClientIdentity(SSL_CTX* ctx, const TlsMaterial& m) {
  std::vector<CertPtr> certs;
  if (absl::Status s = ReadCertificates(m.client_cert_pem, "client certificate", certs); !s.ok()) {
    return s;
  }
  if (SSL_CTX_use_certificate(ctx, certs[0].get()) != 1) {
    return Invalid("client certificate", OpensslReason());
  }
  for (size_t i = 1; i < certs.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, certs[i].get()) != 1) {
      return Invalid("client certificate chain", OpensslReason());
    }
  }
  auto bio = MemoryBio(m.client_key_pem);
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      bio == nullptr ? nullptr : PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    ERR_clear_error();
    return Invalid("client key", "no unencrypted PEM private key found");
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Invalid("client key", "does not match the client certificate");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ConfigureTls(SSL_CTX* ctx, const TlsMaterial& material) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (!material.ca_pem.empty()) {
    if (absl::Status s = UseTrustStore(ctx, material.ca_pem); !s.ok()) return s;
  }
  if (!material.client_cert_pem.empty() || !material.client_key_pem.empty()) {
    if (absl::Status s = UseClientIdentity(ctx, material); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateTls(const TlsMaterial& material) {
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return absl::InternalError(absl::StrCat("TLS: ", OpensslReason()));
  return ConfigureTls(ctx.get(), material);
}

}  // namespace hb::kube
