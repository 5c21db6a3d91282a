#include "etcd/etcd_client.h"

#include <future>

#include "absl/strings/match.h"

namespace hb::etcd {

bool IsNoSpace(const absl::Status& status) {
  return status.code() == absl::StatusCode::kResourceExhausted &&
         absl::StrContains(status.message(), "database space exceeded");
}

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

RangeRequest RangeRequest::Prefix(std::string prefix, int64_t limit) {
  RangeRequest request;
  request.range_end = PrefixEnd(prefix);
  request.key = std::move(prefix);
  request.limit = limit;
  return request;
}

namespace {

template <typename T, typename Start>
absl::StatusOr<T> Await(Start start) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<T>>>();
  auto future = promise->get_future();
  start([promise](absl::StatusOr<T> result) { promise->set_value(std::move(result)); });
  return future.get();
}

}  // namespace

absl::StatusOr<RangeResult> RangeSync(EtcdClient& client, RangeRequest request) {
  return Await<RangeResult>(
      [&](Callback<RangeResult> cb) { client.Range(std::move(request), cb); });
}

absl::StatusOr<PutResult> PutSync(EtcdClient& client, PutRequest request) {
  return Await<PutResult>([&](Callback<PutResult> cb) { client.Put(std::move(request), cb); });
}

absl::StatusOr<DeleteResult> DeleteRangeSync(EtcdClient& client, RangeRequest request) {
  return Await<DeleteResult>(
      [&](Callback<DeleteResult> cb) { client.DeleteRange(std::move(request), cb); });
}

absl::StatusOr<FencedWriteResult> FencedWriteSync(EtcdClient& client, Fence fence,
                                                  std::vector<PutRequest> puts,
                                                  std::vector<RangeRequest> deletes) {
  return Await<FencedWriteResult>([&](Callback<FencedWriteResult> cb) {
    client.FencedWrite(std::move(fence), std::move(puts), std::move(deletes), cb);
  });
}

absl::StatusOr<GrantedLease> LeaseGrantSync(EtcdClient& client, int64_t ttl_seconds) {
  return Await<GrantedLease>(
      [&](Callback<GrantedLease> cb) { client.LeaseGrant(ttl_seconds, cb); });
}

absl::Status LeaseRevokeSync(EtcdClient& client, int64_t lease_id) {
  auto promise = std::make_shared<std::promise<absl::Status>>();
  auto future = promise->get_future();
  client.LeaseRevoke(lease_id, [promise](absl::Status s) { promise->set_value(std::move(s)); });
  return future.get();
}

absl::StatusOr<LeaseTtl> LeaseTimeToLiveSync(EtcdClient& client, int64_t lease_id) {
  return Await<LeaseTtl>(
      [&](Callback<LeaseTtl> cb) { client.LeaseTimeToLive(lease_id, true, cb); });
}

absl::StatusOr<ServerStatus> StatusSync(EtcdClient& client) {
  return Await<ServerStatus>([&](Callback<ServerStatus> cb) { client.Status(cb); });
}

}  // namespace hb::etcd
