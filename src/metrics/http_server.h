// HttpServer: the small HTTP/1.1 server behind the operator's own endpoints (/metrics,
// /healthz, /readyz), on civetweb, with explicit bounds so that slow or hostile clients can
// delay it by at most a known amount and never grow its memory:
//  - at most `threads` connections are served at once; connections accepted beyond that wait
//    in a queue of `queued_connections`, then in the kernel's listen backlog;
//  - a request's line and headers must arrive within `request_timeout_ms` of a worker taking
//    the connection (in total: a client trickling a byte at a time is cut off all the same),
//    and at most `max_request_size` bytes of them are buffered;
//  - request bodies are never read: only GET is served, and a request carrying a body is
//    answered and its connection closed.
// So `threads` - 1 slow clients leave one worker to answer; more of them delay an answer by at
// most request_timeout_ms per `threads` slow clients queued ahead of it.
//
// Answers: a registered path (exact match, query string ignored) runs its handler (500 if it
// throws); another path 404, a method other than GET 405; a request that did not arrive in
// time 408 (a connection that sent nothing is just closed); a header block that is malformed
// or longer than max_request_size 400 (civetweb's answer; a client still sending may see only
// the reset). Each refusal closes the connection and logs a warning, at most 5 a minute.
// Stopping takes milliseconds, or up to min(2 s, request_timeout_ms) while a slow client is
// being read.
//
// Streaming answers (Server-Sent Events): a path registered as a stream handler gets the
// connection's HttpStream and keeps its worker until it returns. Its bounds: a stream holds
// one worker (size `threads` above the streams a caller admits); a write that the client does
// not take within request_timeout_ms fails (civetweb's send timeout), as does every write once
// the server stops; the connection is never kept alive after a stream. `stopping()` is
// cancelled first thing on destruction, so a handler waiting for data must wait on it too
// (CancelToken::OnCancel) and return promptly; destruction then waits for it.
//
// Thread-safety: handlers run on the worker threads, up to `threads` at once, and must be
// thread-safe. `port()` and `stats()` from any thread; destruction stops the server and waits
// for handlers in progress.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/cancel.h"

namespace hb::metrics {

struct HttpLimits {
  // Worker threads: connections served at once.
  int threads = 4;
  // Request line and headers must have arrived this long after a worker took the connection.
  int request_timeout_ms = 5000;
  // Bytes of request line and headers buffered per connection (civetweb's buffer).
  int max_request_size = 8 * 1024;
  // 0: every answer closes its connection. Otherwise an idle connection is kept this long
  // for a next request (holding its worker meanwhile), and that request must arrive within it.
  int keep_alive_timeout_ms = 0;
  // Accepted connections waiting for a worker; beyond them the kernel's backlog of this size.
  int queued_connections = 16;
  int listen_backlog = 64;
};

// InvalidArgument naming the first limit out of range.
absl::Status ValidateHttpLimits(const HttpLimits& limits);

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
};

using HttpHandler = std::function<HttpResponse()>;

// The connection a stream handler writes to; valid only during the handler's call.
class HttpStream {
 public:
  virtual ~HttpStream() = default;
  // Sends the status line and headers once (no Content-Length: the body ends when the
  // connection closes). False when the client is gone or the server stops.
  virtual bool Begin(int status, const std::string& content_type) = 0;
  // Sends bytes after Begin(); false when the client is gone, did not take them within
  // request_timeout_ms, or the server stops. After a false, return.
  virtual bool Write(absl::string_view bytes) = 0;
  // Cancelled when the server starts to stop.
  virtual const CancelToken& stopping() const = 0;
};

using HttpStreamHandler = std::function<void(HttpStream&)>;

struct HttpServerStats {
  uint64_t answered = 0;   // requests answered (any status)
  uint64_t timed_out = 0;  // connections cut off because their request did not arrive in time
  uint64_t rejected = 0;   // header blocks refused: malformed, cut short or over the size limit
};

class HttpServer {
 public:
  // Listens on `address` ("host:port"; port 0 picks a free one) and serves `handlers` by path.
  // `name` names the server in log lines and errors ("metrics", "health probes"). Fails,
  // naming the address, when the limits are invalid or the address cannot be listened on.
  // `streams` are answered by stream handlers (a path in both maps is served by `handlers`).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& name, const std::string& address,
      std::map<std::string, HttpHandler> handlers, const HttpLimits& limits = {},
      std::map<std::string, HttpStreamHandler> streams = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;  // the port listened on
  HttpServerStats stats() const;

 private:
  class Impl;  // civetweb's callbacks reach it
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hb::metrics
