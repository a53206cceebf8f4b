// Attention (model/attention.h) on one thread, Llama-3.2-1B heads (head_dim 64, GQA group 4,
// 8 KV heads, F32 cache), per ISA, with a table of speed-ups against the portable loop measured
// in the same run:
//   pp512    a 512-token prompt: every KV head, queries in runs of 8 (Forward's kQueryTile);
//   tg@N     one decode token at position N - 1: every KV head.
//
//   build/bin/bench_attention [--benchmark_repetitions=5 --benchmark_report_aggregates_only=true]
// Inputs: uniform [-1, 1) from a fixed seed.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kernels/cpu/attention_kernels.h"
#include "kernels/cpu/cpu_features.h"
#include "model/attention.h"
#include "bench_util.h"

namespace {

using lm::kernels::Isa;
constexpr int32_t kHeadDim = 64, kGroup = 4, kHeadKv = 8, kRun = 8;
constexpr int32_t kKvDim = kHeadDim * kHeadKv, kQDim = kKvDim * kGroup;

using lm::bench::seeded_floats;

lm::kernels::AttnTileFn kernel_of(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return lm::kernels::avx512::attn_tile;
    case Isa::Avx2: return lm::kernels::avx2::attn_tile;
    default: return nullptr;
  }
}

// n_tok tokens at positions [n_ctx - n_tok, n_ctx), attending to n_ctx cached positions.
void run_attention(benchmark::State& state, Isa isa, int32_t n_ctx, int32_t n_tok) {
  const auto k = seeded_floats(size_t(n_ctx) * kKvDim, 1), v = seeded_floats(size_t(n_ctx) * kKvDim, 2);
  const auto q = seeded_floats(size_t(n_tok) * kQDim, 3);
  std::vector<float> out(q.size());
  std::vector<int32_t> pos(n_tok);
  for (int32_t i = 0; i < n_tok; ++i) pos[i] = n_ctx - n_tok + i;
  const lm::model::KvRows kr{lm::DType::F32, reinterpret_cast<const uint8_t*>(k.data()), kKvDim * sizeof(float)};
  const lm::model::KvRows vr{lm::DType::F32, reinterpret_cast<const uint8_t*>(v.data()), kKvDim * sizeof(float)};
  const lm::model::AttentionShape shape{kHeadDim, kGroup, kKvDim, 1.0f / std::sqrt(float(kHeadDim))};
  lm::model::AttentionScratch scratch;
  lm::model::reserve_attention(shape, kRun, scratch);
  const auto fn = kernel_of(isa);
  for (auto _ : state) {
    for (int32_t b = 0; b < n_tok; b += kRun) {
      const int32_t n = n_tok - b < kRun ? n_tok - b : kRun;
      for (int32_t g = 0; g < kHeadKv; ++g) {
        lm::model::attend_tile_with(fn, shape, g, q.data() + size_t(b) * kQDim, kQDim, pos.data() + b, n,
                                    kr, vr, out.data() + size_t(b) * kQDim, kQDim, scratch);
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
}

struct Case {
  std::string name;
  int32_t n_ctx, n_tok;
};
const std::vector<Case> kCases = {{"pp512", 512, 512}, {"tg@64", 64, 1}, {"tg@512", 512, 1}, {"tg@4096", 4096, 1}};

// CPU time per iteration by benchmark name (the median with --benchmark_repetitions).
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> ns;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      const std::string name = r.run_name.str();
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") {
        ns[name] = r.GetAdjustedCPUTime();
        medians_.insert(name);
      } else if (r.run_type != Run::RT_Aggregate && !medians_.count(name)) {
        ns[name] = r.GetAdjustedCPUTime();
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }

 private:
  std::set<std::string> medians_;
};

}  // namespace

int main(int argc, char** argv) {
  const auto isas = lm::kernels::available_isas();
  for (const Case& c : kCases) {
    for (Isa isa : isas) {
      const std::string name = "attention_" + c.name + "/" + std::string(lm::kernels::isa_name(isa));
      benchmark::RegisterBenchmark(name.c_str(), [&c, isa](benchmark::State& s) {
        run_attention(s, isa, c.n_ctx, c.n_tok);
      });
    }
  }
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\nattention speed-up vs the portable loop (same run, 1 thread):\n%-10s", "case");
  for (Isa isa : isas) std::printf(" %8s", std::string(lm::kernels::isa_name(isa)).c_str());
  std::printf("\n");
  for (const Case& c : kCases) {
    const auto base = reporter.ns.find("attention_" + c.name + "/scalar");
    if (base == reporter.ns.end()) continue;
    std::printf("%-10s", c.name.c_str());
    for (Isa isa : isas) {
      const auto it = reporter.ns.find("attention_" + c.name + "/" + std::string(lm::kernels::isa_name(isa)));
      if (it == reporter.ns.end()) std::printf(" %8s", "-");
      else std::printf(" %7.2fx", base->second / it->second);
    }
    std::printf("\n");
  }
  return 0;
}
