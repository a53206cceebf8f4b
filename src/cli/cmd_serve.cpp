// `localmax serve`: the OpenAI- and Ollama-compatible HTTP server over one model.
#include <CLI/CLI.hpp>
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/log.h"
#include "server/http_server.h"
#include "server/model_registry.h"

namespace lm::cli {
namespace {

Result<std::vector<std::string>> read_keys(const std::string& path) {
  LM_TRY(std::string text, read_file(path));
  std::vector<std::string> keys;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty() && line[0] != '#') keys.push_back(line);
  }
  if (keys.empty()) return errorf("{}: no API key in the file", path);
  return keys;
}

}  // namespace

int cmd_serve(const Args& args) {
  CLI::App app{"Serve a model over HTTP with OpenAI (/v1/...) and Ollama (/api/...) APIs.",
               "localmax serve"};
  server::ModelLoadOptions mo;
  server::ServerOptions so;
  std::string api_key, api_key_file;
  bool verbose = false;
  size_t max_body = so.max_body_bytes;
  app.add_option("-m,--model", mo.path, "GGUF model (default: the demo model in models/)");
  app.add_option("--alias", mo.alias, "model name in the APIs (default: the file name)");
  app.add_option("--host", so.host, "address to listen on")->capture_default_str();
  app.add_option("--port", so.port, "port (0: any free port)")->capture_default_str();
  app.add_option("--parallel,-P", mo.scheduler.n_parallel, "requests decoded together")->capture_default_str();
  app.add_option("-c,--ctx-size", mo.scheduler.n_ctx, "context per request (default: the model's)");
  app.add_option("-t,--threads", mo.scheduler.n_threads, "compute threads (default: all cores)");
  app.add_option("-b,--batch-size", mo.scheduler.n_batch, "tokens per forward pass")->capture_default_str();
  app.add_option("--max-queue", mo.scheduler.max_queue, "requests waiting for a slot before 429")->capture_default_str();
  app.add_option("--http-threads", so.n_http_threads, "HTTP worker threads (0: from --parallel)");
  app.add_option("--api-key", api_key, "require Authorization: Bearer KEY");
  app.add_option("--api-key-file", api_key_file, "file of accepted API keys, one per line");
  app.add_option("--cors-origin", so.cors_origin, "allow browser requests from this origin");
  app.add_option("--max-body-bytes", max_body, "largest request body (413 above)")->capture_default_str();
  app.add_option("--timeout", so.read_timeout_s, "seconds to wait for a request's bytes")->capture_default_str();
  app.add_flag("-v,--verbose", verbose, "log every request");
  bool no_webui = false;
  app.add_flag("--no-webui", no_webui, "do not serve the browser chat UI at /");
  if (auto rc = parse_args(app, args)) return *rc;
  log::set_level(verbose ? log::Level::kDebug : log::Level::kInfo);
  so.max_body_bytes = max_body;
  so.webui = !no_webui;
  if (!api_key.empty()) so.api_keys.push_back(api_key);
  if (!api_key_file.empty()) {
    auto keys = read_keys(api_key_file);
    if (!keys.ok()) return fail(keys.error());
    so.api_keys.insert(so.api_keys.end(), keys->begin(), keys->end());
  }
  if (mo.path.empty()) mo.path = demo_model_path();
  if (mo.path.empty()) return fail(Error("no -m MODEL given and the demo model was not found"));

  // SIGINT/SIGTERM are blocked in every thread and taken by one watcher (graceful shutdown).
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  server::ModelRegistry models;
  if (auto st = models.load(mo); !st.ok()) return fail(st.error());
  auto srv = server::HttpServer::bind(so, models);
  if (!srv.ok()) return fail(srv.error());
  server::HttpServer& http = **srv;
  std::thread watcher([&http, sigs] {
    int sig = 0;
    sigwait(&sigs, &sig);
    log::info("signal {}: shutting down", sig);
    http.stop();
  });
  fmt::print(stderr, "localmax: serving {} (n_ctx {}, parallel {}) — listening on http://{}:{}\n",
             models.entries().front()->info.name, models.entries().front()->scheduler->n_ctx(),
             mo.scheduler.n_parallel, so.host, http.port());
  std::fflush(stderr);
  Status st = http.run();
  pthread_kill(watcher.native_handle(), SIGTERM);   // wakes the watcher if no signal came
  watcher.join();
  if (!st.ok()) return fail(st.error());
  return 0;
}

}  // namespace lm::cli
