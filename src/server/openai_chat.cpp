// POST /v1/chat/completions: messages → chat template → tokens → scheduler; SSE when streaming.
#include <fmt/format.h>

#include "server/chat_format.h"
#include "server/chat_output.h"
#include "server/generation.h"
#include "server/openai_common.h"
#include "server/route_dispatch.h"
#include "server/server_context.h"
#include "server/streaming.h"
#include "server/tool_grammar.h"

namespace lm::server {
namespace {

using nlohmann::json;

struct ChatMeta {
  std::string id;
  int64_t created = 0;
  std::string model;
  std::string fingerprint;
};

json chat_object(const ChatMeta& m, const char* object, json choices) {
  return {{"id", m.id}, {"object", object}, {"created", m.created}, {"model", m.model},
          {"system_fingerprint", m.fingerprint}, {"choices", std::move(choices)}};
}

// finish_reason: "tool_calls" when the model called a tool, else stop/length.
const char* chat_finish_reason(engine::FinishReason r, bool tool_calls) {
  if (tool_calls && r == engine::FinishReason::kStop) return "tool_calls";
  return openai_finish_reason(r);
}

json delta_json(const ChatDelta& d) {
  json delta = json::object();
  if (!d.content.empty()) delta["content"] = d.content;
  if (!d.reasoning_content.empty()) delta["reasoning_content"] = d.reasoning_content;
  if (!d.tool_calls.empty()) delta["tool_calls"] = d.tool_calls;
  return delta;
}

struct StreamState {
  ChatMeta meta;
  bool logprobs = false;
  bool include_usage = false;
  std::unique_ptr<ChatOutput> output;
  bool any_tool_call = false;
};

std::string chat_event(StreamState& st, const tokenizer::Tokenizer& tok, const engine::StreamEvent& ev) {
  if (ev.done && ev.finish == engine::FinishReason::kError) {
    return sse_event(error_body(server_error(ev.error), Dialect::kOpenAi)) + sse_done();
  }
  std::string out;
  auto emit = [&](const json& delta, json finish, const std::vector<engine::TokenInfo>* tokens) {
    json choice = {{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", finish}};
    if (tokens && st.logprobs && !tokens->empty()) choice["logprobs"] = chat_logprobs(tok, *tokens);
    json chunk = chat_object(st.meta, "chat.completion.chunk", json::array({choice}));
    if (st.include_usage) chunk["usage"] = nullptr;
    out += sse_event(chunk);
  };
  ChatDelta d = st.output->feed(ev.text);
  if (ev.done) d.append(st.output->finish(ev.finish == engine::FinishReason::kLength));
  st.any_tool_call |= !d.tool_calls.empty();
  if (!d.empty() || (!ev.tokens.empty() && st.logprobs)) emit(delta_json(d), nullptr, &ev.tokens);
  if (ev.done) {
    emit(json::object(), chat_finish_reason(ev.finish, st.any_tool_call), nullptr);
    if (st.include_usage) {
      json chunk = chat_object(st.meta, "chat.completion.chunk", json::array());
      chunk["usage"] = usage_json(ev.usage);
      out += sse_event(chunk);
    }
    out += sse_done();
  }
  return out;
}

void stream_chat(httplib::Response& res, std::shared_ptr<engine::RequestHandle> handle,
                 std::shared_ptr<StreamState> st, const tokenizer::Tokenizer& tok,
                 const std::atomic<bool>* stopping) {
  res.set_chunked_content_provider(
      "text/event-stream", [handle, st, &tok, stopping](size_t, httplib::DataSink& sink) {
        // The role comes first, alone, as OpenAI sends it.
        json first = {{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}},
                      {"logprobs", nullptr}, {"finish_reason", nullptr}};
        json chunk = chat_object(st->meta, "chat.completion.chunk", json::array({first}));
        if (st->include_usage) chunk["usage"] = nullptr;
        std::string head = sse_event(chunk);
        if (!sink.write(head.data(), head.size())) {
          handle->cancel();
          return false;
        }
        bool ok = pump(*handle, sink,
                       [&](const engine::StreamEvent& ev) { return chat_event(*st, tok, ev); }, stopping);
        if (ok) sink.done();
        return ok;
      });
}

void reply_whole(httplib::Response& res, engine::RequestHandle& handle, const ChatMeta& meta,
                 const OpenAiRequest& q, ChatOutput& output, const tokenizer::Tokenizer& tok,
                 const std::atomic<bool>* stopping) {
  Completion c = collect(handle, stopping);
  if (c.finish == engine::FinishReason::kError) {
    return send_error(res, server_error(c.error), Dialect::kOpenAi);
  }
  ChatDelta d = output.feed(c.text);
  d.append(output.finish(c.finish == engine::FinishReason::kLength));
  json message = {{"role", "assistant"}, {"content", d.content}};
  if (!d.reasoning_content.empty()) message["reasoning_content"] = d.reasoning_content;
  if (!d.tool_calls.empty()) {
    message["tool_calls"] = d.tool_calls;
    for (auto& call : message["tool_calls"]) call.erase("index");   // index is for stream deltas
    if (d.content.empty()) message["content"] = nullptr;
  }
  json choice = {{"index", 0}, {"message", message}, {"logprobs", nullptr},
                 {"finish_reason", chat_finish_reason(c.finish, !d.tool_calls.empty())}};
  if (q.logprobs) choice["logprobs"] = chat_logprobs(tok, c.tokens);
  json body = chat_object(meta, "chat.completion", json::array({choice}));
  body["usage"] = usage_json(c.usage);
  send_json(res, 200, body);
}

void handle_chat(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  auto parsed = parse_openai_chat(req.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e, Dialect::kOpenAi);
  const OpenAiRequest& q = std::get<OpenAiRequest>(parsed);
  ModelRef model = find_model(ctx, q.model, Dialect::kOpenAi, res);
  if (!model) return;
  if (auto e = validate_gen(q.gen)) return send_error(res, *e, Dialect::kOpenAi);
  engine::Scheduler& sched = *model->scheduler;
  const nlohmann::ordered_json& tools =
      q.tool_choice == ToolChoice::kNone ? nlohmann::ordered_json() : q.tools;
  auto text = render_chat(model->info, sched.tokenizer(), q.messages, tools, true);
  if (!text.ok()) {
    return send_error(res, bad_param("messages", "rendering the chat template: " + text.error().message()),
                      Dialect::kOpenAi);
  }
  GenOptions gen = q.gen;
  if (q.tool_choice == ToolChoice::kRequired || q.tool_choice == ToolChoice::kFunction) {
    auto g = forced_tool_grammar(model->info, q.tools, q.tool_choice, q.tool_choice_name, q.parallel_tool_calls);
    if (auto* e = std::get_if<ApiError>(&g)) return send_error(res, *e, Dialect::kOpenAi);
    gen.grammar = std::get<0>(g);
  }
  for (auto& s : template_stops(model->info)) gen.stop.push_back(s);
  engine::CompletionRequest creq = make_request(tokenize_prompt(sched.tokenizer(), *text), gen);
  creq.preserved_tokens = preserved_tokens(model->info, tools, sched.tokenizer());
  auto handle = submit(sched, std::move(creq), "messages");
  if (auto* e = std::get_if<ApiError>(&handle)) return send_error(res, *e, Dialect::kOpenAi);
  ChatMeta meta{ctx.make_id("chatcmpl"), unix_seconds(), model->info.name, ctx.fingerprint};
  auto output = make_chat_output(model->info, tools, *text);
  if (!q.stream) return reply_whole(res, *std::get<0>(handle), meta, q, *output, sched.tokenizer(), &ctx.stopping);
  auto st = std::make_shared<StreamState>();
  st->meta = meta;
  st->logprobs = q.logprobs;
  st->include_usage = q.include_usage;
  st->output = std::move(output);
  stream_chat(res, std::get<0>(handle), st, sched.tokenizer(), &ctx.stopping);
}

}  // namespace

void add_openai_chat(httplib::Server& http, ServerContext& ctx) {
  http.Post("/v1/chat/completions", routed(ctx, RouteEndpoint::kChat, [&ctx](const httplib::Request& req,
                                                                             httplib::Response& res) {
    handle_chat(ctx, req, res);
  }));
}

}  // namespace lm::server
