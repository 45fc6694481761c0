// The enidp.v1.Enidp gRPC service: translates requests to domain calls at the edge.
//
// Who may call: gRPC threads (the handlers). Store calls run on the calling gRPC thread (the
// Store is thread-safe); everything that reads the data path runs on the control thread via
// ControlQueue, and a control thread that does not answer within the call timeout gives
// DEADLINE_EXCEEDED. Every request is validated first; an invalid one gets INVALID_ARGUMENT
// naming the field and changes nothing.
#pragma once

#include <chrono>

#include "control/api/control_queue.hpp"
#include "control/api/generation_watch.hpp"
#include "control/api/view.hpp"
#include "control/objects/store.hpp"
#include "enidp.grpc.pb.h"

namespace enidp::api {

// objects[i] of an ApplyObjectsRequest → objects, each with the file/line the client gave, or
// INVALID_ARGUMENT text "objects[i]: file:line: ...". Exposed for tests.
struct DecodedObjects {
    std::vector<objects::Object> objects;
    std::vector<size_t> index;  // per object: the request's objects[] entry it came from
};
Checked<DecodedObjects> decode_objects(const v1::ApplyObjectsRequest& req);

class Service final : public v1::Enidp::Service {
public:
    Service(objects::Store& store, ControlQueue& queue, DataplaneView& view,
            std::chrono::milliseconds timeout = std::chrono::seconds(5))
        : store_(store), queue_(queue), view_(view), timeout_(timeout) {}

    grpc::Status ApplyObjects(grpc::ServerContext*, const v1::ApplyObjectsRequest*, v1::ApplyObjectsResponse*) override;
    grpc::Status DeleteObject(grpc::ServerContext*, const v1::DeleteObjectRequest*, v1::DeleteObjectResponse*) override;
    grpc::Status GetObject(grpc::ServerContext*, const v1::GetObjectRequest*, v1::GetObjectResponse*) override;
    grpc::Status ListObjects(grpc::ServerContext*, const v1::ListObjectsRequest*, v1::ListObjectsResponse*) override;
    grpc::Status GetStats(grpc::ServerContext*, const v1::GetStatsRequest*, v1::GetStatsResponse*) override;
    grpc::Status DumpServices(grpc::ServerContext*, const v1::DumpServicesRequest*, v1::DumpServicesResponse*) override;
    grpc::Status DumpConntrack(grpc::ServerContext*, const v1::DumpConntrackRequest*,
                               v1::DumpConntrackResponse*) override;
    grpc::Status Trace(grpc::ServerContext*, const v1::TraceRequest*, v1::TraceResponse*) override;
    grpc::Status GetGenerations(grpc::ServerContext*, const v1::GetGenerationsRequest*,
                                v1::GetGenerationsResponse*) override;
    grpc::Status DumpPolicy(grpc::ServerContext*, const v1::DumpPolicyRequest*, v1::DumpPolicyResponse*) override;
    grpc::Status ReadVerdicts(grpc::ServerContext*, const v1::ReadVerdictsRequest*,
                              grpc::ServerWriter<v1::VerdictRecord>*) override;
    grpc::Status DumpPorts(grpc::ServerContext*, const v1::DumpPortsRequest*, v1::DumpPortsResponse*) override;
    grpc::Status GetNodeSettings(grpc::ServerContext*, const v1::GetNodeSettingsRequest*, v1::NodeSettings*) override;
    grpc::Status UpdateNodeSettings(grpc::ServerContext*, const v1::UpdateNodeSettingsRequest*,
                                    v1::NodeSettings*) override;

    // The realized generation as the control loop publishes it (GetGenerations reads and waits
    // on it). Until the loop marks it live, GetGenerations asks the control thread instead.
    GenerationWatch& generations() { return generations_; }

private:
    // Runs `fn` on the control thread; DEADLINE_EXCEEDED / UNAVAILABLE when it cannot.
    grpc::Status on_control(const std::function<grpc::Status()>& fn);

    objects::Store& store_;
    ControlQueue& queue_;
    DataplaneView& view_;
    std::chrono::milliseconds timeout_;
    GenerationWatch generations_;
};

}  // namespace enidp::api
