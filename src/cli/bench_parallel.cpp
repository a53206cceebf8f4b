#include "cli/bench_parallel.h"

#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include "cli/common.h"
#include "engine/bench_parallel.h"
#include "engine/scheduler.h"

namespace lm::cli {

namespace {

size_t peak_rss_bytes() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<size_t>(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

}  // namespace

int run_parallel_bench(const engine::SessionOptions& so, int32_t n_streams, int32_t n_prompt,
                       int32_t n_gen, bool json) {
  // The KV pool: --kv-pool positions, else n_ctx per stream (model/kv_cache.h).
  if (n_streams < 1) return fail(errorf("--parallel {}: must be at least 1", n_streams));
  engine::SchedulerOptions opt;
  opt.n_parallel = n_streams;
  opt.n_ctx = so.n_ctx > 0 ? so.n_ctx : n_prompt + n_gen;
  opt.n_threads = so.n_threads;
  opt.max_queue = n_streams;
  opt.n_kv_pool = so.n_kv_pool;
  auto sched = engine::Scheduler::open(so.model_path, opt);
  if (!sched.ok()) return fail(sched.error());
  engine::ParallelBenchOptions bo;
  bo.n_streams = n_streams;
  bo.n_prompt = n_prompt;
  bo.n_gen = n_gen;
  auto res = engine::bench_parallel(**sched, bo);
  if (!res.ok()) return fail(res.error());
  const auto& r = *res;
  const engine::SchedulerStats st = (*sched)->stats();
  if (json) {
    auto run_json = [](const engine::ParallelRun& x) {
      return nlohmann::json{{"streams", x.n_streams},   {"generated", x.generated},
                            {"seconds", x.seconds},     {"tps", x.tps},
                            {"mean_ttft_ms", x.mean_ttft_ms}, {"mean_itl_ms", x.mean_itl_ms}};
    };
    fmt::print("{}\n", nlohmann::json{{"model", so.model_path}, {"n_prompt", n_prompt},
                                      {"n_gen", n_gen}, {"single", run_json(r.single)},
                                      {"parallel", run_json(r.parallel)}, {"speedup", r.speedup},
                                      {"kv_bytes", st.kv_bytes}, {"kv_positions", st.kv_cells_total},
                                      {"kv_blocks_peak", st.kv_blocks_peak},
                                      {"kv_blocks_total", st.kv_blocks_total},
                                      {"peak_rss_bytes", peak_rss_bytes()}}
                           .dump());
    return 0;
  }
  fmt::print("| streams | prompt | gen/stream | aggregate t/s | mean TTFT ms | mean ITL ms |\n"
             "|---|---|---|---|---|---|\n");
  for (const auto* x : {&r.single, &r.parallel}) {
    fmt::print("| {} | {} | {} | {:.2f} | {:.2f} | {:.2f} |\n", x->n_streams, n_prompt, n_gen, x->tps,
               x->mean_ttft_ms, x->mean_itl_ms);
  }
  fmt::print("speedup of {} streams over 1: {:.2f}x\n", n_streams, r.speedup);
  fmt::print("KV cache: {} bytes ({} positions, {} blocks; at most {} in use); peak RSS {} bytes\n",
             st.kv_bytes, st.kv_cells_total, st.kv_blocks_total, st.kv_blocks_peak, peak_rss_bytes());
  return 0;
}

}  // namespace lm::cli
