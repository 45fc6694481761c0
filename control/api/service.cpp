// The enidp.v1.Enidp gRPC service: see service.hpp.
#include "control/api/service.hpp"

#include <optional>
#include <thread>

namespace enidp::api {

namespace {

grpc::Status invalid(const FieldError& e) { return {grpc::StatusCode::INVALID_ARGUMENT, e.to_string()}; }

void fill(const objects::Entry& e, v1::StoredObject& out) {
    out.set_kind(e.object.kind);
    out.set_namespace_(e.object.ns);
    out.set_name(e.object.name);
    out.set_json(e.object.body.dump());
    out.set_source(objects::to_string(e.source));
    out.set_generation(e.generation);
    out.set_origin(e.object.source);
}

}  // namespace

Checked<DecodedObjects> decode_objects(const v1::ApplyObjectsRequest& req) {
    DecodedObjects d;
    if (req.objects().empty()) return FieldError{"objects", "at least one object is required"};
    for (int i = 0; i < req.objects_size(); i++) {
        const v1::ObjectText& o = req.objects(i);
        const std::string at = "objects[" + std::to_string(i) + "]";
        if (o.text().find_first_not_of(" \t\r\n") == std::string::npos) return FieldError{at + ".text", "required"};
        if (o.line() < 0) return FieldError{at + ".line", "must be >= 0"};
        const std::string file = o.file().empty() ? "grpc" : o.file();
        auto loaded = objects::load_string(o.text(), file);
        if (auto* e = std::get_if<objects::Error>(&loaded)) return FieldError{at, e->to_string()};
        auto& objs = std::get<std::vector<objects::Object>>(loaded);
        if (objs.empty()) return FieldError{at + ".text", "holds no object"};
        // Lines of the text are lines of `file` starting at `line`.
        const int offset = o.line() > 0 ? o.line() - 1 : 0;
        for (auto& obj : objs) {
            if (obj.line > 0) obj.line += offset;
            for (auto& [ptr, line] : obj.lines) line += offset;
            if (!o.field_lines().empty()) {
                obj.lines.clear();
                for (const auto& [ptr, line] : o.field_lines())
                    if (line > 0) obj.lines[ptr] = line;
            }
            if (o.line() > 0) obj.source = file + ":" + std::to_string(obj.line);
            d.objects.push_back(std::move(obj));
            d.index.push_back(static_cast<size_t>(i));
        }
    }
    return d;
}

grpc::Status Service::on_control(const std::function<grpc::Status()>& fn) {
    grpc::Status result;
    switch (queue_.call<grpc::Status>(fn, timeout_, result)) {
        case CallStatus::kOk: return result;
        case CallStatus::kTimeout:
            return {grpc::StatusCode::DEADLINE_EXCEEDED,
                    "the control thread did not answer within " + std::to_string(timeout_.count()) + " ms"};
        case CallStatus::kClosed: return {grpc::StatusCode::UNAVAILABLE, "enidp is stopping"};
        case CallStatus::kFailed: return {grpc::StatusCode::INTERNAL, "the control thread failed to serve the call"};
    }
    return {grpc::StatusCode::INTERNAL, "unreachable"};
}

grpc::Status Service::ApplyObjects(grpc::ServerContext*, const v1::ApplyObjectsRequest* req,
                                   v1::ApplyObjectsResponse* resp) {
    auto decoded = decode_objects(*req);
    if (auto* e = std::get_if<FieldError>(&decoded)) return invalid(*e);
    auto& d = std::get<DecodedObjects>(decoded);
    auto r = store_.apply_all_moved(d.objects, objects::Source::kGrpc);  // moved into the store on success
    if (auto* e = std::get_if<objects::Error>(&r)) {
        std::string at = "objects";
        for (size_t k = 0; k < d.objects.size(); k++)
            if (d.objects[k].describe() == e->object) {
                at += "[" + std::to_string(d.index[k]) + "]";
                break;
            }
        return invalid(FieldError{at, e->to_string()});
    }
    const auto& outcome = std::get<objects::ApplyOutcome>(r);
    resp->set_changed(outcome.changed);
    resp->set_generation(outcome.generation);
    resp->set_objects(static_cast<uint32_t>(d.objects.size()));
    return grpc::Status::OK;
}

grpc::Status Service::DeleteObject(grpc::ServerContext*, const v1::DeleteObjectRequest* req,
                                   v1::DeleteObjectResponse* resp) {
    auto ref = check_object_ref("delete", req->kind(), req->namespace_(), req->name());
    if (auto* e = std::get_if<FieldError>(&ref)) return invalid(*e);
    const auto& r = std::get<ObjectRef>(ref);
    if (!store_.remove(r.kind, r.ns, r.name))
        return {grpc::StatusCode::NOT_FOUND, objects::Key{r.kind, r.ns, r.name}.to_string() + " not found"};
    resp->set_generation(store_.generation());
    return grpc::Status::OK;
}

grpc::Status Service::GetObject(grpc::ServerContext*, const v1::GetObjectRequest* req, v1::GetObjectResponse* resp) {
    auto ref = check_object_ref("get", req->kind(), req->namespace_(), req->name());
    if (auto* e = std::get_if<FieldError>(&ref)) return invalid(*e);
    const auto& r = std::get<ObjectRef>(ref);
    auto entry = store_.get(r.kind, r.ns, r.name);
    if (!entry) return {grpc::StatusCode::NOT_FOUND, objects::Key{r.kind, r.ns, r.name}.to_string() + " not found"};
    fill(*entry, *resp->mutable_object());
    return grpc::Status::OK;
}

grpc::Status Service::ListObjects(grpc::ServerContext*, const v1::ListObjectsRequest* req,
                                  v1::ListObjectsResponse* resp) {
    if (req->kind().empty()) return invalid({"list.kind", "required (one of " + known_kinds() + ")"});
    if (!known_kind(req->kind()))
        return invalid({"list.kind", "\"" + req->kind() + "\" is not one of " + known_kinds()});
    for (const auto& e : store_.list(req->kind()))
        if (req->namespace_().empty() || e.object.ns == req->namespace_()) fill(e, *resp->add_objects());
    return grpc::Status::OK;
}

grpc::Status Service::GetStats(grpc::ServerContext*, const v1::GetStatsRequest* req, v1::GetStatsResponse* resp) {
    const bool services = req != nullptr && req->services();
    return on_control([&] {
        view_.stats(*resp);
        if (services) resp->set_services_json(view_.service_counters_json());
        return grpc::Status::OK;
    });
}

grpc::Status Service::DumpServices(grpc::ServerContext*, const v1::DumpServicesRequest* req,
                                   v1::DumpServicesResponse* resp) {
    if (req->format() != v1::DUMP_FORMAT_TEXT && req->format() != v1::DUMP_FORMAT_JSON)
        return invalid({"services.format", "must be DUMP_FORMAT_TEXT or DUMP_FORMAT_JSON"});
    const auto format = req->format();
    return on_control([&] {
        view_.dump_services(format, *resp);
        return grpc::Status::OK;
    });
}

grpc::Status Service::DumpConntrack(grpc::ServerContext*, const v1::DumpConntrackRequest* req,
                                    v1::DumpConntrackResponse* resp) {
    auto filter = check_conntrack(*req);
    if (auto* e = std::get_if<FieldError>(&filter)) return invalid(*e);
    const auto& f = std::get<ConntrackFilter>(filter);
    return on_control([&] {
        view_.dump_conntrack(f, *resp);
        return grpc::Status::OK;
    });
}

grpc::Status Service::Trace(grpc::ServerContext*, const v1::TraceRequest* req, v1::TraceResponse* resp) {
    auto query = check_trace(*req);
    if (auto* e = std::get_if<FieldError>(&query)) return invalid(*e);
    const auto& q = std::get<TraceQuery>(query);
    return on_control([&] {
        const std::string missing = view_.trace(q, *resp);
        if (!missing.empty()) return grpc::Status{grpc::StatusCode::NOT_FOUND, missing};
        return grpc::Status::OK;
    });
}

grpc::Status Service::GetGenerations(grpc::ServerContext* ctx, const v1::GetGenerationsRequest* req,
                                     v1::GetGenerationsResponse* resp) {
    if (req->timeout_ms() > 60000) return invalid({"generations.timeout_ms", "must be 0-60000"});
    const uint64_t desired = store_.generation();
    if (req->wait_for_realized() > desired)
        return invalid({"generations.wait_for_realized",
                        "generation " + std::to_string(req->wait_for_realized()) + " is ahead of the store's (" +
                            std::to_string(desired) + ")"});
    uint64_t realized = 0;
    if (generations_.live()) {
        // Realized first: a change landing in between then shows as realized < desired.
        realized = generations_.get();
        if (req->wait_for_realized() > realized) {
            const auto wait = std::chrono::milliseconds(req->timeout_ms() == 0 ? 10000 : req->timeout_ms());
            realized = generations_.wait(req->wait_for_realized(), GenerationWatch::Clock::now() + wait,
                                         [ctx] { return ctx != nullptr && ctx->IsCancelled(); });
        }
    } else {
        if (req->wait_for_realized() != 0)
            return {grpc::StatusCode::UNIMPLEMENTED, "generations.wait_for_realized: not served by this node"};
        auto s = on_control([&] {
            realized = view_.realized_generation();
            return grpc::Status::OK;
        });
        if (!s.ok()) return s;
    }
    resp->set_desired(store_.generation());
    resp->set_realized(realized);
    return grpc::Status::OK;
}

namespace {

// "" or "namespace/name".
std::optional<FieldError> check_pod_name(const std::string& field, const std::string& pod) {
    if (pod.empty()) return std::nullopt;
    const auto slash = pod.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == pod.size() || pod.find('/', slash + 1) != std::string::npos)
        return FieldError{field, "must be \"namespace/name\", got \"" + pod + "\""};
    return std::nullopt;
}

}  // namespace

grpc::Status Service::DumpPolicy(grpc::ServerContext*, const v1::DumpPolicyRequest* req, v1::DumpPolicyResponse* resp) {
    if (req->format() != v1::DUMP_FORMAT_TEXT && req->format() != v1::DUMP_FORMAT_JSON)
        return invalid({"policy.format", "must be DUMP_FORMAT_TEXT or DUMP_FORMAT_JSON"});
    if (auto e = check_pod_name("policy.pod", req->pod())) return invalid(*e);
    return on_control([&] {
        const std::string missing = view_.dump_policy(req->pod(), req->format(), *resp);
        if (!missing.empty()) return grpc::Status(grpc::StatusCode::NOT_FOUND, missing);
        return grpc::Status::OK;
    });
}

grpc::Status Service::ReadVerdicts(grpc::ServerContext* ctx, const v1::ReadVerdictsRequest* req,
                                   grpc::ServerWriter<v1::VerdictRecord>* writer) {
    if (auto e = check_pod_name("verdicts.pod", req->pod())) return invalid(*e);
    uint64_t after = req->after_seq();
    for (;;) {
        std::vector<v1::VerdictRecord> batch;
        const grpc::Status st = on_control([&] {
            view_.read_verdicts(after, req->pod(), 512, batch);
            return grpc::Status::OK;
        });
        if (!st.ok()) return st;
        for (const v1::VerdictRecord& r : batch) {
            if (!writer->Write(r)) return grpc::Status::OK;  // the client went away
            after = r.seq();
        }
        if (batch.size() == 512) continue;  // more waiting
        if (!req->follow()) return grpc::Status::OK;
        if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
    }
}

grpc::Status Service::DumpPorts(grpc::ServerContext*, const v1::DumpPortsRequest*, v1::DumpPortsResponse* resp) {
    return on_control([&] {
        view_.dump_ports(*resp);
        return grpc::Status::OK;
    });
}

namespace {

grpc::Status no_settings() { return {grpc::StatusCode::UNIMPLEMENTED, "this node has no run-time settings"}; }

}  // namespace

grpc::Status Service::GetNodeSettings(grpc::ServerContext*, const v1::GetNodeSettingsRequest*,
                                      v1::NodeSettings* resp) {
    return on_control([&] { return view_.node_settings(*resp) ? grpc::Status::OK : no_settings(); });
}

grpc::Status Service::UpdateNodeSettings(grpc::ServerContext*, const v1::UpdateNodeSettingsRequest* req,
                                         v1::NodeSettings* resp) {
    auto checked = check_node_settings_update(*req);
    if (auto* e = std::get_if<FieldError>(&checked)) return invalid(*e);
    const auto& change = std::get<reconcile::NodeSettingsChange>(checked);
    return on_control([&] { return view_.update_node_settings(change, *resp) ? grpc::Status::OK : no_settings(); });
}

}  // namespace enidp::api
