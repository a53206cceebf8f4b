// The router's entry point in the server: decide, then refuse, run locally or proxy.
#include "server/route_dispatch.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/log.h"
#include "server/server_context.h"

namespace lm::server {
namespace {

using nlohmann::json;

bool is_ollama(RouteEndpoint ep) { return ep == RouteEndpoint::kOllamaChat || ep == RouteEndpoint::kOllamaGenerate; }

// Request headers for the policy: lower-case names, secrets left out.
std::map<std::string, std::string> policy_headers(const httplib::Request& req) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : req.headers) {
    std::string name = k;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    if (name == "authorization" || name == "cookie" || name == "x-api-key" || name == "proxy-authorization") continue;
    out[name] = v;
  }
  return out;
}

// The API key's NAME: "key-N" for the N-th configured key (the secret never leaves this function).
std::string key_name(const httplib::Request& req, const ServerOptions& opt) {
  std::string auth = req.get_header_value("Authorization");
  const std::string kBearer = "Bearer ";
  if (opt.api_keys.empty() || auth.compare(0, kBearer.size(), kBearer) != 0) return "";
  std::string given = auth.substr(kBearer.size());
  for (size_t i = 0; i < opt.api_keys.size(); ++i) {
    if (opt.api_keys[i] == given) return fmt::format("key-{}", i + 1);
  }
  return "";
}

router::LocalInfo local_info(ServerContext& ctx, const std::string& requested) {
  router::LocalInfo li;
  li.available = false;
  auto all = ctx.models.status();
  auto canon = ctx.models.resolve(requested);
  for (const auto& st : all) {
    li.models.push_back(st.spec.name);
    if (!st.info) continue;
    li.available = true;
    bool serving = canon ? *canon == st.spec.name : li.n_ctx == 0;
    if (serving || li.n_ctx == 0) li.n_ctx = st.info->n_ctx;
  }
  return li;
}

ApiError refusal(const router::Routed& r) {
  ApiError e;
  e.status = r.decision.http_status > 0 ? r.decision.http_status : 403;
  const router::Decision& d = r.decision;
  e.message = !d.message.empty() ? d.message
            : !d.reason.empty()  ? d.reason
                                 : fmt::format("refused by rule '{}'", d.rule);
  e.type = e.status == 429 ? "rate_limit_error" : e.status == 503 ? "server_error" : "permission_error";
  e.code = e.status == 503 && e.message.rfind("offline mode", 0) == 0 ? "offline" : "route_refused";
  return e;
}

void refuse(ServerContext& ctx, router::Routed& r, Dialect dialect, httplib::Response& res,
            std::optional<ApiError> override_error = std::nullopt) {
  ApiError e = override_error ? *override_error : refusal(r);
  set_route_headers(res, "refused", r);
  router::Outcome o;
  o.route = "refused";
  o.error = fmt::format("refused: HTTP {}", e.status);
  if (auto st = ctx.options.router->record(r, o); !st.ok()) {
    log::error("audit log: {}", st.error().message());
    e = audit_unavailable();
  }
  send_error(res, e, dialect);
}

}  // namespace

ApiError audit_unavailable() {
  ApiError e;
  e.status = 503;
  e.message = "audit log unavailable: the request was not processed (see the server log)";
  e.type = "server_error";
  e.code = "audit_unavailable";
  return e;
}

std::string local_route(const std::string& model) { return "local:" + model; }
std::string upstream_route(const router::Target& t) { return "upstream:" + t.provider + "/" + t.model; }

void set_route_headers(httplib::Response& res, const std::string& route, const router::Routed& r) {
  for (const char* h : {"X-Localmax-Route", "X-Localmax-Rule", "X-Localmax-Request-Id"}) {
    while (res.has_header(h)) res.headers.erase(h);
  }
  res.set_header("X-Localmax-Route", route);
  res.set_header("X-Localmax-Rule", r.decision.rule);
  res.set_header("X-Localmax-Request-Id", r.request_id);
}

HttpHandler routed(ServerContext& ctx, RouteEndpoint ep, HttpHandler local) {
  if (!ctx.options.router) return local;
  return [&ctx, ep, local = std::move(local)](const httplib::Request& req, httplib::Response& res) {
    router::Router& rt = *ctx.options.router;
    Dialect dialect = is_ollama(ep) ? Dialect::kOllama : Dialect::kOpenAi;
    json body = json::parse(req.body, nullptr, false);
    bool valid = !body.is_discarded() && body.is_object();
    static const json kEmpty = json::object();
    router::RouteRequest rq{req.body, valid ? &body : &kEmpty, policy_headers(req), key_name(req, ctx.options)};
    std::string requested = valid && body.contains("model") && body["model"].is_string()
                                ? body["model"].get<std::string>() : "";
    router::Routed r = rt.route(rq, local_info(ctx, requested));
    if (!valid) {   // nothing can leave; the local handler answers with its precise 400
      r.decision = router::Decision{};
      r.decision.rule = "invalid-request";
      set_route_headers(res, "refused", r);
      local(req, res);
      router::Outcome o;
      o.route = "refused";
      o.error = fmt::format("invalid request: HTTP {}", res.status);
      if (auto st = rt.record(r, o); !st.ok()) send_error(res, audit_unavailable(), dialect);
      return;
    }
    switch (r.decision.route) {
      case router::Route::refuse:
        return refuse(ctx, r, dialect, res);
      case router::Route::local:
        return run_local(ctx, r, req, res, local, r.decision.target.model, "");
      case router::Route::upstream:
        break;
    }
    if (ep != RouteEndpoint::kChat) {
      ApiError e = refusal(r);
      e.status = 400;
      e.code = "route_refused";
      e.message = fmt::format("rule '{}' routes this request to {}/{}, and upstream models are served only "
                              "on /v1/chat/completions: send it there", r.decision.rule,
                              r.decision.target.provider, r.decision.target.model);
      return refuse(ctx, r, dialect, res, e);
    }
    proxy_upstream(ctx, r, body, req, res, local);
  };
}

void append_upstream_models(const ServerContext& ctx, json& data) {
  if (!ctx.options.router) return;
  std::vector<std::string> seen;
  for (const auto& d : data) {
    if (d.contains("id") && d["id"].is_string()) seen.push_back(d["id"].get<std::string>());
  }
  for (const auto& [provider, model] : ctx.options.router->upstream_models()) {
    if (std::find(seen.begin(), seen.end(), model) != seen.end()) continue;
    seen.push_back(model);
    data.push_back({{"id", model}, {"object", "model"}, {"created", 0}, {"owned_by", provider}});
  }
}

}  // namespace lm::server
