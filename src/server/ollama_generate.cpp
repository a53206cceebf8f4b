// POST /api/generate (Ollama): NDJSON stream by default, one object with "stream": false.
#include "server/chat_format.h"
#include "server/generation.h"
#include "server/ollama_common.h"
#include "server/route_dispatch.h"
#include "server/server_context.h"
#include "server/streaming.h"

namespace lm::server {
namespace {

using nlohmann::json;

// A model without a chat template answers the prompt as is (Ollama's default "{{ .Prompt }}").
Result<std::string> generate_prompt(const OllamaRequest& q, const ModelEntry& m) {
  if (q.raw || m.info.chat_template.empty()) {
    return q.system.empty() || q.raw ? q.prompt : q.system + "\n\n" + q.prompt;
  }
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (!q.system.empty()) messages.push_back({{"role", "system"}, {"content", q.system}});
  messages.push_back({{"role", "user"}, {"content", q.prompt}});
  return render_chat(m.info, m.scheduler->tokenizer(), messages, nullptr, true);
}

void handle_generate(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  auto parsed = parse_ollama_generate(req.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e, Dialect::kOllama);
  const OllamaRequest& q = std::get<OllamaRequest>(parsed);
  if (q.prompt.empty() && q.system.empty() && q.keep_alive_ms == 0) {   // Ollama's "unload" request
    if (!unload_model(ctx, q.model, Dialect::kOllama, res)) return;
    return send_json(res, 200, {{"model", q.model}, {"created_at", rfc3339_now()}, {"response", ""},
                                {"done", true}, {"done_reason", "unload"}});
  }
  ModelRef model = find_model(ctx, q.model, Dialect::kOllama, res, q.keep_alive_ms);
  if (!model) return;
  std::string name = ollama_name(model->info);
  if (auto e = check_num_ctx(q, model->scheduler->n_ctx())) return send_error(res, *e, Dialect::kOllama);
  if (auto e = validate_gen(q.gen)) return send_error(res, *e, Dialect::kOllama);
  if (q.prompt.empty() && q.system.empty()) {   // Ollama's "load the model" request
    return send_json(res, 200, {{"model", name}, {"created_at", rfc3339_now()}, {"response", ""},
                                {"done", true}, {"done_reason", "load"}});
  }
  auto text = generate_prompt(q, *model);
  if (!text.ok()) return send_error(res, bad_param("prompt", text.error().message()), Dialect::kOllama);
  auto tokens = tokenize_prompt(model->scheduler->tokenizer(), *text);
  auto handle = submit(*model->scheduler, make_request(std::move(tokens), q.gen), "prompt");
  if (auto* e = std::get_if<ApiError>(&handle)) return send_error(res, *e, Dialect::kOllama);
  auto h = std::get<0>(handle);
  if (!q.stream) {
    Completion c = collect(*h, &ctx.stopping);
    if (c.finish == engine::FinishReason::kError) {
      return send_error(res, server_error(c.error), Dialect::kOllama);
    }
    json body = {{"model", name}, {"created_at", rfc3339_now()}, {"response", c.text}};
    add_final_stats(body, c.usage, c.finish);
    return send_json(res, 200, body);
  }
  res.set_chunked_content_provider("application/x-ndjson", [h, name, stop = &ctx.stopping](size_t,
                                                                                   httplib::DataSink& sink) {
    bool ok = pump(*h, sink, [&](const engine::StreamEvent& ev) {
      if (ev.done && ev.finish == engine::FinishReason::kError) return ndjson_line({{"error", ev.error}});
      std::string out;
      if (!ev.text.empty()) {
        out += ndjson_line({{"model", name}, {"created_at", rfc3339_now()}, {"response", ev.text},
                            {"done", false}});
      }
      if (ev.done) {
        json last = {{"model", name}, {"created_at", rfc3339_now()}, {"response", ""}};
        add_final_stats(last, ev.usage, ev.finish);
        out += ndjson_line(last);
      }
      return out;
    }, stop);
    if (ok) sink.done();
    return ok;
  });
}

}  // namespace

void add_ollama_generate(httplib::Server& http, ServerContext& ctx) {
  http.Post("/api/generate", routed(ctx, RouteEndpoint::kOllamaGenerate, [&ctx](const httplib::Request& req,
                                                                            httplib::Response& res) {
    handle_generate(ctx, req, res);
  }));
}

}  // namespace lm::server
