#include "informer/informer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace hb::informer {
namespace {

// A watch shorter than this that delivered no object event ended "quietly".
constexpr absl::Duration kQuietWatch = absl::Seconds(1);

// "1.6s", "498ms": delays for logs.
std::string Rounded(absl::Duration delay) {
  return absl::FormatDuration(absl::Trunc(delay, absl::Milliseconds(1)));
}

}  // namespace

Informer::Informer(kube::KubeClient& client, Clock& clock, InformerOptions options)
    : client_(client),
      clock_(clock),
      options_(std::move(options)),
      name_(options_.name.empty() ? options_.ref.resource : options_.name),
      jitter_(options_.jitter_seed != 0 ? options_.jitter_seed : Jitter::RandomSeed()),
      backoff_(options_.backoff),
      cache_(options_.cache_transform) {}

void Informer::AddHandler(Handler handler) { handlers_.push_back(std::move(handler)); }

void Informer::Run(const CancelToken& cancel) {
  LogDebug("informer starting", {{"informer", name_}});
  State state = State::kListing;
  while (!cancel.IsCancelled()) {
    state = state == State::kListing ? List(cancel) : Watch(cancel);
  }
  LogDebug("informer stopped", {{"informer", name_}});
}

Informer::State Informer::List(const CancelToken& cancel) {
  kube::ListOptions list;
  list.label_selector = options_.label_selector;
  list.field_selector = options_.field_selector;
  list.limit = options_.page_size;
  auto listed = kube::ListAll(client_, options_.ref, list);
  if (!listed.ok()) {
    if (!cancel.IsCancelled()) Failed("list", listed.status(), cancel);
    return State::kListing;
  }
  size_t objects = listed->items.size();
  if (options_.transform) {
    for (nlohmann::json& item : listed->items) item = options_.transform(std::move(item));
  }
  std::vector<InformerEvent> events = cache_.Replace(std::move(listed->items));
  backoff_.Reset();
  Recovered("list");
  SetResourceVersion(listed->resource_version);
  bool first;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.lists;
    first = !synced_;
  }
  int counts[3] = {0, 0, 0};
  for (const auto& event : events) ++counts[event.type];
  LogInfo(first ? "informer synced" : "informer re-listed",
          {{"informer", name_},
           {"objects", objects},
           {"added", counts[InformerEvent::kAdded]},
           {"updated", counts[InformerEvent::kUpdated]},
           {"deleted", counts[InformerEvent::kDeleted]},
           {"resourceVersion", rv_}});
  for (const auto& event : events) Emit(event);
  if (first) {
    absl::MutexLock lock(&mu_);
    synced_ = true;
  }
  return State::kWatching;
}

Informer::State Informer::Watch(const CancelToken& cancel) {
  kube::WatchOptions watch;
  watch.resource_version = rv_;
  watch.label_selector = options_.label_selector;
  watch.field_selector = options_.field_selector;
  watch.allow_bookmarks = true;
  watch.timeout_seconds = options_.watch_timeout_seconds;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.watches;
  }
  const absl::Time started = clock_.Now();
  bool opened = false;
  bool progress = false;
  absl::Status status = client_.Watch(
      options_.ref, watch,
      [&](kube::WatchEvent event) {
        if (!opened) {  // the watch is established: a failure streak is over
          opened = true;
          backoff_.Reset();
          Recovered("watch");
        }
        OnWatchEvent(std::move(event), &progress);
        return absl::OkStatus();
      },
      cancel);
  if (cancel.IsCancelled()) return State::kWatching;
  if (progress) quiet_restarts_ = 0;
  const bool quiet = !progress && clock_.Now() - started < kQuietWatch;
  if (kube::IsGone(status)) {
    {
      absl::MutexLock lock(&mu_);
      ++stats_.relists_after_gone;
    }
    LogInfo("watch expired (410); re-listing", {{"informer", name_},
                                                {"resourceVersion", watch.resource_version},
                                                {"error", std::string(status.message())}});
    if (quiet) PauseIfRestartingQuietly(cancel);
    return State::kListing;
  }
  if (!status.ok()) {
    Failed("watch", status, cancel);
    return State::kWatching;
  }
  LogDebug("watch ended by the server; re-watching",
           {{"informer", name_}, {"resourceVersion", rv_}});
  if (quiet) PauseIfRestartingQuietly(cancel);
  return State::kWatching;
}

void Informer::PauseIfRestartingQuietly(const CancelToken& cancel) {
  if (++quiet_restarts_ < 2) return;
  absl::Duration delay = backoff_.Next(jitter_);
  LogDebug("watches end without events; waiting before the next one",
           {{"informer", name_}, {"delay", Rounded(delay)}});
  clock_.SleepFor(delay, cancel);
}

void Informer::OnWatchEvent(kube::WatchEvent event, bool* progress) {
  std::string rv = kube::ObjectResourceVersion(event.object);
  if (event.type == kube::WatchEventType::kBookmark) {
    if (!rv.empty()) SetResourceVersion(rv);
    return;
  }
  *progress = true;
  if (options_.transform) event.object = options_.transform(std::move(event.object));
  std::optional<InformerEvent> change = cache_.Apply(event.type, std::move(event.object));
  if (!rv.empty()) SetResourceVersion(rv);
  if (change.has_value()) Emit(*change);
}

void Informer::Emit(const InformerEvent& event) {
  // A handler that throws must neither end the process (this is the informer's thread)
  // nor keep the event from the other handlers.
  for (const auto& handler : handlers_) {
    std::string error;
    try {
      handler(event);
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
    if (error.empty()) continue;
    {
      absl::MutexLock lock(&mu_);
      ++stats_.handler_errors;
    }
    LogError("An event handler failed; the event went to the other handlers",
             {{"informer", name_}, {"object", event.key}, {"error", error}});
  }
}

void Informer::SetResourceVersion(const std::string& rv) {
  rv_ = rv;
  absl::MutexLock lock(&mu_);
  stats_.last_resource_version = rv;
}

void Informer::Failed(const char* what, const absl::Status& status, const CancelToken& cancel) {
  {
    absl::MutexLock lock(&mu_);
    ++stats_.errors;
  }
  // A server asking for a longer pause (429 Retry-After) gets it.
  absl::Duration delay = std::max(backoff_.Next(jitter_), kube::RetryAfter(status));
  std::string message = absl::StrCat(what, " failed; retrying in ", Rounded(delay));
  if (failing_ != what) {
    failing_ = what;
    failures_ = 1;
    LogWarning(message, {{"informer", name_}, {"error", std::string(status.message())}});
  } else {
    ++failures_;
    LogDebug(
        message,
        {{"informer", name_}, {"failures", failures_}, {"error", std::string(status.message())}});
  }
  clock_.SleepFor(delay, cancel);
}

void Informer::Recovered(const char* what) {
  if (failing_ != what) return;
  LogInfo(absl::StrCat(what, " recovered"), {{"informer", name_}, {"failures", failures_}});
  failing_.clear();
  failures_ = 0;
}

bool Informer::HasSynced() const {
  absl::MutexLock lock(&mu_);
  return synced_;
}

bool Informer::WaitForSync(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&synced_), timeout);
}

bool Informer::WaitForSync(const CancelToken& cancel) const {
  return cancel.AwaitUnlessCancelled(mu_, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return synced_;  // evaluated with mu_ held
  });
}

std::optional<nlohmann::json> Informer::Get(const std::string& key) const {
  return cache_.Get(key);
}

std::vector<nlohmann::json> Informer::List() const { return cache_.List(); }

Informer::Stats Informer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace hb::informer
