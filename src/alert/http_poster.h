// HttpPoster: POSTs one JSON body and says how it went, for the notification sinks.
//
// Post() blocks for at most `timeout` (connecting included) and never throws. The sinks
// call it from their own threads, never from the engine's. CurlPoster is the real one
// (libcurl, HTTP and HTTPS, system CA store; credentials in the URL are used for basic
// authentication and never logged: see RedactUrl). Thread-safety: one CurlPoster per thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace hb::alert {

struct PostResult {
  int http_status = 0;  // 0: no answer (connection refused, timed out, TLS failure)
  std::string error;    // why there was no answer, or the start of a non-2xx answer's body
  bool ok() const { return http_status >= 200 && http_status < 300; }
  // Worth retrying: no answer, 408, 429 or 5xx. Other 4xx answers will not change.
  bool retryable() const;
};

class HttpPoster {
 public:
  virtual ~HttpPoster() = default;
  // `headers` are "Name: value" lines; Content-Type: application/json is always sent.
  virtual PostResult Post(const std::string& url, const std::vector<std::string>& headers,
                          const std::string& body, absl::Duration timeout) = 0;
};

std::unique_ptr<HttpPoster> MakeCurlPoster();

// The URL without user information ("https://user:pw@host/x" -> "https://host/x"), for logs.
std::string RedactUrl(const std::string& url);

}  // namespace hb::alert
