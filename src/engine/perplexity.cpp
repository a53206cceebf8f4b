#include "engine/perplexity.h"

#include <chrono>
#include <cmath>

namespace lm::engine {

namespace {
// -log softmax(logits)[target], in double.
double nll_of(const float* logits, int32_t n_vocab, int32_t target) {
  float mx = logits[0];
  for (int32_t i = 1; i < n_vocab; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (int32_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  return -(static_cast<double>(logits[target]) - mx - std::log(sum));
}
}  // namespace

Result<PerplexityResult> perplexity(Session& s, std::string_view text, const PerplexityOptions& o,
                                    const std::function<void(int32_t, double)>& progress) {
  const auto& tok = s.tokenizer();
  const int32_t n_ctx = o.n_ctx;
  if (n_ctx < 4) return errorf("context size {} is too small for perplexity", n_ctx);
  if (n_ctx > s.n_ctx()) {
    return errorf("context size {} exceeds the session's context {}", n_ctx, s.n_ctx());
  }
  if (o.n_batch <= 0) return errorf("batch size {} must be positive", o.n_batch);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<int32_t> tokens = tok.encode(text, tok.add_bos(), /*parse_special=*/false);
  PerplexityResult res;
  res.n_tokens = static_cast<int64_t>(tokens.size());
  if (res.n_tokens < 2 * static_cast<int64_t>(n_ctx)) {
    return errorf("perplexity with a context of {} needs at least {} tokens; the text has {}", n_ctx,
                  2 * n_ctx, res.n_tokens);
  }
  int64_t n_chunk = res.n_tokens / n_ctx;
  if (o.n_chunks >= 0) n_chunk = std::min<int64_t>(n_chunk, o.n_chunks);
  const int32_t first = n_ctx / 2;
  const int32_t n_vocab = tok.n_vocab();
  double nll = 0, nll2 = 0;
  std::vector<model::BatchToken> batch;
  std::vector<float> logits, chunk_logits;
  for (int64_t c = 0; c < n_chunk; ++c) {
    const int64_t start = c * n_ctx;
    s.kv().clear_seq(0);
    chunk_logits.clear();
    for (int32_t b = 0; b < n_ctx; b += o.n_batch) {
      int32_t e = std::min(n_ctx, b + o.n_batch);
      batch.clear();
      for (int32_t j = b; j < e; ++j) {
        int32_t t = tokens[start + j];
        if (j == 0 && tok.add_bos()) t = tok.bos();
        batch.push_back({t, j, 0, j >= first});
      }
      LM_TRY_STATUS(s.forward().run(s.kv(), batch, &logits));
      chunk_logits.insert(chunk_logits.end(), logits.begin(), logits.end());
    }
    // chunk_logits rows are positions first .. n_ctx-1; score first .. n_ctx-2.
    for (int32_t j = first; j < n_ctx - 1; ++j) {
      double v = nll_of(chunk_logits.data() + static_cast<size_t>(j - first) * n_vocab, n_vocab,
                        tokens[start + j + 1]);
      nll += v;
      nll2 += v * v;
      ++res.n_scored;
    }
    res.n_chunks = static_cast<int32_t>(c + 1);
    res.running.push_back(std::exp(nll / static_cast<double>(res.n_scored)));
    if (progress) progress(res.n_chunks - 1, res.running.back());
  }
  double mean = nll / static_cast<double>(res.n_scored);
  double var = nll2 / static_cast<double>(res.n_scored) - mean * mean;
  res.ppl = std::exp(mean);
  res.ppl_stderr = var > 0 && res.n_scored > 1 ? std::sqrt(var / (res.n_scored - 1)) * res.ppl : 0;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace lm::engine
