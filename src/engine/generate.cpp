#include "engine/generate.h"

#include <chrono>
#include <vector>

namespace lm::engine {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

std::string_view stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::kLength: return "length";
    case StopReason::kEndOfGeneration: return "stop";
    case StopReason::kContextFull: return "context_full";
    case StopReason::kCancelled: return "cancelled";
  }
  return "unknown";
}

Result<GenerateResult> generate(Session& s, const GenerateRequest& req,
                                const std::function<bool(std::string_view)>& on_text) {
  const auto& tok = s.tokenizer();
  LM_TRY_STATUS(sampling::validate(req.sampling));
  if (req.n_batch <= 0) return errorf("batch size {} must be positive", req.n_batch);
  std::vector<int32_t> prompt = tok.encode(req.prompt, tok.add_bos(), req.parse_special);
  if (prompt.empty()) return errorf("the prompt is empty and the model adds no BOS token");
  const int32_t n_ctx = s.n_ctx();
  if (static_cast<int64_t>(prompt.size()) >= n_ctx) {
    return errorf("the prompt is {} tokens but the context holds {} (it must leave room for at "
                  "least one generated token)", prompt.size(), n_ctx);
  }

  GenerateResult res;
  res.n_prompt_tokens = static_cast<int32_t>(prompt.size());
  sampling::Sampler sampler(req.sampling, tok.n_vocab());
  for (int32_t t : prompt) sampler.accept(t);
  s.kv().clear_seq(0);

  // Prefill: logits only for the last prompt token.
  auto t0 = std::chrono::steady_clock::now();
  std::vector<model::BatchToken> batch;
  std::vector<float> logits;
  const int32_t n_prompt = res.n_prompt_tokens;
  for (int32_t b = 0; b < n_prompt; b += req.n_batch) {
    int32_t e = std::min(n_prompt, b + req.n_batch);
    batch.clear();
    for (int32_t i = b; i < e; ++i) batch.push_back({prompt[i], i, 0, i == n_prompt - 1});
    LM_TRY_STATUS(s.forward().run(s.kv(), batch, &logits));
  }
  res.prompt_seconds = seconds_since(t0);

  // Decode.
  t0 = std::chrono::steady_clock::now();
  tokenizer::StreamDecoder decoder(tok);
  // The continuation is decoded in the context of the prompt: the prompt's pieces go through the
  // decoder (output discarded) so the SPM leading-space rule and any unfinished UTF-8 character
  // carry over correctly.
  for (int32_t t : prompt) (void)decoder.push(t);
  int32_t pos = n_prompt;
  res.stop = StopReason::kLength;
  while (req.n_predict < 0 || res.n_generated < req.n_predict) {
    int32_t next = sampler.sample(std::span<const float>(logits.data(), tok.n_vocab()));
    sampler.accept(next);
    if (tok.is_eog(next)) {
      res.stop = StopReason::kEndOfGeneration;
      break;
    }
    ++res.n_generated;
    std::string text = decoder.push(next);
    if (!text.empty() && !on_text(text)) {
      res.stop = StopReason::kCancelled;
      break;
    }
    if (req.n_predict >= 0 && res.n_generated >= req.n_predict) break;
    if (pos >= n_ctx) {
      res.stop = StopReason::kContextFull;
      break;
    }
    model::BatchToken bt{next, pos++, 0, true};
    LM_TRY_STATUS(s.forward().run(s.kv(), std::span<const model::BatchToken>(&bt, 1), &logits));
  }
  std::string rest = decoder.flush();
  if (!rest.empty() && res.stop != StopReason::kCancelled) on_text(rest);
  res.generate_seconds = seconds_since(t0);
  return res;
}

}  // namespace lm::engine
