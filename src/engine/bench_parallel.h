// Aggregate generation throughput of N concurrent streams through the Scheduler, against one
// stream through the same scheduler measured in the same run (the baseline of the ratio).
// Prompts are random token ids (distinct per request, so the prefix cache does not help), EOG is
// ignored and sampling is greedy: every stream generates exactly n_gen tokens.
#pragma once

#include "core/result.h"
#include "engine/scheduler.h"

namespace lm::engine {

struct ParallelBenchOptions {
  int32_t n_streams = 4;     // concurrent requests (at most the scheduler's n_parallel run at once)
  int32_t n_prompt = 32;     // prompt tokens per request
  int32_t n_gen = 64;        // generated tokens per request
  uint64_t seed = 1;
};

struct ParallelRun {
  int32_t n_streams = 0;
  int64_t generated = 0;     // tokens over all streams
  double seconds = 0;        // first submit to last done event
  double tps = 0;            // generated / seconds
  double mean_ttft_ms = 0;
  double mean_itl_ms = 0;    // mean inter-token latency of the streams
};

struct ParallelBenchResult {
  ParallelRun single;        // one stream alone
  ParallelRun parallel;      // n_streams at once
  double speedup = 0;        // parallel.tps / single.tps
};

// A warm-up stream, then the single run, then the parallel run. Errors: a rejected submit or a
// stream that ends other than by its length.
Result<ParallelBenchResult> bench_parallel(Scheduler& scheduler, const ParallelBenchOptions& options);

}  // namespace lm::engine
