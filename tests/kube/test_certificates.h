// Self-signed EC certificates for the TLS tests, made with the openssl command line.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "support/process.h"

namespace hb::kube::testing {

// Writes `dir`/`name`.crt and `dir`/`name`.key (openssl's output goes to `dir`/`name`.log).
inline bool MakeSelfSignedCertificate(const std::string& dir, const std::string& name) {
  hb::testing::Process openssl(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=" + name, "-keyout",
       absl::StrCat(dir, "/", name, ".key"), "-out", absl::StrCat(dir, "/", name, ".crt")},
      absl::StrCat(dir, "/", name, ".log"));
  return openssl.Wait(absl::Seconds(30)) == 0;
}

}  // namespace hb::kube::testing
