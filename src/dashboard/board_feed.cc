#include "dashboard/board_feed.h"

#include <utility>
#include <vector>

#include "common/log.h"

namespace hb::dashboard {

class BoardFeed::Listener final : public etcd::WatchListener {
 public:
  explicit Listener(BoardFeed& feed) : feed_(feed) {}
  void OnWatchEvents(const std::vector<etcd::WatchEvent>& events) override {
    feed_.board_.Apply(events, feed_.clock_.WallNow());
  }
  void OnWatchError(const absl::Status& status, bool fatal) override {
    feed_.WatchFailed(status, fatal);
  }

 private:
  BoardFeed& feed_;
};

BoardFeed::BoardFeed(etcd::EtcdClient& client, HealthBoard& board, Clock& clock,
                     FeedOptions options)
    : client_(client),
      board_(board),
      clock_(clock),
      options_(options),
      listener_(std::make_unique<Listener>(*this)) {}

BoardFeed::~BoardFeed() {
  stop_.Cancel();
  if (thread_.joinable()) thread_.join();
}

void BoardFeed::Start() {
  thread_ = std::thread([this] { Run(); });
}

bool BoardFeed::Watching() const {
  absl::MutexLock lock(&mu_);
  return watching_;
}

absl::Status BoardFeed::LastError() const {
  absl::MutexLock lock(&mu_);
  return last_error_;
}

void BoardFeed::WatchFailed(const absl::Status& status, bool fatal) {
  if (!fatal) return;  // resumed by the client from the next unseen revision
  LogWarning("Dashboard watch ended; reading the health keys again",
             {{"prefix", board_.prefix()}, {"error", status.message()}});
  absl::MutexLock lock(&mu_);
  watching_ = false;
  restart_ = true;
  last_error_ = status;
}

absl::StatusOr<int64_t> BoardFeed::LoadAll() {
  std::vector<etcd::KeyValue> kvs;
  int64_t revision = 0;
  etcd::RangeRequest request = etcd::RangeRequest::Prefix(board_.prefix(), options_.page_size);
  while (!stop_.IsCancelled()) {
    auto page = etcd::RangeSync(client_, request);
    if (!page.ok()) return page.status();
    if (revision == 0) revision = page->revision;
    for (auto& kv : page->kvs) kvs.push_back(std::move(kv));
    if (!page->more || kvs.empty()) break;
    request.key = kvs.back().key + std::string(1, '\0');
  }
  // Later pages may be newer than the first: the watch from the first page's revision
  // replays what changed meanwhile, and the board ignores what is older than it holds.
  board_.Load(kvs, revision, clock_.WallNow());
  ++loads_;
  return revision;
}

void BoardFeed::Run() {
  while (!stop_.IsCancelled()) {
    absl::StatusOr<int64_t> revision = LoadAll();
    if (!revision.ok()) {
      LogWarning("Dashboard cannot read the health keys; retrying",
                 {{"prefix", board_.prefix()}, {"error", revision.status().message()}});
      {
        absl::MutexLock lock(&mu_);
        last_error_ = revision.status();
      }
      clock_.SleepFor(options_.retry, stop_);
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      watching_ = true;
      restart_ = false;
      last_error_ = absl::OkStatus();
    }
    etcd::WatchRequest watch;
    watch.key = board_.prefix();
    watch.range_end = etcd::PrefixEnd(board_.prefix());
    watch.start_revision = *revision + 1;
    watch.prev_kv = true;
    std::unique_ptr<etcd::WatchHandle> handle = client_.Watch(watch, listener_.get());
    stop_.AwaitUnlessCancelled(mu_, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return restart_; });
    handle.reset();  // no callback runs after this
    if (!stop_.IsCancelled()) clock_.SleepFor(options_.retry, stop_);
  }
}

}  // namespace hb::dashboard
