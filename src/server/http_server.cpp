#include "server/http_server.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <random>

#include "core/log.h"
#include "server/client_watch.h"
#include "server/server_context.h"
#include "server/streaming.h"
#include "server/webui.h"

namespace lm::server {

std::string ServerContext::make_id(const char* prefix) {
  static const uint64_t run_salt = std::random_device{}();
  uint64_t n = next_id.fetch_add(1);
  return fmt::format("{}-{:08x}{:08x}", prefix, static_cast<uint32_t>(run_salt), n);
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(to_json_text(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e, Dialect dialect) {
  if (e.retry_after_s > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s));
  send_json(res, e.status, error_body(e, dialect));
}

namespace {

// cpp-httplib 0.11 listens with a backlog of 5: more clients connecting at once (16 streams
// starting together) overflow it, the kernel drops their SYNs and they retry after a second.
// listen() again on the bound socket raises the backlog (Linux).
class Server : public httplib::Server {
 public:
  void raise_backlog(int n) { ::listen(svr_sock_, n); }
};

// Bearer token check; constant-time comparison (the key is a secret).
bool key_matches(const std::string& given, const std::vector<std::string>& keys) {
  bool any = false;
  for (const auto& k : keys) {
    if (k.size() != given.size()) continue;
    unsigned diff = 0;
    for (size_t i = 0; i < k.size(); ++i) diff |= static_cast<unsigned>(k[i] ^ given[i]);
    any |= diff == 0;
  }
  return any;
}

bool authorized(const httplib::Request& req, const ServerOptions& opt) {
  if (opt.api_keys.empty() || req.path == "/health") return true;
  // The UI's static files carry no secret; the UI itself asks for the key.
  bool get = req.method == "GET" || req.method == "HEAD";
  if (opt.webui && get && is_webui_path(req.path)) return true;
  std::string auth = req.get_header_value("Authorization");
  const std::string kBearer = "Bearer ";
  if (auth.compare(0, kBearer.size(), kBearer) != 0) return false;
  return key_matches(auth.substr(kBearer.size()), opt.api_keys);
}

void set_cors(httplib::Response& res, const ServerOptions& opt) {
  if (opt.cors_origin.empty()) return;
  res.set_header("Access-Control-Allow-Origin", opt.cors_origin);
  res.set_header("Vary", "Origin");
}

std::string default_message(const httplib::Request& req, int status, size_t max_body) {
  switch (status) {
    case 400: return "malformed HTTP request";
    case 401: return "missing or invalid API key";
    case 404: return fmt::format("unknown endpoint: {} {}", req.method, req.path);
    case 405: return fmt::format("method {} is not allowed on {}", req.method, req.path);
    case 413: return fmt::format("request body too large: the limit is {} bytes", max_body);
    case 414: return "request URI too long";
    default: return fmt::format("HTTP error {}", status);
  }
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::bind(const ServerOptions& options,
                                                     ModelRegistry& models) {
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->http_ = std::make_unique<Server>();
  s->ctx_ = std::make_unique<ServerContext>(models, options);
  int n_parallel = 0;   // slots of every model (several may be loaded at once)
  auto all = models.status();
  for (const auto& m : all) n_parallel += std::max(1, m.spec.scheduler.n_parallel);
  n_parallel = std::clamp(n_parallel, 1, 32);
  int n_threads = options.n_http_threads > 0 ? options.n_http_threads
                                             : std::max(16, 4 * n_parallel + 8);
  s->http_->new_task_queue = [n_threads] { return new httplib::ThreadPool(n_threads); };
  s->http_->set_payload_max_length(options.max_body_bytes);
  s->http_->set_read_timeout(options.read_timeout_s, 0);
  s->http_->set_write_timeout(options.write_timeout_s, 0);
  s->http_->set_keep_alive_max_count(1000);
  // Headers and body (and every SSE chunk) go out in separate writes: without TCP_NODELAY, Nagle
  // plus the client's delayed ACK stalls each response by ~40 ms.
  s->http_->set_tcp_nodelay(true);
  s->ctx_->fingerprint = "fp_localmax_0.1.0";
  if (!all.empty() && all.front().info) {
    s->ctx_->fingerprint += '_';
    s->ctx_->fingerprint.append(all.front().info->digest, 0, 8);
  }
  s->install_handlers();
  int port = options.port == 0 ? s->http_->bind_to_any_port(options.host)
                               : (s->http_->bind_to_port(options.host, options.port) ? options.port : -1);
  if (port < 0) return errorf("cannot listen on {}:{}", options.host, options.port);
  static_cast<Server&>(*s->http_).raise_backlog(512);
  s->port_ = port;
  return s;
}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::run() {
  if (!http_->listen_after_bind()) return Error("the HTTP server stopped with an error");
  return {};
}

void HttpServer::stop() {
  if (ctx_) ctx_->stopping = true;
  if (http_) http_->stop();
}

void HttpServer::install_handlers() {
  httplib::Server& h = *http_;
  ServerContext& ctx = *ctx_;
  h.set_pre_routing_handler([&ctx](const httplib::Request& req, httplib::Response& res) {
    drop_model_leases();
    remember_client(req);   // for ClientWatch (non-streaming responses cancel on a drop)
    set_cors(res, ctx.options);
    if (req.method == "OPTIONS" && !ctx.options.cors_origin.empty()) {
      res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
      res.status = 204;
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!authorized(req, ctx.options)) {
      ApiError e{401, "missing or invalid API key (send \"Authorization: Bearer KEY\")", "",
                 "invalid_api_key", "authentication_error", 0};
      send_error(res, e, dialect_of(req.path));
      res.set_header("WWW-Authenticate", "Bearer");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Every response (streamed or whole) holds the model leases its handler took (find_model)
  // until it has been sent: a model is never unloaded under a response being written.
  h.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    hold_model_leases(res);
  });
  h.set_error_handler(httplib::Server::HandlerWithResponse(
      [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    ApiError e;
    e.status = res.status;
    e.message = default_message(req, res.status, ctx.options.max_body_bytes);
    if (res.status == 404) e.code = "not_found";
    send_error(res, e, dialect_of(req.path));
    set_cors(res, ctx.options);
    return httplib::Server::HandlerResponse::Handled;
  }));
  h.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    log::error("{} {}: {}", req.method, req.path, what);
    send_error(res, server_error("internal error: " + what), dialect_of(req.path));
  });
  h.set_logger([&ctx](const httplib::Request& req, const httplib::Response& res) {
    ctx.metrics.record(req.path, res.status);
    log::debug("{} {} -> {}", req.method, req.path, res.status);
  });

  h.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"status", "ok"}});
  });
  h.Get("/metrics", [&ctx](const httplib::Request&, httplib::Response& res) {
    res.set_content(ctx.metrics.render(ctx.models), "text/plain; version=0.0.4");
  });
  add_openai_models(h, ctx);
  add_openai_completions(h, ctx);
  add_openai_chat(h, ctx);
  add_ollama_info(h, ctx);
  add_ollama_generate(h, ctx);
  add_ollama_chat(h, ctx);
  if (ctx.options.webui) add_webui(h, ctx);
  add_embeddings(h, ctx);
  // A known path with the wrong method is 405, not 404.
  auto not_allowed = [](const httplib::Request&, httplib::Response& res) { res.status = 405; };
  for (const char* path : {"/v1/completions", "/v1/chat/completions", "/api/generate", "/api/chat",
                           "/api/show", "/api/embed", "/api/embeddings", "/v1/embeddings"}) {
    h.Get(path, not_allowed);
    h.Put(path, not_allowed);
    h.Delete(path, not_allowed);
  }
  for (const char* path : {"/health", "/metrics", "/v1/models", "/api/tags", "/api/version", "/api/ps"}) {
    h.Post(path, not_allowed);
    h.Put(path, not_allowed);
    h.Delete(path, not_allowed);
  }
}

}  // namespace lm::server
