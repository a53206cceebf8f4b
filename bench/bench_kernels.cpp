// Kernel throughput per ISA table: every optimised kernel at every level this CPU has, on one
// 4096-element row (activations already converted, as in matmul), followed by a table of
// speed-ups against the scalar ref:: kernel measured in the same run.
//
//   build/bin/bench_kernels [--benchmark_min_time=0.2] [--benchmark_filter=q4_0]
//       [--benchmark_repetitions=5 --benchmark_report_aggregates_only=true]  (ratios of medians)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/repack.h"
#include "kernels/type_kernels.h"
#include "bench_util.h"

namespace {

using lm::DType;
using lm::kernels::Isa;
constexpr int64_t kN = 4096;

using lm::bench::seeded_floats;

struct Case {
  std::string name;  // kernel name as in ref::
  DType type;
  bool quantize;     // benchmark from_float of `type` instead of vec_dot
};

const std::vector<Case> kCases = {
    {"vec_dot_f32_f32", DType::F32, false},    {"vec_dot_f16_f32", DType::F16, false},
    {"vec_dot_bf16_f32", DType::BF16, false},  {"vec_dot_q4_0_q8_0", DType::Q4_0, false},
    {"vec_dot_q8_0_q8_0", DType::Q8_0, false},
    {"vec_dot_q4_1_q8_1", DType::Q4_1, false},  {"vec_dot_q5_0_q8_0", DType::Q5_0, false},
    {"vec_dot_q5_1_q8_1", DType::Q5_1, false}, {"vec_dot_q2_k_q8_k", DType::Q2_K, false},
    {"vec_dot_q3_k_q8_k", DType::Q3_K, false},  {"vec_dot_q4_k_q8_k", DType::Q4_K, false},
    {"vec_dot_q5_k_q8_k", DType::Q5_K, false},
    {"vec_dot_q6_k_q8_k", DType::Q6_K, false}, {"quantize_row_q8_0", DType::Q8_0, true},
    {"quantize_row_q8_1", DType::Q8_1, true},  {"quantize_row_q8_k", DType::Q8_K, true},
};

void run_case(benchmark::State& state, const Case& c, Isa isa) {
  const auto* k = lm::kernels::type_kernels(c.type, isa);
  const auto* ref = lm::kernels::type_kernels(c.type, Isa::Scalar);
  const auto wf = seeded_floats(kN, 1), xf = seeded_floats(kN, 2);
  if (c.quantize) {
    std::vector<uint8_t> out(lm::row_bytes(c.type, kN));
    for (auto _ : state) {
      k->from_float(wf.data(), out.data(), kN);
      benchmark::DoNotOptimize(out.data());
      benchmark::ClobberMemory();
    }
  } else {
    std::vector<uint8_t> w(lm::row_bytes(c.type, kN)), x(lm::row_bytes(ref->vec_dot_type, kN));
    ref->from_float(wf.data(), w.data(), kN);
    lm::kernels::type_kernels(ref->vec_dot_type, Isa::Scalar)->from_float(xf.data(), x.data(), kN);
    for (auto _ : state) benchmark::DoNotOptimize(k->vec_dot(kN, w.data(), x.data()));
  }
  state.SetItemsProcessed(state.iterations() * kN);
}

// Prefill matmul on one thread: [kGemmTok, kGemmIn] activations times [kGemmOut, kGemmIn]
// weights, the GEMM path (selected ISA) against the per-(row, token) vec_dot path.
constexpr int64_t kGemmIn = 2048, kGemmOut = 256, kGemmTok = 64;
const std::vector<DType> kGemmTypes = {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::Q4_1,
                                       DType::Q5_0, DType::Q5_1, DType::Q2_K, DType::Q3_K, DType::Q5_K};

// repack: the matrix repacked (kernels/cpu/repack.h) first; n_tok 1 is the decode shape.
void run_matmul(benchmark::State& state, DType type, lm::kernels::MatmulPath path,
                bool repack = false, int64_t n_tok = kGemmTok) {
  const auto* k = lm::kernels::type_kernels(type);
  const auto wf = seeded_floats(kGemmIn * kGemmOut, 3), xf = seeded_floats(kGemmIn * n_tok, 4);
  const size_t w_row = lm::row_bytes(type, kGemmIn);
  std::vector<uint8_t> w(w_row * kGemmOut);
  for (int64_t o = 0; o < kGemmOut; ++o) k->from_float(wf.data() + o * kGemmIn, w.data() + o * w_row, kGemmIn);
  lm::ThreadPool pool(1);
  lm::kernels::MatmulScratch scratch;
  std::vector<float> y(n_tok * kGemmOut);
  lm::kernels::WeightView wv{type, w.data(), kGemmIn, kGemmOut};
  std::vector<uint8_t> packed;
  if (repack) {
    packed.resize(lm::kernels::repacked_bytes(type, kGemmIn, kGemmOut));
    lm::kernels::repack_matrix(type, w.data(), kGemmIn, kGemmOut, packed.data());
    wv = {type, packed.data(), kGemmIn, kGemmOut, true};
  }
  for (auto _ : state) {
    lm::kernels::matmul(pool, wv, xf.data(), n_tok, y.data(), scratch, path);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * kGemmIn * kGemmOut * n_tok);
}

std::string matmul_name(DType t, const char* path) {
  return "matmul_" + std::string(lm::dtype_name(t)) + "/" + path;
}

// Collects the CPU time per iteration of every run, keyed by benchmark name (CPU time, not
// wall time: this machine is shared, and a kernel is single-threaded).
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> ns;
  // With --benchmark_repetitions=N the median of the repetitions is used.
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      const std::string name = r.run_name.str();
      if (r.run_type == Run::RT_Aggregate) {
        if (r.aggregate_name == "median") ns[name] = r.GetAdjustedCPUTime();
      } else if (!medians_.count(name)) {
        ns[name] = r.GetAdjustedCPUTime();
      }
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") medians_.insert(name);
    }
    ConsoleReporter::ReportRuns(runs);
  }

 private:
  std::set<std::string> medians_;
};

// The kernel a level's table uses for a case (to mark levels that reuse the one below).
const void* kernel_of(const Case& c, Isa isa) {
  const auto* k = lm::kernels::type_kernels(c.type, isa);
  return c.quantize ? reinterpret_cast<const void*>(k->from_float)
                    : reinterpret_cast<const void*>(k->vec_dot);
}

std::string fmt_inherited(Isa isa, Isa below) {
  return "  (" + std::string(lm::kernels::isa_name(isa)) + " = " +
         std::string(lm::kernels::isa_name(below)) + " kernel)";
}

}  // namespace

int main(int argc, char** argv) {
  const auto isas = lm::kernels::available_isas();
  for (const Case& c : kCases) {
    for (Isa isa : isas) {
      const std::string name = c.name + "/" + std::string(lm::kernels::isa_name(isa));
      benchmark::RegisterBenchmark(name.c_str(), [&c, isa](benchmark::State& s) { run_case(s, c, isa); });
    }
  }
  for (DType t : kGemmTypes) {
    benchmark::RegisterBenchmark(matmul_name(t, "vec_dot").c_str(), [t](benchmark::State& s) {
      run_matmul(s, t, lm::kernels::MatmulPath::VecDot);
    });
    benchmark::RegisterBenchmark(matmul_name(t, "gemm").c_str(), [t](benchmark::State& s) {
      run_matmul(s, t, lm::kernels::MatmulPath::Auto);
    });
    if (!lm::kernels::repack_supported(t)) continue;
    benchmark::RegisterBenchmark(matmul_name(t, "repacked").c_str(), [t](benchmark::State& s) {
      run_matmul(s, t, lm::kernels::MatmulPath::Auto, true);
    });
    benchmark::RegisterBenchmark(matmul_name(t, "decode_gemm").c_str(), [t](benchmark::State& s) {
      run_matmul(s, t, lm::kernels::MatmulPath::Auto, false, 1);
    });
    benchmark::RegisterBenchmark(matmul_name(t, "decode_vec_dot").c_str(), [t](benchmark::State& s) {
      run_matmul(s, t, lm::kernels::MatmulPath::VecDot, false, 1);
    });
    benchmark::RegisterBenchmark(matmul_name(t, "decode_repacked").c_str(), [t](benchmark::State& s) {
      run_matmul(s, t, lm::kernels::MatmulPath::Auto, true, 1);
    });
  }
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\nspeed-up vs scalar (same run, n = %lld):\n%-20s", static_cast<long long>(kN), "kernel");
  for (Isa isa : isas) std::printf(" %8s", std::string(lm::kernels::isa_name(isa)).c_str());
  std::printf("\n");
  for (const Case& c : kCases) {
    const auto base = reporter.ns.find(c.name + "/scalar");
    if (base == reporter.ns.end()) continue;
    std::printf("%-20s", c.name.c_str());
    std::string inherited;
    for (size_t k = 0; k < isas.size(); ++k) {
      const auto it = reporter.ns.find(c.name + "/" + std::string(lm::kernels::isa_name(isas[k])));
      if (it == reporter.ns.end()) std::printf(" %8s", "-");
      else std::printf(" %7.2fx", base->second / it->second);
      if (k > 0 && kernel_of(c, isas[k]) == kernel_of(c, isas[k - 1])) {
        inherited += fmt_inherited(isas[k], isas[k - 1]);
      }
    }
    std::printf("%s\n", inherited.c_str());
  }
  std::printf("\nprefill matmul [%lld x %lld] x [%lld tokens], 1 thread, %s: gemm speed-up vs vec_dot\n",
              static_cast<long long>(kGemmOut), static_cast<long long>(kGemmIn),
              static_cast<long long>(kGemmTok), std::string(lm::kernels::isa_name()).c_str());
  for (DType t : kGemmTypes) {
    const auto old_ns = reporter.ns.find(matmul_name(t, "vec_dot"));
    const auto new_ns = reporter.ns.find(matmul_name(t, "gemm"));
    if (old_ns == reporter.ns.end() || new_ns == reporter.ns.end()) continue;
    std::printf("%-20s %7.2fx%s\n", matmul_name(t, "").c_str(), old_ns->second / new_ns->second,
                lm::kernels::gemm_kernel(t) ? "" : "  (no GEMM kernel at this level)");
  }
  std::printf("\nrepacked (kernels/cpu/repack.h) vs the GEMM on the original layout, same run:\n");
  for (DType t : kGemmTypes) {
    const auto g = reporter.ns.find(matmul_name(t, "gemm"));
    const auto r = reporter.ns.find(matmul_name(t, "repacked"));
    const auto dg = reporter.ns.find(matmul_name(t, "decode_gemm"));
    const auto dv = reporter.ns.find(matmul_name(t, "decode_vec_dot"));
    const auto dr = reporter.ns.find(matmul_name(t, "decode_repacked"));
    if (g == reporter.ns.end() || r == reporter.ns.end() || dg == reporter.ns.end() ||
        dv == reporter.ns.end() || dr == reporter.ns.end()) continue;
    std::printf("%-20s prefill %5.2fx  decode (1 token) %5.2fx (vs vec_dot matvec %5.2fx)\n",
                matmul_name(t, "").c_str(), g->second / r->second, dg->second / dr->second,
                dv->second / dr->second);
  }
  benchmark::Shutdown();
  return 0;
}
