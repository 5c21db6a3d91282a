#include "etcd/fenced_client.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace hb::etcd {
namespace {

constexpr char kFencedPrefix[] = "fenced: ";
constexpr int kTakeAttempts = 5;

absl::Status FencedError(const std::string& key, const std::string& holder) {
  return absl::FailedPreconditionError(absl::StrCat(kFencedPrefix, key, " is now held by ",
                                                    holder.empty() ? "(nobody)" : holder,
                                                    "; this replica no longer leads"));
}

}  // namespace

bool IsFenced(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         absl::StartsWith(status.message(), kFencedPrefix);
}

FencedEtcdClient::FencedEtcdClient(EtcdClient& inner, Clock& clock)
    : inner_(inner), clock_(clock) {}

std::unique_ptr<FencedEtcdClient> FencedEtcdClient::Passthrough(EtcdClient& inner, Clock& clock) {
  auto client = std::make_unique<FencedEtcdClient>(inner, clock);
  absl::MutexLock lock(&client->mu_);
  client->state_ = State::kPassthrough;
  return client;
}

FencedEtcdClient::State FencedEtcdClient::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

int64_t FencedEtcdClient::token() const {
  absl::MutexLock lock(&mu_);
  return state_ == State::kHeld ? fence_.mod_revision : 0;
}

bool FencedEtcdClient::Writable() const {
  Fence unused;
  return Admit(&unused).ok();
}

void FencedEtcdClient::SetStaleHook(std::function<void(const std::string& holder)> hook) {
  absl::MutexLock lock(&mu_);
  stale_hook_ = std::move(hook);
}

void FencedEtcdClient::PermitUntil(absl::Time until) {
  absl::MutexLock lock(&mu_);
  if (until > permit_end_) permit_end_ = until;
}

void FencedEtcdClient::EndPermit() {
  absl::MutexLock lock(&mu_);
  permit_end_ = absl::InfinitePast();
}

absl::Status FencedEtcdClient::Admit(Fence* fence) const {
  absl::MutexLock lock(&mu_);
  switch (state_) {
    case State::kPassthrough:
      fence->key.clear();
      return absl::OkStatus();
    case State::kUnfenced:
      return absl::FailedPreconditionError("not leading yet: the etcd fence is not held");
    case State::kStale:
      return FencedError(fence_.key, "another replica");
    case State::kHeld:
      break;
  }
  if (clock_.Now() >= permit_end_) {
    return absl::FailedPreconditionError(
        "not leading: the leader-election Lease was not renewed within the renew deadline");
  }
  *fence = fence_;
  return absl::OkStatus();
}

absl::Status FencedEtcdClient::OnFenceResult(const Fence& used,
                                             const absl::StatusOr<FencedWriteResult>& result) {
  if (!result.ok()) return result.status();
  if (result->applied) return absl::OkStatus();
  std::function<void(const std::string&)> hook;
  std::string holder = result->fence_kv ? result->fence_kv->value : "";
  bool retake = false;
  std::string retake_value;
  {
    absl::MutexLock lock(&mu_);
    if (state_ != State::kHeld || fence_.mod_revision != used.mod_revision) {
      return FencedError(used.key, holder);  // already handled by an earlier answer
    }
    if (!result->fence_kv && clock_.Now() < permit_end_) {
      // The key is gone (etcd lost its data) while this replica still leads: nobody else
      // took it, so take it again; writes wait until then.
      state_ = State::kUnfenced;
      retake = true;
      retake_value = holder_value_;
    } else {
      state_ = State::kStale;
      hook = std::move(stale_hook_);
    }
  }
  if (retake) {
    LogWarning("The etcd fence key is gone; taking it again", {{"fence", used.key}});
    TakeAttempt(used.key, std::move(retake_value), nullptr, 0);
    return absl::UnavailableError("the etcd fence key is gone; taking it again");
  }
  LogError("Another replica holds the etcd fence; this one stops writing",
           {{"fence", used.key}, {"holder", holder}, {"token", used.mod_revision}});
  if (hook) hook(holder);
  return FencedError(used.key, holder);
}

void FencedEtcdClient::Write(std::vector<PutRequest> puts, std::vector<RangeRequest> deletes,
                             std::function<void(absl::StatusOr<FencedWriteResult>)> done) {
  Fence fence;
  if (absl::Status admitted = Admit(&fence); !admitted.ok()) return done(admitted);
  inner_.FencedWrite(fence, std::move(puts), std::move(deletes),
                     [this, fence, done = std::move(done)](absl::StatusOr<FencedWriteResult> r) {
                       absl::Status status = OnFenceResult(fence, r);
                       if (!status.ok()) return done(status);
                       done(std::move(r));
                     });
}

void FencedEtcdClient::AfterCheck(std::function<void(absl::Status)> then) {
  Fence fence;
  if (absl::Status admitted = Admit(&fence); !admitted.ok()) return then(admitted);
  if (fence.key.empty()) return then(absl::OkStatus());  // passthrough
  {
    absl::MutexLock lock(&mu_);
    next_check_.push_back(std::move(then));
  }
  RunChecks();
}

void FencedEtcdClient::RunChecks() {
  Fence fence;
  {
    absl::MutexLock lock(&mu_);
    if (checking_ || next_check_.empty()) return;
    checking_ = true;
    this_check_.swap(next_check_);
    fence = fence_;
  }
  inner_.FencedWrite(fence, {}, {}, [this, fence](absl::StatusOr<FencedWriteResult> r) {
    absl::Status status = OnFenceResult(fence, r);
    std::vector<std::function<void(absl::Status)>> waiters;
    {
      absl::MutexLock lock(&mu_);
      waiters.swap(this_check_);
      checking_ = false;
    }
    for (auto& waiter : waiters) {
      // The permit may have ended while the check was in flight.
      Fence unused;
      absl::Status now = status.ok() ? Admit(&unused) : status;
      waiter(now);
    }
    RunChecks();
  });
}

void FencedEtcdClient::Take(std::string key, std::string holder,
                            std::function<void(absl::Status)> done) {
  {
    absl::MutexLock lock(&mu_);
    holder_value_ = holder;
  }
  TakeAttempt(std::move(key), std::move(holder), std::move(done), 0);
}

void FencedEtcdClient::TakeAttempt(std::string key, std::string holder,
                                   std::function<void(absl::Status)> done, int attempt) {
  auto finish = [done](absl::Status status) {
    if (done) done(std::move(status));
  };
  {
    absl::MutexLock lock(&mu_);
    if (state_ == State::kPassthrough || clock_.Now() >= permit_end_) {
      return finish(absl::FailedPreconditionError("cannot take the etcd fence: not leading"));
    }
  }
  inner_.Range(RangeRequest{key, "", 0, false}, [this, key, holder, finish,
                                                 attempt](absl::StatusOr<RangeResult> seen) {
    if (!seen.ok()) return finish(seen.status());
    int64_t revision = seen->kvs.empty() ? 0 : seen->kvs[0].mod_revision;
    {
      absl::MutexLock lock(&mu_);
      if (clock_.Now() >= permit_end_) {
        return finish(absl::FailedPreconditionError("cannot take the etcd fence: not leading"));
      }
    }
    inner_.FencedWrite(
        Fence{key, revision, ""}, {PutRequest{key, holder, 0}}, {},
        [this, key, holder, finish, attempt](absl::StatusOr<FencedWriteResult> wrote) {
          if (!wrote.ok()) return finish(wrote.status());
          if (!wrote->applied) {
            if (attempt + 1 >= kTakeAttempts) {
              return finish(absl::AbortedError(
                  absl::StrCat("another writer kept changing the etcd fence key ", key)));
            }
            return TakeAttempt(key, holder, finish, attempt + 1);
          }
          {
            absl::MutexLock lock(&mu_);
            fence_ = Fence{key, wrote->revision, holder};
            state_ = State::kHeld;
          }
          LogInfo("Took the etcd fence", {{"fence", key}, {"token", wrote->revision}});
          finish(absl::OkStatus());
        });
  });
}

void FencedEtcdClient::Range(RangeRequest request, Callback<RangeResult> done) {
  inner_.Range(std::move(request), std::move(done));
}

void FencedEtcdClient::Put(PutRequest request, Callback<PutResult> done) {
  if (state() == State::kPassthrough) return inner_.Put(std::move(request), std::move(done));
  std::vector<PutRequest> puts;
  puts.push_back(std::move(request));
  Write(std::move(puts), {}, [done = std::move(done)](absl::StatusOr<FencedWriteResult> r) {
    if (!r.ok()) return done(r.status());
    done(PutResult{r->revision});
  });
}

void FencedEtcdClient::PutBatch(std::vector<PutRequest> requests, Callback<PutResult> done) {
  if (state() == State::kPassthrough) {
    return inner_.PutBatch(std::move(requests), std::move(done));
  }
  Write(std::move(requests), {}, [done = std::move(done)](absl::StatusOr<FencedWriteResult> r) {
    if (!r.ok()) return done(r.status());
    done(PutResult{r->revision});
  });
}

void FencedEtcdClient::DeleteRange(RangeRequest request, Callback<DeleteResult> done) {
  if (state() == State::kPassthrough) {
    return inner_.DeleteRange(std::move(request), std::move(done));
  }
  std::vector<RangeRequest> deletes;
  deletes.push_back(std::move(request));
  Write({}, std::move(deletes), [done = std::move(done)](absl::StatusOr<FencedWriteResult> r) {
    if (!r.ok()) return done(r.status());
    done(DeleteResult{r->deleted, r->revision});
  });
}

void FencedEtcdClient::FencedWrite(Fence fence, std::vector<PutRequest> puts,
                                   std::vector<RangeRequest> deletes,
                                   Callback<FencedWriteResult> done) {
  inner_.FencedWrite(std::move(fence), std::move(puts), std::move(deletes), std::move(done));
}

void FencedEtcdClient::LeaseGrant(int64_t ttl_seconds, Callback<GrantedLease> done) {
  AfterCheck([this, ttl_seconds, done = std::move(done)](absl::Status checked) {
    if (!checked.ok()) return done(checked);
    inner_.LeaseGrant(ttl_seconds, done);
  });
}

void FencedEtcdClient::LeaseRevoke(int64_t lease_id, DoneCallback done) {
  AfterCheck([this, lease_id, done = std::move(done)](absl::Status checked) {
    if (!checked.ok()) return done(checked);
    inner_.LeaseRevoke(lease_id, done);
  });
}

void FencedEtcdClient::LeaseTimeToLive(int64_t lease_id, bool with_keys, Callback<LeaseTtl> done) {
  inner_.LeaseTimeToLive(lease_id, with_keys, std::move(done));
}

void FencedEtcdClient::SetKeepAliveListener(KeepAliveListener* listener) {
  inner_.SetKeepAliveListener(listener);
}

void FencedEtcdClient::KeepAlive(int64_t lease_id) {
  if (Writable()) inner_.KeepAlive(lease_id);
}

void FencedEtcdClient::Status(Callback<ServerStatus> done) { inner_.Status(std::move(done)); }

std::unique_ptr<WatchHandle> FencedEtcdClient::Watch(WatchRequest request,
                                                     WatchListener* listener) {
  return inner_.Watch(std::move(request), listener);
}

}  // namespace hb::etcd
