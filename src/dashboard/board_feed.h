// BoardFeed: keeps a HealthBoard equal to what etcd holds under its prefix, so that the
// dashboard shows what consumers see, whoever wrote it.
//
// On its own thread: a full read of the prefix (paged Ranges), loaded into the board; then a
// watch from the read's revision + 1 (with previous values). Watch breaks are resumed by the
// client; a fatal one (the revision was compacted, the watch refused) or a failed read starts
// over from a full read after `retry`. The board's wall times come from the clock.
//
// Thread-safety: Start() and the destructor from one thread; the rest from any. Destruction
// stops the thread and the watch (waiting for a read in flight, at most etcd's call timeout).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/cancel.h"
#include "common/clock.h"
#include "dashboard/health_board.h"
#include "etcd/etcd_client.h"

namespace hb::dashboard {

struct FeedOptions {
  int64_t page_size = 1000;
  absl::Duration retry = absl::Seconds(1);
};

class BoardFeed {
 public:
  // `client`, `board` and `clock` must outlive the feed.
  BoardFeed(etcd::EtcdClient& client, HealthBoard& board, Clock& clock, FeedOptions options = {});
  ~BoardFeed();
  BoardFeed(const BoardFeed&) = delete;
  BoardFeed& operator=(const BoardFeed&) = delete;

  void Start();
  // Whether a full read has been loaded and its watch runs.
  bool Watching() const;
  // The last failure (read or fatal watch error); OK when there was none since the last read.
  absl::Status LastError() const;
  int64_t loads() const { return loads_.load(); }

 private:
  class Listener;
  void Run();
  // Reads every key under the prefix into the board; the read's revision.
  absl::StatusOr<int64_t> LoadAll();
  void WatchFailed(const absl::Status& status, bool fatal);

  etcd::EtcdClient& client_;
  HealthBoard& board_;
  Clock& clock_;
  const FeedOptions options_;
  const CancelToken stop_;
  std::unique_ptr<Listener> listener_;
  std::thread thread_;
  std::atomic<int64_t> loads_{0};

  mutable absl::Mutex mu_;
  bool watching_ ABSL_GUARDED_BY(mu_) = false;
  bool restart_ ABSL_GUARDED_BY(mu_) = false;  // a fatal watch error: read again
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hb::dashboard
