#include "etcd/grpc_etcd_client.h"

#include <memory>

#include "etcd/grpc_calls.h"
#include "etcd/grpc_transport.h"
#include "etcd/keepalive_stream.h"
#include "etcd/watch_stream.h"
#include "google/protobuf/arena.h"

namespace hb::etcd {

using internal::Connection;
using internal::FromGrpc;
using internal::UnaryCall;

namespace {

KeyValue FromProto(const mvccpb::KeyValue& kv) {
  return KeyValue{kv.key(),          kv.value(),  kv.lease(), kv.create_revision(),
                  kv.mod_revision(), kv.version()};
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcEtcdClient>> GrpcEtcdClient::Create(
    const ClientOptions& options) {
  auto transport = internal::GrpcTransport::Create(options);
  if (!transport.ok()) return transport.status();
  return std::unique_ptr<GrpcEtcdClient>(new GrpcEtcdClient(*std::move(transport)));
}

GrpcEtcdClient::GrpcEtcdClient(std::unique_ptr<internal::GrpcTransport> transport)
    : transport_(std::move(transport)),
      keepalive_(std::make_unique<internal::KeepAliveStream>(*transport_)) {}

GrpcEtcdClient::~GrpcEtcdClient() {
  keepalive_->Close();
  transport_->Shutdown();
}

void GrpcEtcdClient::Range(RangeRequest request, Callback<RangeResult> done) {
  etcdserverpb::RangeRequest req;
  req.set_key(request.key);
  req.set_range_end(request.range_end);
  req.set_limit(request.limit);
  req.set_keys_only(request.keys_only);
  UnaryCall<etcdserverpb::RangeResponse>::Run(
      *transport_,
      [req](Connection& c, grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
        return c.kv->PrepareAsyncRange(ctx, req, cq);
      },
      [done = std::move(done)](const grpc::Status& status, etcdserverpb::RangeResponse& resp) {
        if (!status.ok()) return done(FromGrpc(status));
        RangeResult result;
        result.more = resp.more();
        result.revision = resp.header().revision();
        result.kvs.reserve(static_cast<size_t>(resp.kvs_size()));
        for (const auto& kv : resp.kvs()) result.kvs.push_back(FromProto(kv));
        done(std::move(result));
      });
}

void GrpcEtcdClient::Put(PutRequest request, Callback<PutResult> done) {
  etcdserverpb::PutRequest req;
  req.set_key(std::move(request.key));
  req.set_value(std::move(request.value));
  req.set_lease(request.lease);
  UnaryCall<etcdserverpb::PutResponse>::Run(
      *transport_,
      [req = std::move(req)](Connection& c, grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
        return c.kv->PrepareAsyncPut(ctx, req, cq);
      },
      [done = std::move(done)](const grpc::Status& status, etcdserverpb::PutResponse& resp) {
        if (!status.ok()) return done(FromGrpc(status));
        done(PutResult{resp.header().revision()});
      });
}

void GrpcEtcdClient::PutBatch(std::vector<PutRequest> requests, Callback<PutResult> done) {
  // Built on its own arena: the batch's hundreds of operations take a few blocks, freed at
  // once when the call (and any retry of it) is over.
  auto arena = std::make_shared<google::protobuf::Arena>();
  auto* req = google::protobuf::Arena::CreateMessage<etcdserverpb::TxnRequest>(arena.get());
  req->mutable_success()->Reserve(static_cast<int>(requests.size()));
  for (PutRequest& request : requests) {
    etcdserverpb::PutRequest* put = req->add_success()->mutable_request_put();
    put->set_key(std::move(request.key));
    put->set_value(std::move(request.value));
    put->set_lease(request.lease);
  }
  UnaryCall<etcdserverpb::TxnResponse>::Run(
      *transport_,
      [arena = std::move(arena), req](Connection& c, grpc::ClientContext* ctx,
                                      grpc::CompletionQueue* cq) {
        return c.kv->PrepareAsyncTxn(ctx, *req, cq);
      },
      [done = std::move(done)](const grpc::Status& status, etcdserverpb::TxnResponse& resp) {
        if (!status.ok()) return done(FromGrpc(status));
        done(PutResult{resp.header().revision()});
      });
}

void GrpcEtcdClient::DeleteRange(RangeRequest request, Callback<DeleteResult> done) {
  etcdserverpb::DeleteRangeRequest req;
  req.set_key(request.key);
  req.set_range_end(request.range_end);
  UnaryCall<etcdserverpb::DeleteRangeResponse>::Run(
      *transport_,
      [req](Connection& c, grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
        return c.kv->PrepareAsyncDeleteRange(ctx, req, cq);
      },
      [done = std::move(done)](const grpc::Status& status,
                               etcdserverpb::DeleteRangeResponse& resp) {
        if (!status.ok()) return done(FromGrpc(status));
        done(DeleteResult{resp.deleted(), resp.header().revision()});
      });
}

void GrpcEtcdClient::FencedWrite(Fence fence, std::vector<PutRequest> puts,
                                 std::vector<RangeRequest> deletes,
                                 Callback<FencedWriteResult> done) {
  etcdserverpb::TxnRequest req;
  etcdserverpb::Compare* compare = req.add_compare();
  compare->set_key(fence.key);
  compare->set_result(etcdserverpb::Compare::EQUAL);
  if (fence.mod_revision == 0) {  // absent: etcd compares create_revision 0 for that
    compare->set_target(etcdserverpb::Compare::CREATE);
    compare->set_create_revision(0);
  } else {
    compare->set_target(etcdserverpb::Compare::MOD);
    compare->set_mod_revision(fence.mod_revision);
  }
  if (!fence.value.empty()) {
    etcdserverpb::Compare* same = req.add_compare();
    same->set_key(fence.key);
    same->set_result(etcdserverpb::Compare::EQUAL);
    same->set_target(etcdserverpb::Compare::VALUE);
    same->set_value(fence.value);
  }
  for (PutRequest& request : puts) {
    etcdserverpb::PutRequest* put = req.add_success()->mutable_request_put();
    put->set_key(std::move(request.key));
    put->set_value(std::move(request.value));
    put->set_lease(request.lease);
  }
  for (RangeRequest& request : deletes) {
    etcdserverpb::DeleteRangeRequest* del = req.add_success()->mutable_request_delete_range();
    del->set_key(std::move(request.key));
    del->set_range_end(std::move(request.range_end));
  }
  req.add_failure()->mutable_request_range()->set_key(fence.key);
  UnaryCall<etcdserverpb::TxnResponse>::Run(
      *transport_,
      [req = std::move(req)](Connection& c, grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
        return c.kv->PrepareAsyncTxn(ctx, req, cq);
      },
      [done = std::move(done)](const grpc::Status& status, etcdserverpb::TxnResponse& resp) {
        if (!status.ok()) return done(FromGrpc(status));
        FencedWriteResult result;
        result.applied = resp.succeeded();
        result.revision = resp.header().revision();
        for (const auto& op : resp.responses()) {
          if (op.has_response_delete_range())
            result.deleted += op.response_delete_range().deleted();
          if (!result.applied && op.has_response_range() && op.response_range().kvs_size() > 0) {
            result.fence_kv = FromProto(op.response_range().kvs(0));
          }
        }
        done(std::move(result));
      });
}

void GrpcEtcdClient::LeaseGrant(int64_t ttl_seconds, Callback<GrantedLease> done) {
  etcdserverpb::LeaseGrantRequest req;
  req.set_ttl(ttl_seconds);
  UnaryCall<etcdserverpb::LeaseGrantResponse>::Run(
      *transport_,
      [req](Connection& c, grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
        return c.lease->PrepareAsyncLeaseGrant(ctx, req, cq);
      },
      [done = std::move(done)](const grpc::Status& status, etcdserverpb::LeaseGrantResponse& resp) {
        if (!status.ok()) return done(FromGrpc(status));
        if (!resp.error().empty()) return done(absl::UnavailableError(resp.error()));
        done(GrantedLease{resp.id(), resp.ttl()});
      });
}

void GrpcEtcdClient::LeaseRevoke(int64_t lease_id, DoneCallback done) {
  etcdserverpb::LeaseRevokeRequest req;
  req.set_id(lease_id);
  UnaryCall<etcdserverpb::LeaseRevokeResponse>::Run(
      *transport_,
      [req](Connection& c, grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
        return c.lease->PrepareAsyncLeaseRevoke(ctx, req, cq);
      },
      [done = std::move(done)](const grpc::Status& status, etcdserverpb::LeaseRevokeResponse&) {
        done(FromGrpc(status));
      });
}

void GrpcEtcdClient::LeaseTimeToLive(int64_t lease_id, bool with_keys, Callback<LeaseTtl> done) {
  etcdserverpb::LeaseTimeToLiveRequest req;
  req.set_id(lease_id);
  req.set_keys(with_keys);
  UnaryCall<etcdserverpb::LeaseTimeToLiveResponse>::Run(
      *transport_,
      [req](Connection& c, grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
        return c.lease->PrepareAsyncLeaseTimeToLive(ctx, req, cq);
      },
      [done = std::move(done)](const grpc::Status& status,
                               etcdserverpb::LeaseTimeToLiveResponse& resp) {
        if (!status.ok()) return done(FromGrpc(status));
        LeaseTtl result{resp.id(), resp.ttl(), resp.grantedttl(), {}};
        for (const auto& key : resp.keys()) result.keys.push_back(key);
        done(std::move(result));
      });
}

void GrpcEtcdClient::SetKeepAliveListener(KeepAliveListener* listener) {
  keepalive_->SetListener(listener);
}

void GrpcEtcdClient::KeepAlive(int64_t lease_id) { keepalive_->Send(lease_id); }

void GrpcEtcdClient::Status(Callback<ServerStatus> done) {
  auto conn = transport_->Current();
  UnaryCall<etcdserverpb::StatusResponse>::Run(
      *transport_,
      [](Connection& c, grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
        return c.maintenance->PrepareAsyncStatus(ctx, etcdserverpb::StatusRequest(), cq);
      },
      [done = std::move(done), endpoint = conn->endpoint](const grpc::Status& status,
                                                          etcdserverpb::StatusResponse& resp) {
        if (!status.ok()) return done(FromGrpc(status));
        done(ServerStatus{endpoint, resp.version(), resp.header().member_id(), resp.leader()});
      });
}

std::vector<std::pair<std::string, int>> GrpcEtcdClient::EndpointStates() const {
  return transport_->EndpointStates();
}

std::unique_ptr<WatchHandle> GrpcEtcdClient::Watch(WatchRequest request, WatchListener* listener) {
  return std::make_unique<internal::WatchStream>(*transport_, std::move(request), listener);
}

}  // namespace hb::etcd
