#include "engine/bench.h"

#include <chrono>
#include <cmath>
#include <random>

namespace lm::engine {

namespace {

BenchStat summarize(std::vector<double> tps) {
  BenchStat s;
  if (tps.empty()) return s;
  double sum = 0;
  for (double v : tps) sum += v;
  s.mean_tps = sum / static_cast<double>(tps.size());
  double var = 0;
  for (double v : tps) var += (v - s.mean_tps) * (v - s.mean_tps);
  s.stddev_tps = tps.size() > 1 ? std::sqrt(var / static_cast<double>(tps.size() - 1)) : 0;
  s.samples_tps = std::move(tps);
  return s;
}

// Seconds to process `tokens` from an empty cache, `step` tokens per forward call.
Result<double> timed_run(Session& s, const std::vector<int32_t>& tokens, int32_t step) {
  s.kv().clear_seq(0);
  std::vector<model::BatchToken> batch;
  std::vector<float> logits;
  auto t0 = std::chrono::steady_clock::now();
  const auto n = static_cast<int32_t>(tokens.size());
  for (int32_t b = 0; b < n; b += step) {
    int32_t e = std::min(n, b + step);
    batch.clear();
    for (int32_t i = b; i < e; ++i) batch.push_back({tokens[i], i, 0, i == e - 1});
    LM_TRY_STATUS(s.forward().run(s.kv(), batch, &logits));
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Result<BenchStat> measure(Session& s, const std::vector<int32_t>& tokens, int32_t step, int32_t reps) {
  if (tokens.empty()) return BenchStat{};
  LM_TRY_STATUS(timed_run(s, tokens, step));  // warm-up, not timed
  std::vector<double> tps;
  for (int32_t r = 0; r < reps; ++r) {
    LM_TRY(double sec, timed_run(s, tokens, step));
    tps.push_back(static_cast<double>(tokens.size()) / sec);
  }
  return summarize(std::move(tps));
}

}  // namespace

Result<BenchResult> bench(Session& s, const BenchOptions& o) {
  if (o.n_prompt < 0 || o.n_gen < 0) return errorf("token counts must not be negative");
  if (o.repetitions < 1) return errorf("repetitions must be at least 1");
  if (o.n_batch < 1) return errorf("batch size must be positive");
  const int32_t longest = std::max(o.n_prompt, o.n_gen);
  if (longest > s.n_ctx()) {
    return errorf("{} tokens do not fit the context of {} (pass a larger -c)", longest, s.n_ctx());
  }
  const int32_t n_vocab = s.model().config().n_vocab;
  std::mt19937_64 rng(o.seed);
  auto random_tokens = [&](int32_t n) {
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (auto& id : t) id = static_cast<int32_t>(rng() % static_cast<uint64_t>(n_vocab));
    return t;
  };
  BenchResult r;
  LM_TRY(r.pp, measure(s, random_tokens(o.n_prompt), o.n_batch, o.repetitions));
  LM_TRY(r.tg, measure(s, random_tokens(o.n_gen), 1, o.repetitions));
  return r;
}

}  // namespace lm::engine
