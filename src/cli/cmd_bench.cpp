// `localmax bench`: prompt-processing and generation throughput (in the spirit of llama-bench),
// peak memory, and `--memory`: this machine's read bandwidth, the limit of CPU token generation.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include "cli/bench_parallel.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "kernels/cpu/bandwidth.h"
#include "core/log.h"
#include "engine/bench.h"
#include "kernels/cpu/cpu_features.h"

namespace lm::cli {

namespace {

size_t peak_rss_bytes() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<size_t>(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

int memory_probe(int threads, int mib, bool json) {
  ThreadPool pool(threads > 0 ? threads : ThreadPool::hardware_threads());
  const kernels::BandwidthResult r =
      kernels::measure_read_bandwidth(pool, static_cast<size_t>(mib) << 20, 10);
  if (r.bytes == 0) {
    fmt::print(stderr, "error: cannot allocate {} MiB for the bandwidth probe\n", mib);
    return 1;
  }
  if (json) {
    fmt::print("{}\n", nlohmann::json{{"read_bandwidth_gbps", r.best_gbps},
                                      {"bytes", r.bytes},
                                      {"threads", r.threads},
                                      {"passes_gbps", r.passes_gbps}}.dump());
  } else {
    fmt::print("read bandwidth: {:.2f} GB/s (best of {} passes over {} MiB, {} threads)\n",
               r.best_gbps, r.passes_gbps.size(), r.bytes >> 20, r.threads);
  }
  return 0;
}

}  // namespace

int cmd_bench(const Args& args) {
  CLI::App app{"Throughput of a model: prompt processing (pp) and generation (tg) tokens/s over "
               "repetitions, and peak memory; or --memory: the machine's read bandwidth.",
               "localmax bench"};
  engine::SessionOptions so;
  engine::BenchOptions bo;
  bool json = false, memory = false;
  int memory_mib = 1024;
  int32_t parallel = 0;
  app.add_option("-m,--model", so.model_path, "GGUF model");
  app.add_option("-p,--n-prompt", bo.n_prompt, "prompt tokens (0: skip pp)")->capture_default_str();
  app.add_option("-n,--n-gen", bo.n_gen, "generated tokens (0: skip tg)")->capture_default_str();
  app.add_option("-b,--batch-size", bo.n_batch, "prompt tokens per forward pass")->capture_default_str();
  app.add_option("-r,--repetitions", bo.repetitions, "timed repetitions")->capture_default_str();
  app.add_option("-t,--threads", so.n_threads, "threads (default: all cores)");
  add_perf_flags(app, so);
  app.add_option("-c,--ctx-size", so.n_ctx, "context size (default: max(p, n))");
  app.add_flag("--json", json, "print one JSON object");
  app.add_flag("--memory", memory, "measure the read bandwidth instead of a model");
  app.add_option("--memory-mib", memory_mib, "buffer size for --memory")->capture_default_str();
  app.add_option("--kv-pool", so.n_kv_pool, "with --parallel: KV cache positions shared by the "
                 "streams (default: ctx-size per stream)");
  app.add_option("--parallel", parallel, "N streams through the scheduler: aggregate generation t/s vs 1 stream");
  if (auto rc = parse_args(app, args)) return *rc;
  log::set_level(log::Level::kWarn);
  if (memory) {
    if (memory_mib < 1) return fail(Error("--memory-mib must be at least 1"));
    return memory_probe(so.n_threads, memory_mib, json);
  }
  if (so.model_path.empty()) return fail(Error("-m MODEL is required (or --memory)"));
  if (auto st = resolve_model_arg(so.model_path); !st.ok()) return fail(st.error());
  if (parallel > 0) return run_parallel_bench(so, parallel, bo.n_prompt, bo.n_gen, json);
  if (so.n_ctx == 0) so.n_ctx = std::max({bo.n_prompt, bo.n_gen, 1});
  auto session = engine::Session::open(so);
  if (!session.ok()) return fail(session.error());
  auto res = engine::bench(**session, bo);
  if (!res.ok()) return fail(res.error());
  const auto& r = *res;
  const auto& file = (*session)->model().file();
  uint64_t n_params = 0;
  for (const auto& t : file.tensors()) n_params += static_cast<uint64_t>(t.n_elements());
  const int threads = (*session)->pool().size();
  const size_t rss = peak_rss_bytes();
  if (json) {
    nlohmann::json j = {{"model", so.model_path},       {"model_bytes", file.file_size()},
                        {"n_params", n_params},         {"threads", threads},
                        {"isa", kernels::isa_name()},   {"n_prompt", bo.n_prompt},
                        {"n_gen", bo.n_gen},            {"repetitions", bo.repetitions},
                        {"pp_tps", r.pp.mean_tps},      {"pp_tps_stddev", r.pp.stddev_tps},
                        {"tg_tps", r.tg.mean_tps},      {"tg_tps_stddev", r.tg.stddev_tps},
                        {"pp_samples_tps", r.pp.samples_tps},
                        {"tg_samples_tps", r.tg.samples_tps},
                        {"peak_rss_bytes", rss}};
    j["threads_batch"] = (*session)->batch_pool().size();
    j["cache_type_k"] = dtype_name((*session)->kv().type_k());
    j["cache_type_v"] = dtype_name((*session)->kv().type_v());
    fmt::print("{}\n", j.dump());
    return 0;
  }
  fmt::print("| model | size | params | isa | threads | test | t/s |\n|---|---|---|---|---|---|---|\n");
  auto row = [&](const char* test, int32_t n, const engine::BenchStat& s) {
    if (n == 0) return;
    fmt::print("| {} | {:.1f} MiB | {:.2f} M | {} | {} | {}{} | {:.2f} ± {:.2f} |\n", so.model_path,
               file.file_size() / 1048576.0, n_params / 1e6, kernels::isa_name(), threads, test, n,
               s.mean_tps, s.stddev_tps);
  };
  row("pp", bo.n_prompt, r.pp);
  row("tg", bo.n_gen, r.tg);
  fmt::print("peak RSS: {:.1f} MiB\n", rss / 1048576.0);
  return 0;
}

}  // namespace lm::cli
