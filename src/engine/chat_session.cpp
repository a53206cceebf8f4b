#include "engine/chat_session.h"

#include <algorithm>
#include <chrono>

#include "core/check.h"

namespace lm::engine {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

ChatSession::ChatSession(Session& session, int32_t seq) : session_(session), seq_(seq) {
  LM_CHECK(seq >= 0 && seq < session.kv().n_seq_max(), "chat session: seq {} out of range", seq);
  session_.kv().clear_seq(seq_);
}

void ChatSession::reset() {
  cached_.clear();
  session_.kv().clear_seq(seq_);
}

Status ChatSession::prefill(const std::vector<int32_t>& tokens, int32_t from, int32_t n_batch,
                            std::vector<float>* logits) {
  const int32_t n = static_cast<int32_t>(tokens.size());
  std::vector<model::BatchToken> batch;
  for (int32_t b = from; b < n; b += n_batch) {
    int32_t e = std::min(n, b + n_batch);
    batch.clear();
    for (int32_t i = b; i < e; ++i) batch.push_back({tokens[i], i, seq_, i == n - 1});
    LM_TRY_STATUS(session_.forward().run(session_.kv(), batch, logits));
    cached_.insert(cached_.end(), tokens.begin() + b, tokens.begin() + e);
  }
  return Ok{};
}

Result<ChatTurnResult> ChatSession::generate(const GenerateRequest& req,
                                             const std::function<bool(std::string_view)>& on_text) {
  const auto& tok = session_.tokenizer();
  LM_TRY_STATUS(sampling::validate(req.sampling));
  if (req.n_batch <= 0) return errorf("batch size {} must be positive", req.n_batch);
  std::vector<int32_t> prompt = tok.encode(req.prompt, tok.add_bos(), req.parse_special);
  if (prompt.empty()) return errorf("the prompt is empty and the model adds no BOS token");
  const int32_t n_ctx = session_.n_ctx();
  if (static_cast<int64_t>(prompt.size()) >= n_ctx) {
    return errorf("the conversation is {} tokens but the context holds {} (/clear starts over)",
                  prompt.size(), n_ctx);
  }
  ChatTurnResult res;
  res.gen.n_prompt_tokens = static_cast<int32_t>(prompt.size());

  // Keep the common prefix, but always feed at least one token: its logits start the reply.
  size_t common = std::mismatch(cached_.begin(), cached_.end(), prompt.begin(), prompt.end()).first -
                  cached_.begin();
  common = std::min({common, prompt.size() - 1, static_cast<size_t>(session_.kv().seq_len(seq_))});
  cached_.resize(common);
  session_.kv().truncate_seq(seq_, static_cast<int32_t>(common));
  res.n_reused = static_cast<int32_t>(common);

  auto t0 = std::chrono::steady_clock::now();
  std::vector<float> logits;
  if (Status st = prefill(prompt, static_cast<int32_t>(common), req.n_batch, &logits); !st.ok()) {
    reset();
    return std::move(st).error().wrap("prompt");
  }
  res.gen.prompt_seconds = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  sampling::Sampler sampler(req.sampling, tok.n_vocab());
  for (int32_t t : prompt) sampler.accept(t);
  tokenizer::StreamDecoder decoder(tok);
  for (int32_t t : prompt) (void)decoder.push(t);  // decode the reply in the prompt's context
  GenerateResult& g = res.gen;
  g.stop = StopReason::kLength;
  while (req.n_predict < 0 || g.n_generated < req.n_predict) {
    int32_t next = sampler.sample(std::span<const float>(logits.data(), tok.n_vocab()));
    sampler.accept(next);
    if (tok.is_eog(next)) {
      g.stop = StopReason::kEndOfGeneration;
      break;
    }
    ++g.n_generated;
    std::string text = decoder.push(next);
    if (!text.empty() && !on_text(text)) {
      g.stop = StopReason::kCancelled;
      break;
    }
    if (req.n_predict >= 0 && g.n_generated >= req.n_predict) break;
    const int32_t pos = static_cast<int32_t>(cached_.size());
    if (pos >= n_ctx) {
      g.stop = StopReason::kContextFull;
      break;
    }
    model::BatchToken bt{next, pos, seq_, true};
    if (Status st = session_.forward().run(session_.kv(), std::span<const model::BatchToken>(&bt, 1), &logits);
        !st.ok()) {
      reset();
      return std::move(st).error().wrap("decoding");
    }
    cached_.push_back(next);
  }
  std::string rest = decoder.flush();
  if (!rest.empty() && g.stop != StopReason::kCancelled) on_text(rest);
  g.generate_seconds = seconds_since(t0);
  return res;
}

}  // namespace lm::engine
