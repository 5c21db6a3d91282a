// GrpcEtcdClient: EtcdClient over etcd's v3 gRPC API.
//
// Asynchronous throughout: unary calls and the keep-alive and watch streams run on one
// completion queue served by `ClientOptions::threads` threads, so the number of threads
// does not grow with the number of leases. Endpoint fail-over, TLS, username/password
// auth and per-call deadlines are described in grpc_transport.h and endpoints.h.
//
// Thread-safe. The destructor cancels the streams and waits for every callback in flight.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "etcd/endpoints.h"
#include "etcd/etcd_client.h"

namespace hb::etcd {

namespace internal {
class GrpcTransport;
class KeepAliveStream;
}  // namespace internal

class GrpcEtcdClient final : public EtcdClient {
 public:
  // Fails on bad options (unreadable TLS files, a username without a password); never
  // waits for etcd: an unreachable etcd shows up as call errors.
  static absl::StatusOr<std::unique_ptr<GrpcEtcdClient>> Create(const ClientOptions& options);
  ~GrpcEtcdClient() override;

  void Range(RangeRequest request, Callback<RangeResult> done) override;
  void Put(PutRequest request, Callback<PutResult> done) override;
  void PutBatch(std::vector<PutRequest> requests, Callback<PutResult> done) override;
  void DeleteRange(RangeRequest request, Callback<DeleteResult> done) override;
  void FencedWrite(Fence fence, std::vector<PutRequest> puts, std::vector<RangeRequest> deletes,
                   Callback<FencedWriteResult> done) override;
  void LeaseGrant(int64_t ttl_seconds, Callback<GrantedLease> done) override;
  void LeaseRevoke(int64_t lease_id, DoneCallback done) override;
  void LeaseTimeToLive(int64_t lease_id, bool with_keys, Callback<LeaseTtl> done) override;
  void SetKeepAliveListener(KeepAliveListener* listener) override;
  void KeepAlive(int64_t lease_id) override;
  void Status(Callback<ServerStatus> done) override;
  std::unique_ptr<WatchHandle> Watch(WatchRequest request, WatchListener* listener) override;

  // Per endpoint: 1 answered last time, 0 failed to connect, -1 not tried yet.
  std::vector<std::pair<std::string, int>> EndpointStates() const;

 private:
  explicit GrpcEtcdClient(std::unique_ptr<internal::GrpcTransport> transport);

  std::unique_ptr<internal::GrpcTransport> transport_;
  std::unique_ptr<internal::KeepAliveStream> keepalive_;
};

}  // namespace hb::etcd
