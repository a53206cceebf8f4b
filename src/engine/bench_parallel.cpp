#include "engine/bench_parallel.h"

#include <chrono>

#include "sampling/rng.h"

namespace lm::engine {

namespace {

using Clock = std::chrono::steady_clock;

Result<ParallelRun> run_streams(Scheduler& s, const ParallelBenchOptions& o, int32_t n_streams,
                                sampling::Rng& rng) {
  const int32_t n_vocab = s.tokenizer().n_vocab();
  std::vector<std::shared_ptr<RequestHandle>> handles;
  const SchedulerStats before = s.stats();
  const auto t0 = Clock::now();
  for (int32_t i = 0; i < n_streams; ++i) {
    CompletionRequest r;
    for (int32_t j = 0; j < o.n_prompt; ++j)
      r.prompt.push_back(static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(n_vocab)));
    r.sampling.temperature = 0;
    r.max_tokens = o.n_gen;
    r.ignore_eos = true;
    auto res = s.submit(std::move(r));
    if (res.index() == 1)
      return errorf("submitting stream {}: {}", i, std::get<1>(res).second);
    handles.push_back(std::get<0>(res));
  }
  ParallelRun run;
  run.n_streams = n_streams;
  for (auto& h : handles) {
    StreamEvent ev;
    while (!ev.done) {
      if (!h->next(&ev, std::chrono::minutes(10))) return errorf("a stream stalled for 10 minutes");
    }
    if (ev.finish != FinishReason::kLength || ev.usage.completion_tokens != o.n_gen)
      return errorf("a stream ended with {} after {} tokens ({})", finish_reason_name(ev.finish),
                    ev.usage.completion_tokens, ev.error);
    run.generated += ev.usage.completion_tokens;
    run.mean_ttft_ms += ev.usage.ttft_ms / n_streams;
  }
  run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  run.tps = run.generated / run.seconds;
  const SchedulerStats after = s.stats();
  const int64_t n_itl = after.inter_token.count - before.inter_token.count;
  if (n_itl > 0) run.mean_itl_ms = (after.inter_token.sum_ms - before.inter_token.sum_ms) / n_itl;
  return run;
}

}  // namespace

Result<ParallelBenchResult> bench_parallel(Scheduler& s, const ParallelBenchOptions& o) {
  if (o.n_streams < 1) return errorf("streams = {}: must be at least 1", o.n_streams);
  if (o.n_prompt < 1 || o.n_gen < 1) return errorf("prompt and generated tokens must be at least 1");
  if (o.n_prompt + o.n_gen > s.n_ctx())
    return errorf("{} prompt + {} generated tokens do not fit the context of {}", o.n_prompt, o.n_gen,
                  s.n_ctx());
  sampling::Rng rng(o.seed);
  ParallelBenchOptions warm = o;
  warm.n_gen = std::min(o.n_gen, 8);
  LM_TRY_STATUS(run_streams(s, warm, 1, rng).wrap("warm-up"));
  ParallelBenchResult r;
  LM_TRY(r.single, run_streams(s, o, 1, rng).wrap("single stream"));
  LM_TRY(r.parallel, run_streams(s, o, o.n_streams, rng).wrap("parallel streams"));
  r.speedup = r.parallel.tps / r.single.tps;
  return r;
}

}  // namespace lm::engine
