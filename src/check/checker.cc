#include "check/checker.h"

#include <algorithm>
#include <deque>
#include <queue>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/jitter.h"
#include "common/log.h"

namespace hb::check {

class Checker::Impl {
 public:
  Impl(Clock& clock, CheckerOptions options, CheckStats& stats)
      : clock_(clock),
        options_(options),
        stats_(stats),
        jitter_(options.seed != 0 ? options.seed : Jitter::RandomSeed()),
        wake_(clock) {}

  void SetProber(CheckKind kind, Prober* prober) { probers_[static_cast<int>(kind)] = prober; }
  void SetReportHook(ReportHook hook) { report_ = std::move(hook); }
  void SetSeedHook(SeedHook hook) { seed_ = std::move(hook); }
  void Upsert(const std::string& id, const CheckSpec& spec);
  void Remove(const std::string& id);
  std::optional<CheckReport> Report(const std::string& id) const;
  absl::Time RunDue();
  void Start();
  void Stop();
  CheckGauges Gauges() const;

 private:
  struct Entry {
    std::string id;
    uint32_t slot = 0;
    uint64_t incarnation = 0;
    // Immutable once made (an Upsert replaces it), so probes started outside the lock share
    // it instead of copying.
    std::shared_ptr<const CheckSpec> spec_ptr;
    const CheckSpec& spec() const { return *spec_ptr; }
    CheckState state;
    absl::Time due = absl::InfiniteFuture();
    uint32_t version = 0;  // of the live heap item
    bool in_flight = false;
    bool queued = false;  // waiting for an in-flight slot
    int round = 0;        // probes started: the second one places the phase
    explicit Entry(const CheckSpec& s) : spec_ptr(std::make_shared<const CheckSpec>(s)), state(s) {}
  };
  struct HeapItem {
    absl::Time due;
    uint32_t slot;
    uint32_t version;
    bool operator>(const HeapItem& o) const { return due > o.due; }
  };
  struct Started {
    Prober* prober;
    std::shared_ptr<const CheckSpec> spec;
    uint32_t slot;
    uint64_t incarnation;
    absl::Time started;
  };

  Prober* ProberFor(const CheckSpec& spec) const {
    return spec.Active() ? probers_[static_cast<int>(spec.kind)] : nullptr;
  }
  void Schedule(Entry& e, absl::Time when) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Begin(Entry& e, absl::Time now, std::vector<Started>& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Issue(std::vector<Started>& started);
  void Finish(uint32_t slot, uint64_t incarnation, absl::Time started, ProbeResult result);
  Entry* Find(uint32_t slot, uint64_t incarnation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock& clock_;
  const CheckerOptions options_;
  CheckStats& stats_;
  Jitter jitter_;
  // Set before the first Upsert(), then only read.
  std::array<Prober*, kCheckKinds> probers_{};
  ReportHook report_;
  SeedHook seed_;

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Entry>> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> free_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> by_id_ ABSL_GUARDED_BY(mu_);
  std::priority_queue<HeapItem, std::vector<HeapItem>, std::greater<HeapItem>> heap_
      ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<uint32_t, uint64_t>> waiting_ ABSL_GUARDED_BY(mu_);
  uint64_t next_incarnation_ ABSL_GUARDED_BY(mu_) = 1;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;

  Waiter wake_;
  std::thread thread_;
};

void Checker::Impl::Schedule(Entry& e, absl::Time when) {
  e.due = when;
  e.version++;
  if (when != absl::InfiniteFuture()) heap_.push(HeapItem{when, e.slot, e.version});
}

Checker::Impl::Entry* Checker::Impl::Find(uint32_t slot, uint64_t incarnation) {
  if (slot >= slots_.size() || !slots_[slot]) return nullptr;
  Entry* e = slots_[slot].get();
  return e->incarnation == incarnation ? e : nullptr;
}

void Checker::Impl::Upsert(const std::string& id, const CheckSpec& spec) {
  std::optional<CheckReport> report;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_.Now();
    auto it = by_id_.find(id);
    Entry* e = nullptr;
    if (it != by_id_.end()) {
      e = slots_[it->second].get();
      if (e->spec() == spec) return;
      if (e->spec().kind != spec.kind || e->spec().Target() != spec.Target() ||
          e->spec().period != spec.period) {
        e->round = 0;  // the phase is placed again
      }
      e->state.SetSpec(spec);
      e->spec_ptr = std::make_shared<const CheckSpec>(spec);
      if (!e->in_flight && !e->queued && ProberFor(spec) != nullptr) {
        Schedule(*e, std::min(e->due, now + jitter_.UpTo(std::min(spec.period, absl::Seconds(1)))));
      }
    } else {
      uint32_t slot;
      if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
      } else {
        slot = static_cast<uint32_t>(slots_.size());
        slots_.emplace_back();
      }
      slots_[slot] = std::make_unique<Entry>(spec);
      e = slots_[slot].get();
      e->id = id;
      e->slot = slot;
      e->incarnation = next_incarnation_++;
      by_id_[id] = slot;
      if (ProberFor(spec) != nullptr) {
        Schedule(*e,
                 now + spec.initial_delay + jitter_.UpTo(std::min(spec.period, absl::Seconds(1))));
      }
    }
    if (ProberFor(spec) == nullptr) {
      Schedule(*e, absl::InfiniteFuture());
      report = e->state.report();
    }
  }
  if (report && report_) report_(id, *report);  // kNone: the value says so at once
  wake_.NotifyAll();
}

void Checker::Impl::Remove(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  uint32_t slot = it->second;
  by_id_.erase(it);
  slots_[slot].reset();  // heap items, queued slots and answers in flight go stale
  free_.push_back(slot);
}

std::optional<CheckReport> Checker::Impl::Report(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return slots_[it->second]->state.report();
}

void Checker::Impl::Begin(Entry& e, absl::Time now, std::vector<Started>& out) {
  Prober* prober = ProberFor(e.spec());
  if (prober == nullptr) return;
  if (in_flight_ >= options_.max_in_flight) {
    if (!e.queued) {
      e.queued = true;
      waiting_.emplace_back(e.slot, e.incarnation);
      stats_.delayed.fetch_add(1, std::memory_order_relaxed);
    }
    return;
  }
  e.queued = false;
  e.in_flight = true;
  in_flight_++;
  e.round++;
  // Phase: the second probe lands anywhere from half a period to one and a half after the
  // first (a period on average), later ones keep that phase (skipping rounds missed while
  // waiting).
  absl::Duration period = e.spec().period;
  absl::Time next = e.round == 1 ? now + period / 2 + jitter_.UpTo(period)
                                 : std::max(e.due, now - period) + period;
  if (next <= now) next = now + period;
  Schedule(e, next);
  out.push_back(Started{prober, e.spec_ptr, e.slot, e.incarnation, now});
}

absl::Time Checker::Impl::RunDue() {
  std::vector<Started> started;
  absl::Time next;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_.Now();
    while (!waiting_.empty() && in_flight_ < options_.max_in_flight) {
      auto [slot, incarnation] = waiting_.front();
      waiting_.pop_front();
      Entry* e = Find(slot, incarnation);
      if (e != nullptr && e->queued && !e->in_flight) Begin(*e, now, started);
    }
    while (!heap_.empty() && heap_.top().due <= now) {
      HeapItem item = heap_.top();
      heap_.pop();
      if (item.slot >= slots_.size() || !slots_[item.slot]) continue;
      Entry& e = *slots_[item.slot];
      if (e.version != item.version || e.in_flight || e.queued) continue;
      Begin(e, now, started);  // beyond the cap: queued in waiting_
    }
    // Waiting probes start when a probe finishes (which wakes the loop).
    next = heap_.empty() ? absl::InfiniteFuture() : heap_.top().due;
  }
  Issue(started);
  return next;
}

void Checker::Impl::Issue(std::vector<Started>& started) {
  for (Started& s : started) {
    uint32_t slot = s.slot;
    uint64_t incarnation = s.incarnation;
    absl::Time at = s.started;
    s.prober->Probe(*s.spec, [this, slot, incarnation, at](ProbeResult result) {
      Finish(slot, incarnation, at, std::move(result));
    });
  }
}

void Checker::Impl::Finish(uint32_t slot, uint64_t incarnation, absl::Time started,
                           ProbeResult result) {
  std::string id;
  std::optional<CheckSeed> seed;
  CheckReport report;
  bool wake = false;
  {
    absl::MutexLock lock(&mu_);
    Entry* e = Find(slot, incarnation);
    if (e != nullptr && e->state.results() == 0 && seed_ != nullptr) {
      id = e->id;  // ask for a seed without the lock (the hook takes the engine's)
      mu_.Unlock();
      seed = seed_(id);
      mu_.Lock();
      e = Find(slot, incarnation);
    }
    in_flight_--;
    wake = !waiting_.empty();  // a slot is free for a waiting probe
    if (e == nullptr) {
      if (wake) wake_.NotifyAll();
      return;
    }
    id = e->id;
    absl::Time now = clock_.Now(), wall = clock_.WallNow();
    if (seed) e->state.Seed(*seed, now, wall);
    e->in_flight = false;
    int kind = static_cast<int>(e->spec().kind);
    (result.pass ? stats_.passed : stats_.failed)[kind].fetch_add(1, std::memory_order_relaxed);
    stats_.latency[kind].Record(now - started);
    report = e->state.Apply(result, now, wall);
    if (report.transition) stats_.transitions.fetch_add(1, std::memory_order_relaxed);
  }
  if (report.transition) {
    LogInfo(absl::StrCat("Check of ", id, ": ", CheckStatusValue(report.status),
                         report.flapping ? " (flapping)" : "",
                         report.deregistered ? " (deregistered)" : ""),
            {{"id", id}, {"kind", CheckKindName(report.kind)}, {"result", report.last_result}});
  }
  if (report_) report_(id, report);
  if (wake) wake_.NotifyAll();
}

CheckGauges Checker::Impl::Gauges() const {
  absl::MutexLock lock(&mu_);
  CheckGauges g;
  for (const auto& slot : slots_) {
    if (!slot || !slot->spec().Active()) continue;
    const CheckReport& r = slot->state.report();
    g.checked++;
    (r.status == CheckStatus::kPending   ? g.pending
     : r.status == CheckStatus::kPassing ? g.passing
                                         : g.failing)++;
    if (r.flapping) g.flapping++;
    if (r.deregistered) g.deregistered++;
  }
  g.in_flight = in_flight_;
  g.waiting = static_cast<int64_t>(waiting_.size());
  return g;
}

void Checker::Impl::Start() {
  thread_ = std::thread([this] {
    while (true) {
      uint64_t epoch = wake_.Epoch();
      absl::Time ran = clock_.Now();
      absl::Time next = RunDue();
      {
        absl::MutexLock lock(&mu_);
        if (stop_) return;
      }
      // Timed wake-ups at least `batch_window` apart: due probes start in batches (each at
      // most that late) instead of one thread wake-up per probe.
      wake_.WaitUntil(std::clamp(next, ran + options_.batch_window, ran + absl::Seconds(1)), epoch);
    }
  });
}

void Checker::Impl::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  wake_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

Checker::Checker(Clock& clock, CheckerOptions options)
    : impl_(std::make_unique<Impl>(clock, options, stats_)) {}
Checker::~Checker() { impl_->Stop(); }
void Checker::SetProber(CheckKind kind, Prober* prober) { impl_->SetProber(kind, prober); }
void Checker::SetReportHook(ReportHook hook) { impl_->SetReportHook(std::move(hook)); }
void Checker::SetSeedHook(SeedHook hook) { impl_->SetSeedHook(std::move(hook)); }
void Checker::Upsert(const std::string& id, const CheckSpec& spec) { impl_->Upsert(id, spec); }
void Checker::Remove(const std::string& id) { impl_->Remove(id); }
std::optional<CheckReport> Checker::Report(const std::string& id) const {
  return impl_->Report(id);
}
absl::Time Checker::RunDue() { return impl_->RunDue(); }
void Checker::Start() { impl_->Start(); }
void Checker::Stop() { impl_->Stop(); }
CheckGauges Checker::Gauges() const { return impl_->Gauges(); }
void Checker::ResetHistograms() {
  for (LatencyHistogram& h : stats_.latency) h.Reset();
}

}  // namespace hb::check
