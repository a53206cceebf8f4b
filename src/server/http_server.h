// HttpServer: localmax's OpenAI- and Ollama-compatible HTTP API (cpp-httplib underneath).
//
// One thread per connection from a fixed pool (streams hold theirs until they end). Requests
// larger than max_body_bytes get 413; with api_keys set, every endpoint but /health needs
// "Authorization: Bearer KEY" (401 otherwise); CORS headers only when cors_origin is set.
// Errors are JSON in the dialect of the endpoint (api_error.h).
//
// Ownership: borrows the ModelRegistry, which must outlive the server. Thread-safety: stop() may
// be called from any thread (a signal-watching thread, a test) while run() blocks in another.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace httplib {
class Server;
}

namespace lm::router {
class Router;
}

namespace lm::server {

class ModelRegistry;
struct ServerContext;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                        // 0: any free port (see HttpServer::port())
  int n_http_threads = 0;                 // 0: 4 per sequence slot + 8, at least 16
  int read_timeout_s = 30;
  int write_timeout_s = 600;
  size_t max_body_bytes = 8u << 20;       // larger requests get 413
  std::vector<std::string> api_keys;      // empty: no authentication
  std::string cors_origin;                // "": no CORS headers
  bool webui = true;                      // the browser chat UI at "/" (webui.h)
  std::shared_ptr<router::Router> router; // null: every request local (route_dispatch.h)
};

class HttpServer {
 public:
  // Binds the socket (so port() is known before run()).
  static Result<std::unique_ptr<HttpServer>> bind(const ServerOptions& options, ModelRegistry& models);
  ~HttpServer();

  int port() const { return port_; }
  // Serves until stop(); returns an error if the listening loop failed.
  Status run();
  void stop();

 private:
  HttpServer() = default;
  void install_handlers();

  std::unique_ptr<httplib::Server> http_;
  std::unique_ptr<ServerContext> ctx_;
  int port_ = 0;
};

}  // namespace lm::server
