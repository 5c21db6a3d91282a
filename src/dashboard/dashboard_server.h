// DashboardServer: the read-only web page of a HealthBoard, on its own bounded HttpServer
// (metrics/http_server.h).
//
//   GET /, /index.html, /app.js, /app.css   the page (embedded, dashboard/assets.h)
//   GET /api/snapshot                       every row now (dashboard/board_json.h)
//   GET /events                             Server-Sent Events: "snapshot" once, then "delta"
//                                           events with the rows changed since the last one
//
// Changes are coalesced: every `publish_interval` the publisher sends each stream one delta
// holding every row changed since the previous one (a row that changed ten times is sent
// once). Streams without a change for `ping_interval` get a comment, so a vanished client is
// noticed. Bounds: at most `max_streams` streams at once (beyond them 503 with a message);
// each has a StreamBuffer of `stream_buffer_bytes` (a client that falls that far behind is
// dropped rather than buffered for; its browser reconnects and starts from a snapshot);
// writes a client does not take within `request_timeout_ms` end its stream; the worker pool
// is `max_streams` + 4, so pages and snapshots are served while every stream is open.
// Nothing but the board's rows is ever sent: no etcd endpoint, user or credential.
//
// Thread-safety: the server answers on its own threads and publishes on one more;
// port()/streams()/dropped() from any thread; destruction ends every stream promptly.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/cancel.h"
#include "common/clock.h"
#include "dashboard/health_board.h"
#include "dashboard/sse.h"
#include "metrics/http_server.h"

namespace hb::dashboard {

struct DashboardOptions {
  std::string address = "127.0.0.1:8082";  // HOST:PORT; port 0 picks a free one
  int max_streams = 16;
  size_t stream_buffer_bytes = 16 << 20;
  absl::Duration publish_interval = absl::Milliseconds(500);
  absl::Duration ping_interval = absl::Seconds(15);
  int request_timeout_ms = 5000;
};

class DashboardServer {
 public:
  // `board` and `clock` must outlive the server. Fails naming the address when it cannot
  // listen.
  static absl::StatusOr<std::unique_ptr<DashboardServer>> Start(HealthBoard& board, Clock& clock,
                                                                const DashboardOptions& options);
  ~DashboardServer();
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  int port() const { return http_->port(); }
  int streams() const;                                  // open now
  uint64_t dropped() const { return dropped_.load(); }  // streams dropped for being slow
  // One publishing round now (the publisher thread runs it every publish_interval).
  void PublishNow();

 private:
  DashboardServer(HealthBoard& board, Clock& clock, DashboardOptions options)
      : board_(board), clock_(clock), options_(std::move(options)) {}
  void ServeStream(metrics::HttpStream& stream);
  // Registers a stream's buffer; null when max_streams are open.
  std::shared_ptr<StreamBuffer> Subscribe();
  void Unsubscribe(const std::shared_ptr<StreamBuffer>& buffer);
  metrics::HttpResponse Snapshot() const;

  HealthBoard& board_;
  Clock& clock_;
  const DashboardOptions options_;
  const CancelToken stop_;
  std::atomic<uint64_t> dropped_{0};

  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<StreamBuffer>> streams_ ABSL_GUARDED_BY(mu_);
  uint64_t published_seq_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread publisher_;
  std::unique_ptr<metrics::HttpServer> http_;  // stopped first on destruction
};

}  // namespace hb::dashboard
