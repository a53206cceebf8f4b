// State and helpers shared by the endpoint files (internal to the server module).
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
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
// The model a request names, or nullptr after sending 404.
ModelEntry* find_model(ServerContext& ctx, const std::string& name, Dialect dialect,
                       httplib::Response& res);

// One function per endpoint file.
void add_openai_models(httplib::Server& http, ServerContext& ctx);
void add_openai_completions(httplib::Server& http, ServerContext& ctx);
void add_openai_chat(httplib::Server& http, ServerContext& ctx);
void add_ollama_info(httplib::Server& http, ServerContext& ctx);
void add_ollama_generate(httplib::Server& http, ServerContext& ctx);
void add_ollama_chat(httplib::Server& http, ServerContext& ctx);
void add_embeddings(httplib::Server& http, ServerContext& ctx);

}  // namespace lm::server
