#include "etcd/watch_stream.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace hb::etcd::internal {
namespace {

KeyValue FromProto(const mvccpb::KeyValue& kv) {
  return KeyValue{kv.key(),          kv.value(),  kv.lease(), kv.create_revision(),
                  kv.mod_revision(), kv.version()};
}

}  // namespace

WatchStream::WatchStream(GrpcTransport& transport, hb::etcd::WatchRequest request,
                         WatchListener* listener)
    : ReconnectingStream(transport, "watch"),
      request_(std::move(request)),
      listener_(listener),
      next_revision_(request_.start_revision) {
  Connect();
}

WatchStream::~WatchStream() { Close(); }

std::unique_ptr<WatchStream::Stream> WatchStream::Open(Connection& conn, grpc::ClientContext* ctx,
                                                       grpc::CompletionQueue* cq) {
  return conn.watch->PrepareAsyncWatch(ctx, cq);
}

void WatchStream::OnUp(Later& /*later*/) {
  etcdserverpb::WatchRequest create;
  auto* c = create.mutable_create_request();
  c->set_key(request_.key);
  c->set_range_end(request_.range_end);
  c->set_start_revision(next_revision_);  // resumes after the last revision delivered
  c->set_prev_kv(request_.prev_kv);
  c->set_progress_notify(true);
  Write(create);
}

bool WatchStream::OnMessage(const etcdserverpb::WatchResponse& r, Later& later) {
  WatchListener* listener = listener_;
  if (r.compact_revision() != 0 || r.canceled()) {
    absl::Status error =
        r.compact_revision() != 0
            ? absl::OutOfRangeError(
                  absl::StrCat("etcd watch start revision was compacted (oldest available: ",
                               r.compact_revision(), ")"))
            : absl::FailedPreconditionError(
                  absl::StrCat("etcd cancelled the watch: ",
                               r.cancel_reason().empty() ? "no reason given" : r.cancel_reason()));
    later.push_back([listener, error] { listener->OnWatchError(error, /*fatal=*/true); });
    return false;
  }
  ResetBackoff();
  std::vector<WatchEvent> events;
  events.reserve(static_cast<size_t>(r.events_size()));
  for (const auto& e : r.events()) {
    WatchEvent event;
    event.type =
        e.type() == mvccpb::Event::DELETE ? WatchEvent::Type::kDelete : WatchEvent::Type::kPut;
    event.kv = FromProto(e.kv());
    event.has_prev_kv = e.has_prev_kv();
    if (event.has_prev_kv) event.prev_kv = FromProto(e.prev_kv());
    events.push_back(std::move(event));
  }
  if (r.header().revision() >= next_revision_) next_revision_ = r.header().revision() + 1;
  if (!events.empty()) {
    later.push_back([listener, events = std::move(events)] { listener->OnWatchEvents(events); });
  }
  return true;
}

void WatchStream::OnDown(const absl::Status& why, absl::Duration /*retry_in*/, Later& later) {
  WatchListener* listener = listener_;
  later.push_back([listener, why] { listener->OnWatchError(why, /*fatal=*/false); });
}

}  // namespace hb::etcd::internal
