// Perplexity computed the way llama.cpp's llama-perplexity does, so the two compare on one file:
// the text is tokenized once (with BOS if the model adds one); it is cut into n_chunk =
// n_tokens / n_ctx chunks of n_ctx tokens (a remainder is dropped); the first token of each
// chunk is replaced by BOS (when the model adds BOS); each chunk is evaluated from an empty
// cache; only the second half is scored: the logits at positions j = n_ctx/2 .. n_ctx-2 predict
// token j+1. PPL = exp(mean NLL); its uncertainty is ppl * sqrt(var(NLL) / (count - 1)).
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "engine/session.h"

namespace lm::engine {

struct PerplexityOptions {
  int32_t n_ctx = 512;
  int32_t n_chunks = -1;   // < 0: all
  int32_t n_batch = 512;
};

struct PerplexityResult {
  double ppl = 0;
  double ppl_stderr = 0;
  int64_t n_tokens = 0;          // tokens in the whole text
  int32_t n_chunks = 0;          // chunks evaluated
  int64_t n_scored = 0;          // predictions scored
  std::vector<double> running;   // PPL after each chunk
  double seconds = 0;
};

// `progress` is called after each chunk with (chunk index, running PPL).
Result<PerplexityResult> perplexity(Session& session, std::string_view text,
                                    const PerplexityOptions& options,
                                    const std::function<void(int32_t, double)>& progress = {});

}  // namespace lm::engine
