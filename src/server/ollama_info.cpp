// Ollama model information: GET /api/version, /api/tags, /api/ps; POST /api/show.
#include <fmt/format.h>

#include <ctime>

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
                   fmt::format("options.num_ctx = {} exceeds the loaded context size {} (restart "
                               "the server with -c to change it)", q.num_ctx, n_ctx));
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

void show(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  auto name = parse_ollama_model_name(req.body);
  if (auto* e = std::get_if<ApiError>(&name)) return send_error(res, *e, Dialect::kOllama);
  ModelEntry* m = find_model(ctx, std::get<std::string>(name), Dialect::kOllama, res);
  if (!m) return;
  const ModelInfo& i = m->info;
  const auto& c = m->scheduler->config();
  std::string a = i.arch;
  nlohmann::json info = {{"general.architecture", a}, {"general.parameter_count", i.n_params},
                         {a + ".context_length", c.n_ctx_train}, {a + ".embedding_length", c.n_embd},
                         {a + ".block_count", c.n_layer}, {a + ".feed_forward_length", c.n_ff},
                         {a + ".attention.head_count", c.n_head},
                         {a + ".attention.head_count_kv", c.n_head_kv}};
  nlohmann::json caps = nlohmann::json::array({"completion"});
  if (i.chat_template.find("tools") != std::string::npos) caps.push_back("tools");
  send_json(res, 200, {{"license", ""}, {"modelfile", "FROM " + i.path + "\n"}, {"parameters", ""},
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
    for (const auto& e : ctx.models.entries()) models.push_back(tag_entry(e->info));
    send_json(res, 200, {{"models", models}});
  });
  http.Get("/api/ps", [&ctx](const httplib::Request&, httplib::Response& res) {
    nlohmann::json models = nlohmann::json::array();
    for (const auto& e : ctx.models.entries()) {
      nlohmann::json m = tag_entry(e->info);
      m.erase("modified_at");
      m["expires_at"] = "9999-12-31T23:59:59Z";   // loaded for the server's lifetime
      m["size_vram"] = 0;
      m["context_length"] = e->scheduler->n_ctx();
      models.push_back(m);
    }
    send_json(res, 200, {{"models", models}});
  });
  http.Post("/api/show", [&ctx](const httplib::Request& req, httplib::Response& res) {
    show(ctx, req, res);
  });
}

}  // namespace lm::server
