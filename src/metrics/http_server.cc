#include "metrics/http_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/log_limiter.h"

// Exported by civetweb 1.15 (src/civetweb.c); its header declares it only from 1.16 on.
extern "C" void mg_disable_connection_keep_alive(struct mg_connection* conn);

namespace hb::metrics {
namespace {

using SteadyClock = std::chrono::steady_clock;

// What a worker thread knows of the connection it serves: when its current request began to
// arrive (civetweb starts its request timer there too: once the connection is taken, then
// after each answer), how many requests it answered, and whether a refusal was counted.
// civetweb serves a connection on one worker thread from start to close.
struct WorkerConnection {
  SteadyClock::time_point since;
  int answered = 0;
  bool refused = false;
};
thread_local WorkerConnection tl_connection;

int64_t MillisSince(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

// The IPv4 address a local client reaches a server listening on `address` at ("" if none).
std::string WakeHost(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  in_addr ip{};
  if (host.empty() || host == "0.0.0.0" || host == "localhost") return "127.0.0.1";
  return inet_pton(AF_INET, host.c_str(), &ip) == 1 ? host : "";
}

// Connects to host:port and hangs up at once.
void Wake(const std::string& host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1) {
    connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  }
  close(fd);
}

void InitCivetweb() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

void Send(mg_connection* conn, const HttpResponse& response, bool allow_get) {
  std::string length = std::to_string(response.body.size());
  mg_response_header_start(conn, response.status);
  mg_response_header_add(conn, "Content-Type", response.content_type.c_str(), -1);
  mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  if (allow_get) mg_response_header_add(conn, "Allow", "GET", -1);
  mg_response_header_send(conn);
  mg_write(conn, response.body.data(), response.body.size());
}

// A stream handler's connection: headers once, then raw bytes until the handler returns.
class CivetStream final : public HttpStream {
 public:
  CivetStream(mg_connection* conn, const CancelToken& stopping)
      : conn_(conn), stopping_(stopping) {}

  bool Begin(int status, const std::string& content_type) override {
    if (status_ != 0 || stopping_.IsCancelled()) return false;
    status_ = status;
    mg_response_header_start(conn_, status);
    mg_response_header_add(conn_, "Content-Type", content_type.c_str(), -1);
    mg_response_header_add(conn_, "Cache-Control", "no-store", -1);
    mg_response_header_add(conn_, "Connection", "close", -1);
    failed_ = mg_response_header_send(conn_) < 0;
    return !failed_;
  }
  bool Write(absl::string_view bytes) override {
    if (status_ == 0 || failed_ || stopping_.IsCancelled()) return false;
    if (bytes.empty()) return true;
    int written = mg_write(conn_, bytes.data(), bytes.size());
    failed_ = written <= 0 || static_cast<size_t>(written) < bytes.size();
    return !failed_;
  }
  const CancelToken& stopping() const override { return stopping_; }
  int status() const { return status_; }  // 0: Begin() was not called

 private:
  mg_connection* const conn_;
  const CancelToken& stopping_;
  int status_ = 0;
  bool failed_ = false;
};

}  // namespace

absl::Status ValidateHttpLimits(const HttpLimits& limits) {
  struct Bound {
    const char* name;
    int value;
    int min;
    int max;
  };
  for (const Bound& b :
       {Bound{"threads", limits.threads, 1, 1024},
        Bound{"request_timeout_ms", limits.request_timeout_ms, 1, 3600 * 1000},
        Bound{"max_request_size", limits.max_request_size, 1024, 1 << 24},
        Bound{"keep_alive_timeout_ms", limits.keep_alive_timeout_ms, 0, 3600 * 1000},
        Bound{"queued_connections", limits.queued_connections, 1, 1 << 16},
        Bound{"listen_backlog", limits.listen_backlog, 1, 1 << 16}}) {
    if (b.value < b.min || b.value > b.max) {
      return absl::InvalidArgumentError(absl::StrCat("HTTP server limit ", b.name, " = ", b.value,
                                                     ": expected ", b.min, " to ", b.max));
    }
  }
  return absl::OkStatus();
}

class HttpServer::Impl {
 public:
  Impl(std::string name, std::map<std::string, HttpHandler> handlers,
       std::map<std::string, HttpStreamHandler> streams, HttpLimits limits)
      : name_(std::move(name)),
        handlers_(std::move(handlers)),
        streams_(std::move(streams)),
        limits_(limits) {}
  ~Impl() { Stop(); }

  absl::Status Start(const std::string& address);
  void Stop();
  int port() const;
  HttpServerStats stats() const { return {answered_.load(), timed_out_.load(), rejected_.load()}; }

 private:
  static Impl* Of(const mg_connection* conn) {
    return static_cast<Impl*>(mg_get_user_data(mg_get_context(conn)));
  }
  // civetweb's callbacks, on its worker threads.
  static int OnRequest(mg_connection* conn) { return Of(conn)->Serve(conn); }
  static int OnError(mg_connection* conn, int status, const char* message) {
    return Of(conn)->Refuse(conn, status, message);
  }
  static int OnInitConnection(const mg_connection*, void**) {
    tl_connection = WorkerConnection{SteadyClock::now(), 0, false};
    return 0;
  }
  static void OnEndRequest(const mg_connection*, int) {
    tl_connection.since = SteadyClock::now();
    ++tl_connection.answered;
  }
  static void OnClose(const mg_connection* conn) { Of(conn)->Closed(conn); }
  static int OnLog(const mg_connection* conn, const char* message);

  int Serve(mg_connection* conn);
  int ServeStream(mg_connection* conn, const HttpStreamHandler& handler, const char* path);
  int Refuse(mg_connection* conn, int status, const char* message);
  void Closed(const mg_connection* conn);
  // The request timeout civetweb applies to the request now arriving on this worker.
  int CurrentTimeoutMs() const {
    return tl_connection.answered > 0 && limits_.keep_alive_timeout_ms > 0
               ? limits_.keep_alive_timeout_ms
               : limits_.request_timeout_ms;
  }
  // Whether a warning may be logged now (5 a minute per server; then the number suppressed).
  bool MayWarn();
  static std::string Client(const mg_connection* conn) {
    return mg_get_request_info(conn)->remote_addr;
  }

  // Constant after construction.
  const std::string name_;
  const std::map<std::string, HttpHandler> handlers_;
  const std::map<std::string, HttpStreamHandler> streams_;
  const HttpLimits limits_;
  const CancelToken stopping_;  // cancelled when Stop() begins: stream handlers return

  mg_callbacks callbacks_{};
  mg_context* context_ = nullptr;     // set by Start, cleared by Stop (one thread)
  std::string wake_host_;             // set by Start
  std::atomic<bool> serving_{false};  // false while starting and stopping: no warnings then
  std::atomic<uint64_t> answered_{0};
  std::atomic<uint64_t> timed_out_{0};
  std::atomic<uint64_t> rejected_{0};
  absl::Mutex log_mu_;
  LogLimiter log_limiter_ ABSL_GUARDED_BY(log_mu_){5, absl::Minutes(1)};
  std::string start_error_ ABSL_GUARDED_BY(log_mu_);  // civetweb's first message while starting
};

absl::Status HttpServer::Impl::Start(const std::string& address) {
  InitCivetweb();
  callbacks_.begin_request = &OnRequest;
  callbacks_.http_error = &OnError;
  callbacks_.init_connection = &OnInitConnection;
  callbacks_.end_request = &OnEndRequest;
  callbacks_.connection_close = &OnClose;
  callbacks_.log_message = &OnLog;
  std::vector<std::pair<std::string, std::string>> options = {
      {"listening_ports", address},
      {"num_threads", std::to_string(limits_.threads)},
      {"request_timeout_ms", std::to_string(limits_.request_timeout_ms)},
      {"max_request_size", std::to_string(limits_.max_request_size)},
      {"enable_keep_alive", limits_.keep_alive_timeout_ms > 0 ? "yes" : "no"},
      {"keep_alive_timeout_ms", std::to_string(limits_.keep_alive_timeout_ms)},
      {"connection_queue", std::to_string(limits_.queued_connections)},
      {"listen_backlog", std::to_string(limits_.listen_backlog)},
      {"enable_directory_listing", "no"},
      {"enable_auth_domain_check", "no"},
  };
  std::vector<const char*> argv;
  for (const auto& [key, value] : options) {
    argv.push_back(key.c_str());
    argv.push_back(value.c_str());
  }
  argv.push_back(nullptr);
  mg_init_data init{&callbacks_, this, argv.data()};
  unsigned code = 0;
  char text[256] = "";
  mg_error_data error{&code, text, sizeof(text)};
  context_ = mg_start2(&init, &error);
  if (context_ == nullptr) {
    absl::MutexLock lock(&log_mu_);  // civetweb's own message says why ("cannot bind to ...")
    std::string why = !start_error_.empty() ? start_error_
                      : text[0] != '\0'     ? std::string(text)
                                            : "civetweb did not start";
    return absl::UnavailableError(absl::StrCat("cannot serve ", name_, " on ", address, ": ", why));
  }
  wake_host_ = WakeHost(address);
  serving_ = true;
  return absl::OkStatus();
}

// civetweb's accept loop sees a stop only between polls of up to 2 s; a connection to the
// listening socket ends the poll at once, so stopping takes milliseconds, not seconds.
void HttpServer::Impl::Stop() {
  serving_ = false;
  stopping_.Cancel();
  if (context_ == nullptr) return;
  int port = this->port();
  std::atomic<bool> stopped{false};
  std::thread stopper;
  try {
    stopper = std::thread([this, &stopped] {
      mg_stop(context_);
      stopped = true;
    });
  } catch (const std::system_error&) {  // no thread to spare: stop the slow way
    mg_stop(context_);
    context_ = nullptr;
    return;
  }
  while (!stopped && !wake_host_.empty() && port > 0) {
    Wake(wake_host_, port);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stopper.join();
  context_ = nullptr;
}

int HttpServer::Impl::port() const {
  mg_server_port ports[1] = {};
  if (context_ == nullptr || mg_get_server_ports(context_, 1, ports) < 1) return 0;
  return ports[0].port;
}

int HttpServer::Impl::Serve(mg_connection* conn) {
  const mg_request_info* request = mg_get_request_info(conn);
  const char* path = request->local_uri != nullptr ? request->local_uri : "";
  bool get = std::strcmp(request->request_method, "GET") == 0;
  // A body is never read, so its connection cannot carry another request.
  if (!get || request->content_length > 0 || mg_get_header(conn, "Transfer-Encoding") != nullptr) {
    mg_disable_connection_keep_alive(conn);
  }
  HttpResponse response;
  auto handler = handlers_.find(path);
  if (get && handler == handlers_.end()) {
    if (auto stream = streams_.find(path); stream != streams_.end()) {
      return ServeStream(conn, stream->second, path);
    }
  }
  if (!get) {
    response = {405, "method not allowed: only GET is served\n"};
  } else if (handler == handlers_.end()) {
    response = {404, "not found\n"};
  } else {
    try {
      response = handler->second();
    } catch (const std::exception& e) {
      LogError("HTTP handler failed", {{"server", name_}, {"path", path}, {"error", e.what()}});
      response = {500, "internal error\n"};
    } catch (...) {
      LogError("HTTP handler failed", {{"server", name_}, {"path", path}});
      response = {500, "internal error\n"};
    }
  }
  ++answered_;
  Send(conn, response, !get);
  return response.status;
}

int HttpServer::Impl::ServeStream(mg_connection* conn, const HttpStreamHandler& handler,
                                  const char* path) {
  mg_disable_connection_keep_alive(conn);
  CivetStream stream(conn, stopping_);
  try {
    handler(stream);
  } catch (const std::exception& e) {
    LogError("HTTP stream handler failed",
             {{"server", name_}, {"path", path}, {"error", e.what()}});
  } catch (...) {
    LogError("HTTP stream handler failed", {{"server", name_}, {"path", path}});
  }
  ++answered_;
  if (stream.status() == 0) {  // nothing sent yet
    Send(conn, {500, "internal error\n"}, false);
    return 500;
  }
  return stream.status();
}

// civetweb could not read a request: `status` 400 both when the request did not arrive within
// the timeout and when the header block is malformed, cut short or over max_request_size.
int HttpServer::Impl::Refuse(mg_connection* conn, int status, const char* message) {
  tl_connection.refused = true;
  int timeout_ms = CurrentTimeoutMs();
  if (status == 400 && MillisSince(tl_connection.since) >= timeout_ms) {
    ++timed_out_;
    if (MayWarn()) {
      LogWarning("Cut off an HTTP client whose request did not arrive in time",
                 {{"server", name_}, {"client", Client(conn)}, {"timeout_ms", timeout_ms}});
    }
    Send(conn, {408, "request timeout\n"}, false);
    return 0;  // answered here; civetweb closes the connection
  }
  ++rejected_;
  if (MayWarn()) {
    LogWarning("Refused an HTTP request: malformed, cut short or over max_request_size",
               {{"server", name_},
                {"client", Client(conn)},
                {"status", status},
                {"error", message != nullptr ? message : ""},
                {"max_request_size", limits_.max_request_size}});
  }
  return 1;  // civetweb answers
}

// A connection that sent nothing at all is closed by civetweb without an answer.
void HttpServer::Impl::Closed(const mg_connection* conn) {
  if (tl_connection.answered > 0 || tl_connection.refused) return;
  int timeout_ms = CurrentTimeoutMs();
  if (MillisSince(tl_connection.since) < timeout_ms) return;  // the client closed first
  ++timed_out_;
  if (MayWarn()) {
    LogWarning("Cut off an HTTP client that sent no request in time",
               {{"server", name_}, {"client", Client(conn)}, {"timeout_ms", timeout_ms}});
  }
}

int HttpServer::Impl::OnLog(const mg_connection* conn, const char* message) {
  Impl* self = conn != nullptr ? Of(conn) : nullptr;
  if (self != nullptr && !self->serving_) {  // while starting: kept for Start's status
    absl::MutexLock lock(&self->log_mu_);
    if (self->start_error_.empty() && message != nullptr) self->start_error_ = message;
  } else if (self != nullptr && self->MayWarn()) {
    LogWarning("HTTP server error",
               {{"server", self->name_}, {"error", message != nullptr ? message : ""}});
  }
  return 1;  // civetweb writes nothing itself
}

bool HttpServer::Impl::MayWarn() {
  if (!serving_) return false;  // a stop cuts requests short: not the clients' doing
  int64_t suppressed = 0;
  {
    absl::MutexLock lock(&log_mu_);
    if (!log_limiter_.Allow(absl::Now(), &suppressed)) return false;
  }
  if (suppressed > 0) {
    LogWarning("Similar HTTP server warnings were suppressed",
               {{"server", name_}, {"suppressed", suppressed}, {"window", "1m"}});
  }
  return true;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& name, const std::string& address,
    std::map<std::string, HttpHandler> handlers, const HttpLimits& limits,
    std::map<std::string, HttpStreamHandler> streams) {
  if (absl::Status valid = ValidateHttpLimits(limits); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot serve ", name, " on ", address, ": ", valid.message()));
  }
  auto impl = std::make_unique<Impl>(name, std::move(handlers), std::move(streams), limits);
  if (absl::Status started = impl->Start(address); !started.ok()) return started;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;
int HttpServer::port() const { return impl_->port(); }
HttpServerStats HttpServer::stats() const { return impl_->stats(); }

}  // namespace hb::metrics
