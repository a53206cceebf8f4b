// POST /v1/completions: raw text (or token ids) in, continuation out; SSE when "stream": true.
#include <fmt/format.h>

#include "server/chat_format.h"
#include "server/generation.h"
#include "server/openai_common.h"
#include "server/route_dispatch.h"
#include "server/server_context.h"
#include "server/streaming.h"

namespace lm::server {
namespace {

using nlohmann::json;

struct CompletionMeta {
  std::string id;
  int64_t created = 0;
  std::string model;
  std::string fingerprint;
};

json completion_chunk(const CompletionMeta& m, json choices) {
  return {{"id", m.id}, {"object", "text_completion"}, {"created", m.created}, {"model", m.model},
          {"system_fingerprint", m.fingerprint}, {"choices", std::move(choices)}};
}

Parsed<std::vector<int32_t>> prompt_tokens(const OpenAiRequest& q, const tokenizer::Tokenizer& tok) {
  if (!q.prompt_is_tokens) return tokenize_prompt(tok, q.prompt);
  for (int32_t id : q.prompt_tokens) {
    if (id >= tok.n_vocab()) {
      return bad_param("prompt", fmt::format("token id {} is out of range: the vocabulary has {} tokens",
                                             id, tok.n_vocab()));
    }
  }
  return q.prompt_tokens;
}

void stream_completion(httplib::Response& res, std::shared_ptr<engine::RequestHandle> handle,
                       CompletionMeta meta, const OpenAiRequest& q, const tokenizer::Tokenizer& tok,
                       const std::atomic<bool>* stopping) {
  bool logprobs = q.gen.top_logprobs >= 0;
  bool include_usage = q.include_usage;
  auto offset = std::make_shared<size_t>(0);
  res.set_chunked_content_provider(
      "text/event-stream",
      [handle, meta, logprobs, include_usage, offset, &tok, stopping](size_t, httplib::DataSink& sink) {
        bool ok = pump(*handle, sink, [&](const engine::StreamEvent& ev) {
          std::string out;
          if (ev.done && ev.finish == engine::FinishReason::kError) {
            return sse_event(error_body(server_error(ev.error), Dialect::kOpenAi)) + sse_done();
          }
          if (!ev.text.empty() || ev.done) {
            json choice = {{"index", 0}, {"text", ev.text}, {"logprobs", nullptr},
                           {"finish_reason", ev.done ? json(openai_finish_reason(ev.finish)) : json()}};
            if (logprobs && !ev.tokens.empty()) {
              choice["logprobs"] = completion_logprobs(tok, ev.tokens, *offset);
            }
            json chunk = completion_chunk(meta, json::array({choice}));
            if (include_usage) chunk["usage"] = nullptr;
            out += sse_event(chunk);
            *offset += ev.text.size();
          }
          if (ev.done) {
            if (include_usage) {
              json chunk = completion_chunk(meta, json::array());
              chunk["usage"] = usage_json(ev.usage);
              out += sse_event(chunk);
            }
            out += sse_done();
          }
          return out;
        }, stopping);
        if (ok) sink.done();
        return ok;
      });
}

void handle_completion(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  auto parsed = parse_openai_completion(req.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e, Dialect::kOpenAi);
  const OpenAiRequest& q = std::get<OpenAiRequest>(parsed);
  ModelRef model = find_model(ctx, q.model, Dialect::kOpenAi, res);
  if (!model) return;
  if (auto e = validate_gen(q.gen)) return send_error(res, *e, Dialect::kOpenAi);
  engine::Scheduler& sched = *model->scheduler;
  auto tokens = prompt_tokens(q, sched.tokenizer());
  if (auto* e = std::get_if<ApiError>(&tokens)) return send_error(res, *e, Dialect::kOpenAi);
  auto handle = submit(sched, make_request(std::move(std::get<0>(tokens)), q.gen), "prompt");
  if (auto* e = std::get_if<ApiError>(&handle)) return send_error(res, *e, Dialect::kOpenAi);
  CompletionMeta meta{ctx.make_id("cmpl"), unix_seconds(), model->info.name, ctx.fingerprint};
  auto h = std::get<0>(handle);
  if (q.stream) return stream_completion(res, h, meta, q, sched.tokenizer(), &ctx.stopping);
  Completion c = collect(*h, &ctx.stopping);
  if (c.finish == engine::FinishReason::kError) {
    return send_error(res, server_error(c.error), Dialect::kOpenAi);
  }
  json choice = {{"index", 0}, {"text", c.text}, {"logprobs", nullptr},
                 {"finish_reason", openai_finish_reason(c.finish)}};
  if (q.gen.top_logprobs >= 0) choice["logprobs"] = completion_logprobs(sched.tokenizer(), c.tokens, 0);
  json body = completion_chunk(meta, json::array({choice}));
  body["usage"] = usage_json(c.usage);
  send_json(res, 200, body);
}

}  // namespace

void add_openai_completions(httplib::Server& http, ServerContext& ctx) {
  http.Post("/v1/completions", routed(ctx, RouteEndpoint::kCompletions, [&ctx](const httplib::Request& req,
                                                                               httplib::Response& res) {
    handle_completion(ctx, req, res);
  }));
}

}  // namespace lm::server
