#include "alert/notifier.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"

namespace hb::alert {

namespace {

std::string RandomRun() {
  std::random_device device;
  return absl::StrFormat("%08x", device());
}

}  // namespace

Notifier::Notifier(StatusSource status, Clock& clock, NotifierOptions options,
                   std::vector<std::unique_ptr<Sink>> sinks)
    : status_(std::move(status)),
      clock_(clock),
      options_(std::move(options)),
      run_(options_.run.empty() ? RandomRun() : options_.run),
      sinks_(std::move(sinks)),
      wake_(clock),
      tracker_(options_.policy) {
  for (const auto& sink : sinks_) {
    sink_wakes_.push_back(std::make_unique<Waiter>(clock));
    Waiter* wake = sink_wakes_.back().get();
    sink->SetWakeHook([wake] { wake->NotifyAll(); });
  }
}

Notifier::~Notifier() { Stop(); }

void Notifier::Changed(const std::string& identifier) {
  bool first = false;
  {
    absl::MutexLock lock(&mu_);
    if (dirty_.insert(identifier).second && dirty_.size() == 1) {
      first_dirty_ = clock_.Now();
      first = true;
    }
  }
  if (first) wake_.NotifyAll();
}

void Notifier::Start() {
  threads_.emplace_back([this] { TrackerLoop(); });
  for (size_t i = 0; i < sinks_.size(); ++i) {
    threads_.emplace_back([this, i] { SinkLoop(sinks_[i].get(), sink_wakes_[i].get()); });
  }
}

void Notifier::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  wake_.NotifyAll();
  for (const auto& wake : sink_wakes_) wake->NotifyAll();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void Notifier::TrackerLoop() {
  while (true) {
    const uint64_t epoch = wake_.Epoch();
    absl::Time deadline;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      deadline = next_due_;
      if (!dirty_.empty()) deadline = std::min(deadline, first_dirty_ + options_.batch);
    }
    if (clock_.Now() >= deadline) {
      const absl::Time next = RunDue(clock_.Now());
      absl::MutexLock lock(&mu_);
      next_due_ = next;
      continue;
    }
    wake_.WaitUntil(deadline, epoch);
  }
}

void Notifier::SinkLoop(Sink* sink, Waiter* wake) {
  while (true) {
    const uint64_t epoch = wake->Epoch();
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
    wake->WaitUntil(sink->RunDue(clock_.Now()), epoch);
  }
}

absl::Time Notifier::RunDue(absl::Time now) {
  absl::flat_hash_set<std::string> dirty;
  {
    absl::MutexLock lock(&mu_);
    dirty.swap(dirty_);
    first_dirty_ = absl::InfiniteFuture();
  }
  absl::MutexLock lock(&track_mu_);
  for (const std::string& id : dirty) {
    std::optional<heartbeat::HeartbeatStatus> status = status_(id);
    std::optional<StormChange> storm =
        status ? tracker_.Observe(id, LevelOf(*status), now) : tracker_.Remove(id, now);
    if (storm) NotifyStorm(*storm);
  }
  for (const DueChange& change : tracker_.TakeDue(now)) Notify(change);
  return tracker_.NextDue();
}

absl::Time Notifier::RunSinks(absl::Time now) {
  absl::Time next = absl::InfiniteFuture();
  for (const auto& sink : sinks_) next = std::min(next, sink->RunDue(now));
  return next;
}

std::string Notifier::NextId() { return absl::StrCat(run_, "-", ++sequence_); }

void Notifier::Notify(const DueChange& change) {
  Transition t;
  t.id = NextId();
  t.identifier = change.identifier;
  t.from = change.from;
  t.to = change.to;
  t.time = clock_.WallNow();
  if (change.to != AlertLevel::kRemoved) {
    t.status = status_(change.identifier);
    if (t.status) {
      t.source = t.status->source;
      LevelOf(*t.status, &t.reason);
    }
  }
  ++transitions_;
  LogInfo(absl::StrCat("Capability ", t.identifier, " is ", AlertLevelName(t.to), " (was ",
                       AlertLevelName(t.from), "): notifying"),
          {{"id", t.identifier}, {"notification", t.id}, {"reason", t.reason}});
  for (const auto& sink : sinks_) sink->Transition(t);
}

void Notifier::NotifyStorm(const StormChange& change) {
  StormSummary s;
  s.id = NextId();
  s.active = change.active;
  s.failing = change.failing;
  s.total = change.total;
  s.held = change.held;
  s.time = clock_.WallNow();
  s.share = options_.policy.share;
  if (s.active) ++storms_;
  LogWarning(
      s.active ? "Notification storm: many capabilities fail at once; holding "
                 "per-capability notifications and sending one summary"
               : "Notification storm over: sending the held notifications",
      {{"failing", s.failing}, {"total", s.total}, {"held", s.held}, {"notification", s.id}});
  for (const auto& sink : sinks_) sink->Storm(s);
}

NotifierStats Notifier::stats() const {
  NotifierStats s;
  {
    absl::MutexLock lock(&track_mu_);
    s.transitions = transitions_;
    s.storms = storms_;
    s.storm = tracker_.storm();
    s.held = tracker_.held();
    s.failing = tracker_.failing();
    s.total = tracker_.total();
  }
  for (const auto& sink : sinks_) s.sinks.emplace_back(sink->name(), sink->stats());
  return s;
}

}  // namespace hb::alert
