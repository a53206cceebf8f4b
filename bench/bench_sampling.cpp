// Cost of one Sampler::sample() call on 32k and 150k vocabularies: greedy (the baseline) against
// the sampling chains, reported as ratios to greedy measured in the same run (bench/README.md).
//
//   build/bin/bench_sampling [--benchmark_repetitions=5] [--benchmark_filter=150000]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "sampling/sampler.h"

namespace {

using lm::sampling::Rng;
using lm::sampling::Sampler;
using lm::sampling::SamplingParams;

// Logits shaped like a language model's: a broad bulk (approximately normal, sd 2, from a sum of
// uniforms) and a few strong candidates. Seeded: every run samples the same rows.
std::vector<float> make_logits(int32_t n_vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> logits(n_vocab);
  for (float& l : logits) {
    double s = 0.0;
    for (int i = 0; i < 4; ++i) s += rng.next_double();
    l = static_cast<float>((s - 2.0) * 2.0 * std::sqrt(3.0));
  }
  for (int i = 0; i < 8; ++i) logits[rng.next_u64() % n_vocab] += 12.0f - i;
  return logits;
}

struct Chain {
  const char* name;
  SamplingParams params;
};

std::vector<Chain> chains() {
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  SamplingParams defaults;  // top-k 40, top-p 0.95, min-p 0.05, no penalties
  SamplingParams full = defaults;  // every stage on
  full.repeat_penalty = 1.1f;
  full.frequency_penalty = 0.2f;
  full.presence_penalty = 0.2f;
  SamplingParams no_top_k = full;  // top-p and min-p over the whole vocabulary
  no_top_k.top_k = 0;
  for (SamplingParams* p : {&greedy, &defaults, &full, &no_top_k}) p->seed = 42;
  return {{"greedy", greedy}, {"defaults", defaults}, {"full_chain", full},
          {"full_chain_no_top_k", no_top_k}};
}

void bm_sample(benchmark::State& state, SamplingParams params, int32_t n_vocab) {
  const std::vector<float> logits = make_logits(n_vocab, 7);
  Sampler sampler(params, n_vocab);
  for (int32_t t = 0; t < 64; ++t) sampler.accept(t * 97 % n_vocab);  // a full penalty window
  for (auto _ : state) {
    const int32_t token = sampler.sample(logits);
    sampler.accept(token);
    benchmark::DoNotOptimize(token);
  }
  state.SetItemsProcessed(state.iterations());
}

// The console output, then one line per chain: its median CPU time over the greedy one's.
// CPU time rather than wall time: less sensitive to other processes on a shared machine.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      // Every repetition, or only the median one with --benchmark_report_aggregates_only.
      if (r.run_type == Run::RT_Iteration || r.aggregate_name == "median") {
        times_[r.run_name.function_name].push_back(r.GetAdjustedCPUTime());
      }
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\nCPU time per sample as a ratio to greedy (same run, medians):\n");
    for (const auto& [name, times] : times_) {
      const std::string vocab = name.substr(0, name.find('/'));
      auto base = times_.find(vocab + "/greedy");
      if (base == times_.end()) continue;
      std::printf("  %-32s %6.2fx  (%.1f us)\n", name.c_str(), median(times) / median(base->second),
                  median(times));
    }
  }

 private:
  static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
  std::map<std::string, std::vector<double>> times_;
};

}  // namespace

int main(int argc, char** argv) {
  for (int32_t n_vocab : {32000, 150000}) {
    for (const Chain& c : chains()) {
      const std::string name = "n_vocab_" + std::to_string(n_vocab) + "/" + c.name;
      benchmark::RegisterBenchmark(name.c_str(), bm_sample, c.params, n_vocab)
          ->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
