// The router in front of the generation endpoints (`localmax serve --router-config FILE`):
// every request is decided before local handling: local (the existing handler, maybe with the
// model the rule names), upstream (proxied, streams passed through as OpenAI SSE chunks) or
// refused (an error naming the rule). Every response carries X-Localmax-Route
// ("local:MODEL" | "upstream:PROVIDER/MODEL" | "refused") and X-Localmax-Rule, plus
// X-Localmax-Request-Id (the audit entry's request_id). Without a router the handlers are
// unchanged.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>

#include "router/router.h"
#include "server/api_error.h"

namespace lm::server {

struct ServerContext;

enum class RouteEndpoint { kChat, kCompletions, kOllamaChat, kOllamaGenerate };
using HttpHandler = std::function<void(const httplib::Request&, httplib::Response&)>;

// `local` wrapped with the router; `local` itself when no router is configured.
HttpHandler routed(ServerContext& ctx, RouteEndpoint ep, HttpHandler local);
// Upstream models for /v1/models (owned_by = provider); nothing without a router.
void append_upstream_models(const ServerContext& ctx, nlohmann::json& data);

// ---- internal to route_*.cpp ----
void set_route_headers(httplib::Response& res, const std::string& route, const router::Routed& r);
std::string local_route(const std::string& model);
std::string upstream_route(const router::Target& t);
// Runs the local handler for `model` (rewriting the request's model when it differs) and records
// the outcome when the response has been sent (streams included). fallback: for the audit.
void run_local(ServerContext& ctx, router::Routed& r, const httplib::Request& req, httplib::Response& res,
               const HttpHandler& local, const std::string& model, const std::string& fallback);
// The decision is upstream: forward (with fallbacks), reply or stream, record.
void proxy_upstream(ServerContext& ctx, router::Routed& r, const nlohmann::json& body,
                    const httplib::Request& req, httplib::Response& res, const HttpHandler& local);
ApiError audit_unavailable();

}  // namespace lm::server
