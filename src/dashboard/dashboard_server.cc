#include "dashboard/dashboard_server.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "dashboard/assets.h"
#include "dashboard/board_json.h"

namespace hb::dashboard {
namespace {

metrics::HttpHandler ServeAsset(const Asset* asset) {
  return [asset] {
    return metrics::HttpResponse{200, std::string(asset->bytes()), asset->content_type};
  };
}

}  // namespace

absl::StatusOr<std::unique_ptr<DashboardServer>> DashboardServer::Start(
    HealthBoard& board, Clock& clock, const DashboardOptions& options) {
  std::unique_ptr<DashboardServer> server(new DashboardServer(board, clock, options));
  DashboardServer* self = server.get();
  std::map<std::string, metrics::HttpHandler> handlers;
  for (size_t i = 0; i < kEmbeddedAssetCount; ++i) {
    handlers[kEmbeddedAssets[i].path] = ServeAsset(&kEmbeddedAssets[i]);
  }
  if (const Asset* index = FindAsset("/index.html")) handlers["/"] = ServeAsset(index);
  handlers["/api/snapshot"] = [self] { return self->Snapshot(); };
  std::map<std::string, metrics::HttpStreamHandler> streams;
  streams["/events"] = [self](metrics::HttpStream& stream) { self->ServeStream(stream); };

  metrics::HttpLimits limits;
  limits.threads = options.max_streams + 4;
  limits.request_timeout_ms = options.request_timeout_ms;
  limits.queued_connections = 32;
  auto http = metrics::HttpServer::Start("dashboard", options.address, std::move(handlers), limits,
                                         std::move(streams));
  if (!http.ok()) return http.status();
  server->http_ = *std::move(http);
  server->publisher_ = std::thread([self] {
    while (self->clock_.SleepFor(self->options_.publish_interval, self->stop_)) self->PublishNow();
  });
  return server;
}

DashboardServer::~DashboardServer() {
  stop_.Cancel();
  if (publisher_.joinable()) publisher_.join();
  http_.reset();  // cancels its streams' `stopping`, which closes their buffers
}

int DashboardServer::streams() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(streams_.size());
}

void DashboardServer::PublishNow() {
  absl::MutexLock lock(&mu_);
  uint64_t seq = 0;
  std::vector<CapabilityRow> rows = board_.ChangedSince(published_seq_, &seq);
  published_seq_ = seq;
  if (rows.empty() || streams_.empty()) return;
  std::string event =
      SseEvent("delta", RenderBoardJson("delta", rows, board_.Summary(), board_.revision(),
                                        board_.prefix(), clock_.WallNow()));
  for (auto it = streams_.begin(); it != streams_.end();) {
    if ((*it)->Push(event)) {
      ++it;
      continue;
    }
    if ((*it)->overflowed()) {
      ++dropped_;
      LogWarning("Dropped a dashboard stream whose client fell behind",
                 {{"buffer_bytes", static_cast<int64_t>(options_.stream_buffer_bytes)}});
    }
    it = streams_.erase(it);
  }
}

std::shared_ptr<StreamBuffer> DashboardServer::Subscribe() {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(streams_.size()) >= options_.max_streams) return nullptr;
  streams_.push_back(std::make_shared<StreamBuffer>(options_.stream_buffer_bytes));
  return streams_.back();
}

void DashboardServer::Unsubscribe(const std::shared_ptr<StreamBuffer>& buffer) {
  absl::MutexLock lock(&mu_);
  streams_.erase(std::remove(streams_.begin(), streams_.end(), buffer), streams_.end());
}

metrics::HttpResponse DashboardServer::Snapshot() const {
  std::vector<CapabilityRow> rows = board_.Rows(nullptr);
  return {200,
          RenderBoardJson("snapshot", rows, board_.Summary(), board_.revision(), board_.prefix(),
                          clock_.WallNow()),
          "application/json"};
}

// Subscribed before the snapshot is read, so that the first delta covers whatever changed
// after it (a row in both is simply replaced by the page).
void DashboardServer::ServeStream(metrics::HttpStream& stream) {
  std::shared_ptr<StreamBuffer> buffer = Subscribe();
  if (buffer == nullptr) {
    if (stream.Begin(503, "text/plain; charset=utf-8")) {
      stream.Write(absl::StrCat("too many dashboard streams open (at most ", options_.max_streams,
                                "); close a dashboard tab or try again later\n"));
    }
    return;
  }
  CancelToken::Registration closing = stream.stopping().OnCancel([buffer] { buffer->Close(); });
  bool open = stream.Begin(200, "text/event-stream; charset=utf-8") &&
              stream.Write("retry: 2000\n\n") &&
              stream.Write(SseEvent("snapshot", Snapshot().body));
  std::string chunk;
  while (open) {
    switch (buffer->Pop(&chunk, options_.ping_interval)) {
      case StreamBuffer::PopResult::kData:
        open = stream.Write(chunk);
        break;
      case StreamBuffer::PopResult::kTimeout:
        open = stream.Write(SseComment("ping"));
        break;
      case StreamBuffer::PopResult::kClosed:
        open = false;
        break;
    }
  }
  Unsubscribe(buffer);
}

}  // namespace hb::dashboard
