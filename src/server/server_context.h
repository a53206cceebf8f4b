// State and helpers shared by the endpoint files (internal to the server module).
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <optional>
#include <string>

#include "server/api_error.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/model_registry.h"

namespace lm::server {

struct ServerContext {
  ModelRegistry& models;
  ServerOptions options;
  Metrics metrics;
  std::string fingerprint;              // system_fingerprint: "localmax-<version>-<model digest>"
  std::atomic<uint64_t> next_id{1};
  std::atomic<bool> stopping{false};    // set by HttpServer::stop(): running requests are cancelled

  ServerContext(ModelRegistry& m, ServerOptions o) : models(m), options(std::move(o)) {}
  // "chatcmpl-<random-ish hex>": unique per server run.
  std::string make_id(const char* prefix);
};

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
void send_error(httplib::Response& res, const ApiError& e, Dialect dialect);
// The model a request names, loaded if need be (server_models.cpp), or nullptr after sending the
// error (404 unknown, 500 load failure, 503 no room). The lease is also held until the response
// has been written (streams included), so a model is never unloaded under a running request.
// keep_alive_ms: the request's keep_alive (Ollama), if it gave one.
ModelRef find_model(ServerContext& ctx, const std::string& name, Dialect dialect,
                    httplib::Response& res, std::optional<int64_t> keep_alive_ms = std::nullopt);
// Leases taken by find_model during a handler: hold_model_leases (the server's post-routing
// handler, so for every response) moves them into the response, released when a stream has been
// sent (or dropped at once for a whole response); drop_model_leases (before routing) forgets any
// a failed request left behind.
void hold_model_leases(httplib::Response& res);
// Ollama's keep_alive 0 with nothing to generate: unload `name` (once idle). false after 404.
bool unload_model(ServerContext& ctx, const std::string& name, Dialect dialect, httplib::Response& res);
void drop_model_leases();

// One function per endpoint file.
void add_openai_models(httplib::Server& http, ServerContext& ctx);
void add_openai_completions(httplib::Server& http, ServerContext& ctx);
void add_openai_chat(httplib::Server& http, ServerContext& ctx);
void add_ollama_info(httplib::Server& http, ServerContext& ctx);
void add_ollama_generate(httplib::Server& http, ServerContext& ctx);
void add_ollama_chat(httplib::Server& http, ServerContext& ctx);
void add_embeddings(httplib::Server& http, ServerContext& ctx);

}  // namespace lm::server
