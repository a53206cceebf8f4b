// POST /v1/embeddings (OpenAI), /api/embed and /api/embeddings (Ollama).
//
// Each input is one embedding request to the model's Scheduler: a prefill-only sequence pooled
// and L2-normalised on the engine thread (engine/embed.h), batched with the chat streams and
// other inputs running at the time. At most n_parallel inputs of one request are in flight, so a
// request of many inputs never overflows the scheduler's queue.
#include <fmt/format.h>

#include <chrono>
#include <deque>

#include "engine/embed.h"
#include "server/chat_format.h"
#include "server/embeddings.h"
#include "server/generation.h"
#include "server/ollama_common.h"
#include "server/server_context.h"
#include "server/streaming.h"

namespace lm::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Embedded {
  std::vector<std::vector<float>> vectors;   // [n_inputs][dims], unit length
  int64_t n_tokens = 0;
};

const char* input_field(const EmbedRequest& q) { return q.legacy ? "prompt" : "input"; }

// Token ids of every input; too long inputs are cut to the context (q.truncate) or refused.
Parsed<std::vector<std::vector<int32_t>>> input_tokens(const EmbedRequest& q,
                                                       const engine::Scheduler& sched) {
  const auto& tok = sched.tokenizer();
  std::vector<std::vector<int32_t>> out;
  if (q.is_tokens) {
    out = q.token_inputs;
  } else {
    for (const auto& text : q.texts) out.push_back(tokenize_prompt(tok, text));
  }
  const std::string field = input_field(q);
  for (size_t i = 0; i < out.size(); ++i) {
    const std::string where = out.size() > 1 ? fmt::format("{}[{}]", field, i) : field;
    for (int32_t id : out[i]) {
      if (id >= tok.n_vocab()) {
        return bad_param(field, fmt::format("'{}' holds token id {}: out of range, the vocabulary "
                                            "has {} tokens", where, id, tok.n_vocab()));
      }
    }
    const int32_t n = static_cast<int32_t>(out[i].size());
    if (n == 0) return bad_param(field, fmt::format("'{}' encodes to no tokens", where));
    if (n <= sched.n_ctx()) continue;
    if (q.truncate) {
      out[i].resize(sched.n_ctx());
      continue;
    }
    ApiError e = bad_param(field, fmt::format("'{}' is {} tokens but the context holds {} (inputs "
                                              "are never truncated silently)", where, n, sched.n_ctx()));
    e.code = "context_length_exceeded";
    return e;
  }
  return out;
}

// Waits for one embedding request's done event; cancels it when the server stops.
engine::StreamEvent wait_done(engine::RequestHandle& h, const std::atomic<bool>& stopping) {
  engine::StreamEvent ev;
  for (;;) {
    if (!h.next(&ev, std::chrono::milliseconds(100))) {
      if (stopping.load()) h.cancel();
      continue;
    }
    if (ev.done) return ev;
  }
}

ApiError failed(const engine::StreamEvent& ev) {
  if (ev.finish == engine::FinishReason::kCancelled) {
    ApiError e{503, "the embedding request was cancelled (the server is shutting down)", "",
               "shutting_down", "server_error", 1};
    return e;
  }
  return server_error("embedding failed: " + (ev.error.empty() ? std::string("no vector") : ev.error));
}

// Runs every input through the scheduler, at most n_parallel at a time, in order.
Parsed<Embedded> embed_all(ServerContext& ctx, engine::Scheduler& sched,
                           std::vector<std::vector<int32_t>> inputs, int32_t dims,
                           const std::string& field) {
  Embedded out;
  out.vectors.resize(inputs.size());
  std::deque<std::pair<size_t, std::shared_ptr<engine::RequestHandle>>> in_flight;
  size_t next = 0;
  while (next < inputs.size() || !in_flight.empty()) {
    while (next < inputs.size() && static_cast<int32_t>(in_flight.size()) < sched.n_parallel()) {
      engine::CompletionRequest r;
      out.n_tokens += static_cast<int64_t>(inputs[next].size());
      r.prompt = std::move(inputs[next]);
      r.embedding = true;
      auto h = submit(sched, std::move(r), field);
      if (auto* e = std::get_if<ApiError>(&h)) return *e;   // in-flight handles drop: cancelled
      in_flight.emplace_back(next++, std::get<0>(h));
    }
    auto [i, h] = std::move(in_flight.front());
    in_flight.pop_front();
    engine::StreamEvent ev = wait_done(*h, ctx.stopping);
    if (ev.finish != engine::FinishReason::kStop || ev.embedding.empty()) return failed(ev);
    out.vectors[i] = dims > 0 && dims < static_cast<int32_t>(ev.embedding.size())
                         ? engine::truncate_dims(ev.embedding, dims)
                         : std::move(ev.embedding);
  }
  return out;
}

std::optional<ApiError> check_dimensions(const EmbedRequest& q, const engine::Scheduler& sched) {
  const int32_t n_embd = sched.config().n_embd;
  if (q.dimensions <= n_embd) return std::nullopt;
  return bad_param("dimensions", fmt::format("'dimensions' is {} but the model's embeddings have {} "
                                             "dimensions", q.dimensions, n_embd));
}

// Tokens → vectors, for every dialect.
Parsed<Embedded> run_request(ServerContext& ctx, const EmbedRequest& q, ModelEntry& model) {
  engine::Scheduler& sched = *model.scheduler;
  if (auto e = check_dimensions(q, sched)) return *e;
  if (q.num_ctx > sched.n_ctx()) {
    OllamaRequest oq;
    oq.num_ctx = q.num_ctx;
    return *check_num_ctx(oq, sched.n_ctx());
  }
  auto tokens = input_tokens(q, sched);
  if (auto* e = std::get_if<ApiError>(&tokens)) return *e;
  return embed_all(ctx, sched, std::move(std::get<0>(tokens)), q.dimensions, input_field(q));
}

void handle_openai(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  auto parsed = parse_openai_embeddings(req.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e, Dialect::kOpenAi);
  const EmbedRequest& q = std::get<EmbedRequest>(parsed);
  ModelEntry* model = find_model(ctx, q.model, Dialect::kOpenAi, res);
  if (!model) return;
  auto result = run_request(ctx, q, *model);
  if (auto* e = std::get_if<ApiError>(&result)) return send_error(res, *e, Dialect::kOpenAi);
  const Embedded* done = &std::get<Embedded>(result);
  json data = json::array();
  for (size_t i = 0; i < done->vectors.size(); ++i) {
    json vec = q.base64 ? json(base64_floats(done->vectors[i])) : json(done->vectors[i]);
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(vec)}});
  }
  send_json(res, 200, {{"object", "list"}, {"data", std::move(data)}, {"model", model->info.name},
                       {"usage", {{"prompt_tokens", done->n_tokens}, {"total_tokens", done->n_tokens}}}});
}

void handle_ollama(ServerContext& ctx, const httplib::Request& req, httplib::Response& res, bool legacy) {
  const auto start = Clock::now();
  auto parsed = parse_ollama_embed(req.body, legacy);
  if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e, Dialect::kOllama);
  const EmbedRequest& q = std::get<EmbedRequest>(parsed);
  ModelEntry* model = find_model(ctx, q.model, Dialect::kOllama, res);
  if (!model) return;
  auto result = run_request(ctx, q, *model);
  if (auto* e = std::get_if<ApiError>(&result)) return send_error(res, *e, Dialect::kOllama);
  const Embedded* done = &std::get<Embedded>(result);
  if (legacy) {   // an empty prompt only loads the model: {"embedding": []}
    return send_json(res, 200, {{"embedding", done->vectors.empty() ? json::array()
                                                                     : json(done->vectors[0])}});
  }
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
  send_json(res, 200, {{"model", ollama_name(model->info)}, {"embeddings", done->vectors},
                       {"total_duration", ns}, {"load_duration", 0},
                       {"prompt_eval_count", done->n_tokens}});
}

}  // namespace

void add_embeddings(httplib::Server& http, ServerContext& ctx) {
  http.Post("/v1/embeddings", [&ctx](const httplib::Request& req, httplib::Response& res) {
    handle_openai(ctx, req, res);
  });
  http.Post("/api/embed", [&ctx](const httplib::Request& req, httplib::Response& res) {
    handle_ollama(ctx, req, res, /*legacy=*/false);
  });
  http.Post("/api/embeddings", [&ctx](const httplib::Request& req, httplib::Response& res) {
    handle_ollama(ctx, req, res, /*legacy=*/true);
  });
}

}  // namespace lm::server
