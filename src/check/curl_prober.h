// CurlProber: HTTP(S) and TCP probes on libcurl's multi interface, one thread for all.
//
// libcurl (Debian's libcurl4-openssl) does the HTTP and TLS: request writing, response
// parsing, chunked bodies, keep-alive, certificate checks. Its multi interface runs any
// number of transfers on one thread without blocking, and its connection cache keeps
// connections open between probes of the same host:port (HTTP keep-alive), so a check
// every 10 s costs a request, not a TCP and TLS handshake.
//
// kHttp: GET spec.url with spec.headers and the bearer token (read from its file, at most
// every 30 s; never logged), TLS options from spec.tls, redirects not followed. A 2xx
// answer passes, unless its body is a JSON object whose "status" is not "healthy"; its
// "dependencies" object is passed on. Anything else fails with the reason ("HTTP 503",
// "connection refused", "timeout after 2000 ms", ...).
// kTcp: a fresh connection to host:port within the timeout, closed at once.
//
// Thread-safe; Probe() never blocks (it queues the probe and wakes the thread). `done`
// runs on the prober's thread. The destructor stops the thread and abandons probes in
// flight without calling `done`.
#pragma once

#include <memory>
#include <string>

#include "check/prober.h"

namespace hb::check {

struct CurlProberOptions {
  long max_connections = 1024;      // connections kept open for reuse
  long max_body_bytes = 64 * 1024;  // more of a body is not read for its JSON status
  std::string files_dir;            // token and TLS files only from here ("": anywhere)
};

class CurlProber final : public Prober {
 public:
  explicit CurlProber(CurlProberOptions options = {});
  ~CurlProber() override;
  CurlProber(const CurlProber&) = delete;
  CurlProber& operator=(const CurlProber&) = delete;

  void Probe(const CheckSpec& spec, ProbeDone done) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hb::check
