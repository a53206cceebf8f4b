// The handlers' side of the ModelRegistry: find_model (load on demand, errors in the endpoint's
// dialect) and keeping each request's leases until its response has been sent.
#include <fmt/format.h>

#include <vector>

#include "server/server_context.h"

namespace lm::server {
namespace {

// Leases taken while the current request is routed (handlers run on the connection's thread).
thread_local std::vector<ModelRef> t_leases;

}  // namespace

ModelRef find_model(ServerContext& ctx, const std::string& name, Dialect dialect,
                    httplib::Response& res, std::optional<int64_t> keep_alive_ms) {
  auto got = ctx.models.acquire(name, keep_alive_ms);
  if (auto* ref = std::get_if<ModelRef>(&got)) {
    t_leases.push_back(*ref);
    return *ref;
  }
  const AcquireError& a = std::get<AcquireError>(got);
  ApiError e;
  e.status = a.status;
  e.message = a.message;
  e.code = a.code;
  e.retry_after_s = a.retry_after_s;
  e.type = a.status == 404 ? "invalid_request_error" : "server_error";
  if (a.status == 404) e.param = "model";
  send_error(res, e, dialect);
  return nullptr;
}

bool unload_model(ServerContext& ctx, const std::string& name, Dialect dialect, httplib::Response& res) {
  if (ctx.models.unload(name)) return true;
  ApiError e = not_found(fmt::format("model '{}' not found", name));
  e.code = "model_not_found";
  e.param = "model";
  send_error(res, e, dialect);
  return false;
}

void hold_model_leases(httplib::Response& res) {
  if (t_leases.empty()) return;
  if (res.content_provider_) {
    // A stream: the response object lives until the last chunk has been written.
    auto prev = std::move(res.content_provider_resource_releaser_);
    res.content_provider_resource_releaser_ = [prev = std::move(prev),
                                               leases = std::move(t_leases)](bool ok) {
      if (prev) prev(ok);
    };
  }
  t_leases.clear();
}

void drop_model_leases() { t_leases.clear(); }

}  // namespace lm::server
