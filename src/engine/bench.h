// Throughput measurement in the spirit of llama-bench: prompt processing (pp: n_prompt tokens from
// an empty cache, in batches) and text generation (tg: n_gen tokens one at a time from an empty
// cache), each repeated, with random token ids (so no tokenizer is involved).
#pragma once

#include <vector>

#include "core/result.h"
#include "engine/session.h"

namespace lm::engine {

struct BenchOptions {
  int32_t n_prompt = 512;
  int32_t n_gen = 128;
  int32_t n_batch = 512;
  int32_t repetitions = 5;
  uint64_t seed = 1;
};

struct BenchStat {
  double mean_tps = 0;     // tokens per second, mean over repetitions
  double stddev_tps = 0;
  std::vector<double> samples_tps;
};

struct BenchResult {
  BenchStat pp, tg;   // empty when n_prompt / n_gen is 0
};

// One warm-up run of each, then `repetitions` timed runs.
Result<BenchResult> bench(Session& session, const BenchOptions& options);

}  // namespace lm::engine
