// `localmax bench --parallel N`: aggregate generation tokens/s of N streams through the scheduler,
// against one stream through it (engine/bench_parallel.h).
#pragma once

#include "engine/session.h"

namespace lm::cli {

// n_prompt / n_gen per stream; n_ctx 0: n_prompt + n_gen. Returns the exit code.
int run_parallel_bench(const engine::SessionOptions& session, int32_t n_streams, int32_t n_prompt,
                       int32_t n_gen, bool json);

}  // namespace lm::cli
