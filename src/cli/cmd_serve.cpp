// `localmax serve`: the OpenAI- and Ollama-compatible HTTP server over one or several models.
#include <CLI/CLI.hpp>
#include <pthread.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <cstdio>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/egress.h"
#include "core/log.h"
#include "router/router.h"
#include "server/http_server.h"
#include "server/duration.h"
#include "server/model_registry.h"
#include "server/models_config.h"
#include "store/store.h"

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

// "-m NAME=PATH", "-m PATH" or "-m STORE-REF" as a spec from `defaults`.
Result<server::ModelSpec> model_arg_spec(const std::string& arg, const server::ModelSpec& defaults) {
  server::ModelSpec s = defaults;
  std::string ref = arg;
  size_t eq = arg.find('=');
  if (eq != std::string::npos && eq > 0 && arg.substr(0, eq).find('/') == std::string::npos) {
    s.name = arg.substr(0, eq);
    ref = arg.substr(eq + 1);
  }
  bool is_path = std::filesystem::exists(ref);
  std::string path = ref;
  if (auto st = resolve_model_arg(path); !st.ok()) return errorf("-m {}: {}", arg, st.error().message());
  s.path = path;
  if (s.name.empty()) s.name = is_path ? server::model_file_stem(ref) : ref;
  return s;
}

Result<std::vector<server::ModelSpec>> store_specs(const server::ModelSpec& defaults) {
  LM_TRY(auto store, store::Store::open_default());
  std::vector<std::string> errors;
  std::vector<server::ModelSpec> out;
  for (const auto& m : store.list_manifests(&errors)) {
    if (!store.has_blob(m.digest)) continue;
    server::ModelSpec s = defaults;
    s.name = m.name;
    s.path = store.blob_path(m.digest);
    out.push_back(std::move(s));
  }
  for (const auto& e : errors) log::warn("store: {}", e);
  return out;
}

struct ModelFlags {
  std::vector<std::string> models;
  std::string alias, models_dir, models_config, keep_alive = "5m", max_memory;
  bool store = false;
};

// Every model the flags name, in order: -m, --models-dir, --store, then --models-config.
Result<std::vector<server::ModelSpec>> collect_specs(ModelFlags f, const server::ModelSpec& defaults) {
  std::vector<server::ModelSpec> specs;
  for (size_t i = 0; i < f.models.size(); ++i) {
    LM_TRY(auto s, model_arg_spec(f.models[i], defaults));
    if (i == 0 && !f.alias.empty()) s.name = f.alias;
    specs.push_back(std::move(s));
  }
  auto add_all = [&specs](std::vector<server::ModelSpec> more) {
    for (auto& s : more) {
      bool dup = false;
      for (const auto& t : specs) dup |= t.name == s.name;
      if (!dup) specs.push_back(std::move(s));
    }
  };
  if (!f.models_dir.empty()) {
    LM_TRY(auto more, server::scan_models_dir(f.models_dir, defaults));
    add_all(std::move(more));
  }
  if (f.store) {
    LM_TRY(auto more, store_specs(defaults));
    add_all(std::move(more));
  }
  if (!f.models_config.empty()) {
    LM_TRY(std::string text, read_file(f.models_config));
    std::string dir = std::filesystem::path(f.models_config).parent_path().string();
    LM_TRY(auto entries, server::parse_models_config(text, f.models_config, dir));
    LM_TRY_STATUS(server::apply_models_config(entries, defaults, specs));
  }
  if (specs.empty()) {
    server::ModelSpec s = defaults;
    s.path = demo_model_path();
    if (s.path.empty()) return Error("no -m MODEL given and the demo model was not found");
    s.name = f.alias.empty() ? server::model_file_stem(s.path) : f.alias;
    specs.push_back(std::move(s));
  }
  for (const auto& s : specs) {
    if (!std::filesystem::exists(s.path)) return errorf("model '{}': {} does not exist", s.name, s.path);
  }
  return specs;
}

void add_model_flags(CLI::App& app, ModelFlags& f, server::ModelSpec& d, server::RegistryOptions& ro) {
  app.add_option("-m,--model", f.models, "model to serve: PATH, NAME=PATH or a store name (repeatable; "
                 "default: the demo model)");
  app.add_option("--alias", f.alias, "API name of the first -m model (default: the file name)");
  app.add_option("--models-dir", f.models_dir, "also serve every *.gguf file in DIR (name: file name)");
  app.add_flag("--store", f.store, "also serve every model in the local store (localmax ls)");
  app.add_option("--models-config", f.models_config,
                 "JSON file of per-model settings: NAME -> {path, ctx_size, cache_type_k, "
                 "cache_type_v, parallel, kv_pool, keep_alive}; the flags are the defaults");
  app.add_option("--keep-alive", f.keep_alive, "unload a model this long after its last request "
                 "(5m, 1h, 30s, seconds; negative: never; 0: at once)")->capture_default_str();
  app.add_option("--max-memory", f.max_memory, "memory budget for loaded models: BYTES (K/M/G "
                 "suffixes) or auto (80% of MemAvailable); default: no limit");
  app.add_option("--max-models", ro.max_models, "models loaded at once (0: no limit)")->capture_default_str();
  app.add_option_function<double>("--load-wait", [&ro](double s) { ro.wait_ms = static_cast<int64_t>(s * 1000); },
                                  "seconds a load waits for busy models to go idle before 503 (default 5)");
  app.add_option("--parallel,-P", d.scheduler.n_parallel, "requests decoded together, per model")->capture_default_str();
  app.add_option("-c,--ctx-size", d.scheduler.n_ctx, "context per request (default: the model's)");
  app.add_option("--kv-pool", d.scheduler.n_kv_pool, "KV cache positions shared by all requests of a "
                 "model, in blocks of 32 (paged; each request may still grow to --ctx-size while "
                 "blocks are free); default: ctx-size x parallel")->check(CLI::NonNegativeNumber);
  app.add_option("--cache-type-k", d.cache_type_k, "KV cache type of keys: f32, f16, q8_0")->capture_default_str();
  app.add_option("--cache-type-v", d.cache_type_v, "KV cache type of values: f32, f16, q8_0")->capture_default_str();
  app.add_option("-t,--threads", d.scheduler.n_threads, "compute threads (default: all cores)");
  app.add_option("-b,--batch-size", d.scheduler.n_batch, "tokens per forward pass")->capture_default_str();
  app.add_option("--max-queue", d.scheduler.max_queue, "requests waiting for a slot before 429")->capture_default_str();
  app.add_option_function<double>("--request-timeout", [&d](double s) { d.scheduler.request_timeout_ms = static_cast<int64_t>(s * 1000); },
                                  "seconds a request may run (queueing included) before it ends with finish_reason length; a request's \"timeout\" may shorten it (default: no limit)");
}

// The router from --router-config (null without one); offline from the flag, the env or the file.
Result<std::shared_ptr<router::Router>> make_router(const std::string& path, bool offline) {
  const char* env = std::getenv("LOCALMAX_OFFLINE");
  offline |= env && std::string(env) != "" && std::string(env) != "0";
  if (offline) egress::set_offline(true);
  if (path.empty()) return std::shared_ptr<router::Router>();
  LM_TRY(auto cfg, router::load_router_config(path));
  cfg.offline |= offline;
  size_t n_providers = cfg.providers.size();
  LM_TRY(auto rt, router::Router::create(std::move(cfg)));
  fmt::print(stderr, "localmax: router: {} upstream provider(s){}, audit log {}\n", n_providers,
             rt->config().offline ? " (offline mode: none will be contacted)" : "", rt->audit_path());
  return std::shared_ptr<router::Router>(std::move(rt));
}

}  // namespace

int cmd_serve(const Args& args) {
  CLI::App app{"Serve models over HTTP with OpenAI (/v1/...) and Ollama (/api/...) APIs; models "
               "load on first request and unload when idle (--keep-alive) or to make room.",
               "localmax serve"};
  server::ModelSpec defaults;
  server::RegistryOptions ro;
  ModelFlags mf;
  server::ServerOptions so;
  std::string api_key, api_key_file;
  bool verbose = false;
  size_t max_body = so.max_body_bytes;
  add_model_flags(app, mf, defaults, ro);
  app.add_option("--host", so.host, "address to listen on")->capture_default_str();
  app.add_option("--port", so.port, "port (0: any free port)")->capture_default_str();
  app.add_option("--http-threads", so.n_http_threads, "HTTP worker threads (0: from --parallel)");
  app.add_option("--api-key", api_key, "require Authorization: Bearer KEY");
  app.add_option("--api-key-file", api_key_file, "file of accepted API keys, one per line");
  app.add_option("--cors-origin", so.cors_origin, "allow browser requests from this origin");
  app.add_option("--max-body-bytes", max_body, "largest request body (413 above)")->capture_default_str();
  app.add_option("--timeout", so.read_timeout_s, "seconds to wait for a request's bytes")->capture_default_str();
  app.add_flag("-v,--verbose", verbose, "log every request");
  bool no_webui = false;
  app.add_flag("--no-webui", no_webui, "do not serve the browser chat UI at /");
  std::string router_config;
  bool offline = false;
  app.add_option("--router-config", router_config, "router config JSON (providers, policy, detectors, audit, "
                 "prices, budgets; docs/router.md): decide per request local / upstream / refuse");
  app.add_flag("--offline", offline, "no outbound connection at all (also LOCALMAX_OFFLINE=1 or "
               "\"offline\": true in the router config)");
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
  for (const auto* t : {&defaults.cache_type_k, &defaults.cache_type_v}) {
    if (auto st = engine::parse_cache_type(*t); !st.ok()) return fail(st.error());
  }
  auto ka = server::parse_duration_ms(mf.keep_alive);
  if (!ka.ok()) return fail(Error("--keep-alive: " + ka.error().message()));
  ro.keep_alive_ms = *ka;
  if (!mf.max_memory.empty()) {
    auto budget = server::parse_memory_budget(mf.max_memory);
    if (!budget.ok()) return fail(budget.error());
    ro.max_memory = *budget;
  }
  auto specs = collect_specs(mf, defaults);
  if (!specs.ok()) return fail(specs.error());
  auto rt = make_router(router_config, offline);
  if (!rt.ok()) return fail(rt.error());
  so.router = std::move(*rt);

  // SIGINT/SIGTERM are blocked in every thread and taken by one watcher (graceful shutdown).
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  server::ModelRegistry models(server::make_gguf_loader(), ro);
  std::vector<std::string> names;
  for (auto& s : *specs) {
    names.push_back(s.name);
    if (auto st = models.add(std::move(s)); !st.ok()) return fail(st.error());
  }
  models.start_reaper(250);
  auto srv = server::HttpServer::bind(so, models);
  if (!srv.ok()) return fail(srv.error());
  server::HttpServer& http = **srv;
  std::thread watcher([&http, sigs] {
    int sig = 0;
    sigwait(&sigs, &sig);
    log::info("signal {}: shutting down", sig);
    http.stop();
  });
  fmt::print(stderr, "localmax: serving {} (loaded on first request; keep_alive {}, memory budget {}) "
             "— listening on http://{}:{}\n", fmt::join(names, ", "), server::format_duration_ms(ro.keep_alive_ms),
             ro.max_memory ? fmt::format("{} bytes", ro.max_memory) : "none", so.host, http.port());
  std::fflush(stderr);
  Status st = http.run();
  pthread_kill(watcher.native_handle(), SIGTERM);   // wakes the watcher if no signal came
  watcher.join();
  if (!st.ok()) return fail(st.error());
  return 0;
}

}  // namespace lm::cli
