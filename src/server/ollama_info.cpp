// Ollama model information: GET /api/version, /api/tags, /api/ps; POST /api/show.
#include <fmt/format.h>

#include <ctime>
#include <limits>

#include "server/ollama_common.h"
#include "server/request.h"
#include "server/server_context.h"
#include "server/streaming.h"

namespace lm::server {

std::string ollama_name(const ModelInfo& m) {
  return m.name.find(':') == std::string::npos ? m.name + ":latest" : m.name;
}

std::string parameter_size(int64_t n) {
  if (n >= 1000000000) return fmt::format("{:.1f}B", n / 1e9);
  if (n >= 1000000) return fmt::format("{:.1f}M", n / 1e6);
  return fmt::format("{:.1f}K", n / 1e3);
}

nlohmann::json ollama_details(const ModelInfo& m) {
  return {{"parent_model", ""}, {"format", "gguf"}, {"family", m.arch},
          {"families", nlohmann::json::array({m.arch})},
          {"parameter_size", parameter_size(m.n_params)}, {"quantization_level", m.quantization}};
}

void add_final_stats(nlohmann::json& obj, const engine::Usage& u, engine::FinishReason r) {
  auto ns = [](double ms) { return static_cast<int64_t>(ms * 1e6); };
  obj["done"] = true;
  obj["done_reason"] = r == engine::FinishReason::kLength ? "length" : "stop";
  obj["total_duration"] = ns(u.total_ms);
  obj["load_duration"] = 0;   // the model is loaded at start-up
  obj["prompt_eval_count"] = u.prompt_tokens - u.cached_tokens;
  obj["prompt_eval_duration"] = ns(u.ttft_ms);
  obj["eval_count"] = u.completion_tokens;
  obj["eval_duration"] = ns(u.total_ms - u.ttft_ms);
}

std::optional<ApiError> check_num_ctx(const OllamaRequest& q, int32_t n_ctx) {
  if (q.num_ctx <= n_ctx) return std::nullopt;
  return bad_param("options.num_ctx",
                   fmt::format("options.num_ctx = {} exceeds the loaded context size {} (set it "
                               "with -c or ctx_size in --models-config)", q.num_ctx, n_ctx));
}

namespace {

std::string rfc3339(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

nlohmann::json tag_entry(const ModelInfo& m) {
  return {{"name", ollama_name(m)}, {"model", ollama_name(m)}, {"modified_at", rfc3339(m.modified_unix)},
          {"size", m.size_bytes}, {"digest", m.digest}, {"details", ollama_details(m)}};
}

// What /api/tags and /api/ps say about a model whose file could not be read.
ModelInfo info_of(const ModelStatus& st) {
  if (st.info) return *st.info;
  ModelInfo i;
  i.name = st.spec.name;
  i.path = st.spec.path;
  return i;
}

std::string rfc3339_ms(int64_t ms) {
  if (ms >= std::numeric_limits<int64_t>::max() / 2) return "9999-12-31T23:59:59Z";   // keep_alive < 0
  return rfc3339(ms / 1000);
}

// Describes the model without loading it (as Ollama does).
void show(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  auto name = parse_ollama_model_name(req.body);
  if (auto* e = std::get_if<ApiError>(&name)) return send_error(res, *e, Dialect::kOllama);
  auto st = ctx.models.status(std::get<std::string>(name));
  if (!st) {
    ApiError e = not_found(fmt::format("model '{}' not found", std::get<std::string>(name)));
    e.code = "model_not_found";
    return send_error(res, e, Dialect::kOllama);
  }
  if (!st->info) return send_error(res, server_error(st->describe_error), Dialect::kOllama);
  const ModelInfo& i = *st->info;
  const auto& c = i.config;
  std::string a = i.arch;
  nlohmann::json info = {{"general.architecture", a}, {"general.parameter_count", i.n_params},
                         {a + ".context_length", c.n_ctx_train}, {a + ".embedding_length", c.n_embd},
                         {a + ".block_count", c.n_layer}, {a + ".feed_forward_length", c.n_ff},
                         {a + ".attention.head_count", c.n_head},
                         {a + ".attention.head_count_kv", c.n_head_kv}};
  nlohmann::json caps = nlohmann::json::array({"completion"});
  if (i.chat_template.find("tools") != std::string::npos) caps.push_back("tools");
  std::string params = fmt::format("num_ctx {}", i.n_ctx);
  send_json(res, 200, {{"license", ""}, {"modelfile", "FROM " + i.path + "\n"}, {"parameters", params},
                       {"template", i.chat_template}, {"details", ollama_details(i)},
                       {"model_info", info}, {"capabilities", caps},
                       {"modified_at", rfc3339(i.modified_unix)}});
}

}  // namespace

void add_ollama_info(httplib::Server& http, ServerContext& ctx) {
  http.Get("/api/version", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"version", "0.1.0"}});
  });
  http.Get("/api/tags", [&ctx](const httplib::Request&, httplib::Response& res) {
    nlohmann::json models = nlohmann::json::array();
    for (const auto& st : ctx.models.status()) models.push_back(tag_entry(info_of(st)));
    send_json(res, 200, {{"models", models}});
  });
  http.Get("/api/ps", [&ctx](const httplib::Request&, httplib::Response& res) {
    nlohmann::json models = nlohmann::json::array();
    for (const auto& st : ctx.models.status()) {
      if (!st.loaded) continue;
      ModelInfo i = info_of(st);
      nlohmann::json m = tag_entry(i);
      m.erase("modified_at");
      m["size"] = st.size;   // estimated resident bytes: file + KV cache + scratch
      m["expires_at"] = rfc3339_ms(st.expires_at_ms);
      m["size_vram"] = 0;
      m["context_length"] = i.n_ctx;
      models.push_back(m);
    }
    send_json(res, 200, {{"models", models}});
  });
  http.Post("/api/show", [&ctx](const httplib::Request& req, httplib::Response& res) {
    show(ctx, req, res);
  });
}

}  // namespace lm::server
