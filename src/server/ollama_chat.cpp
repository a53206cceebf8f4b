// POST /api/chat (Ollama): messages → chat template; NDJSON stream by default.
#include "server/chat_format.h"
#include "server/chat_output.h"
#include "server/generation.h"
#include "server/ollama_common.h"
#include "server/route_dispatch.h"
#include "server/server_context.h"
#include "server/streaming.h"

namespace lm::server {
namespace {

using nlohmann::json;

// Ollama spells tool calls {function: {name, arguments: <object>}} (arguments are not a string).
json ollama_tool_calls(const json& openai_calls) {
  json out = json::array();
  for (const auto& c : openai_calls) {
    if (!c.contains("function")) continue;
    json fn = c["function"];
    if (fn.contains("arguments") && fn["arguments"].is_string()) {
      json args = json::parse(fn["arguments"].get<std::string>(), nullptr, false);
      fn["arguments"] = args.is_discarded() ? json::object() : args;
    }
    out.push_back({{"function", fn}});
  }
  return out;
}

json message_json(const ChatDelta& d) {
  json m = {{"role", "assistant"}, {"content", d.content}};
  if (!d.reasoning_content.empty()) m["thinking"] = d.reasoning_content;
  if (!d.tool_calls.empty()) m["tool_calls"] = ollama_tool_calls(d.tool_calls);
  return m;
}

void stream_chat(httplib::Response& res, std::shared_ptr<engine::RequestHandle> h, std::string name,
                 std::shared_ptr<ChatOutput> output, const std::atomic<bool>* stopping) {
  res.set_chunked_content_provider("application/x-ndjson", [h, name, output, stopping](size_t,
                                                                                       httplib::DataSink& sink) {
    bool ok = pump(*h, sink, [&](const engine::StreamEvent& ev) {
      if (ev.done && ev.finish == engine::FinishReason::kError) return ndjson_line({{"error", ev.error}});
      ChatDelta d = output->feed(ev.text);
      if (ev.done) d.append(output->finish(ev.finish == engine::FinishReason::kLength));
      std::string out;
      if (!d.empty()) {
        out += ndjson_line({{"model", name}, {"created_at", rfc3339_now()}, {"message", message_json(d)},
                            {"done", false}});
      }
      if (ev.done) {
        json last = {{"model", name}, {"created_at", rfc3339_now()},
                     {"message", {{"role", "assistant"}, {"content", ""}}}};
        add_final_stats(last, ev.usage, ev.finish);
        out += ndjson_line(last);
      }
      return out;
    }, stopping);
    if (ok) sink.done();
    return ok;
  });
}

void handle_chat(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  auto parsed = parse_ollama_chat(req.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e, Dialect::kOllama);
  const OllamaRequest& q = std::get<OllamaRequest>(parsed);
  if (q.messages.empty() && q.keep_alive_ms == 0) {   // Ollama's "unload" request
    if (!unload_model(ctx, q.model, Dialect::kOllama, res)) return;
    return send_json(res, 200, {{"model", q.model}, {"created_at", rfc3339_now()},
                                {"message", {{"role", "assistant"}, {"content", ""}}},
                                {"done", true}, {"done_reason", "unload"}});
  }
  ModelRef model = find_model(ctx, q.model, Dialect::kOllama, res, q.keep_alive_ms);
  if (!model) return;
  std::string name = ollama_name(model->info);
  if (auto e = check_num_ctx(q, model->scheduler->n_ctx())) return send_error(res, *e, Dialect::kOllama);
  if (auto e = validate_gen(q.gen)) return send_error(res, *e, Dialect::kOllama);
  if (!q.messages.is_array() || q.messages.empty()) {   // Ollama's "load the model" request
    return send_json(res, 200, {{"model", name}, {"created_at", rfc3339_now()},
                                {"message", {{"role", "assistant"}, {"content", ""}}},
                                {"done", true}, {"done_reason", "load"}});
  }
  engine::Scheduler& sched = *model->scheduler;
  auto text = render_chat(model->info, sched.tokenizer(), q.messages, q.tools, true);
  if (!text.ok()) {
    return send_error(res, bad_param("messages", "rendering the chat template: " + text.error().message()),
                      Dialect::kOllama);
  }
  GenOptions gen = q.gen;
  for (auto& s : template_stops(model->info)) gen.stop.push_back(s);
  engine::CompletionRequest creq = make_request(tokenize_prompt(sched.tokenizer(), *text), gen);
  creq.preserved_tokens = preserved_tokens(model->info, q.tools, sched.tokenizer());
  auto handle = submit(sched, std::move(creq), "messages");
  if (auto* e = std::get_if<ApiError>(&handle)) return send_error(res, *e, Dialect::kOllama);
  std::shared_ptr<ChatOutput> output = make_chat_output(model->info, q.tools, *text);
  auto h = std::get<0>(handle);
  if (q.stream) return stream_chat(res, h, name, output, &ctx.stopping);
  Completion c = collect(*h, &ctx.stopping);
  if (c.finish == engine::FinishReason::kError) return send_error(res, server_error(c.error), Dialect::kOllama);
  ChatDelta d = output->feed(c.text);
  d.append(output->finish(c.finish == engine::FinishReason::kLength));
  json body = {{"model", name}, {"created_at", rfc3339_now()}, {"message", message_json(d)}};
  add_final_stats(body, c.usage, c.finish);
  send_json(res, 200, body);
}

}  // namespace

void add_ollama_chat(httplib::Server& http, ServerContext& ctx) {
  http.Post("/api/chat", routed(ctx, RouteEndpoint::kOllamaChat, [&ctx](const httplib::Request& req,
                                                                        httplib::Response& res) {
    handle_chat(ctx, req, res);
  }));
}

}  // namespace lm::server
