#include "kernels/cpu/bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/simd_kernels.h"

namespace lm::kernels {
namespace {

// Plain loads (the probe's fallback below AVX2).
uint64_t read_sum_scalar(const uint64_t* buf, int64_t b, int64_t e) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = b;
  for (; i + 4 <= e; i += 4) {
    s0 += buf[i];
    s1 += buf[i + 1];
    s2 += buf[i + 2];
    s3 += buf[i + 3];
  }
  for (; i < e; ++i) s0 += buf[i];
  return s0 + s1 + s2 + s3;
}

using SumFn = uint64_t (*)(const uint64_t*, int64_t, int64_t);

// The widest loads the CPU has (best_isa, not LM_ISA: the probe measures the machine). SSE2 loads
// read ~20% less than AVX2/AVX-512 loads on a Cascade Lake server, which would make decode
// speeds look closer to the limit than they are.
SumFn widest_read_sum() {
  switch (best_isa()) {
    case Isa::Avx512: return avx512::read_sum;
    case Isa::Avx2: return avx2::read_sum;
    default: return read_sum_scalar;
  }
}

}  // namespace

BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t bytes, int passes) {
  const size_t n = std::max<size_t>(bytes / sizeof(uint64_t), 1024);
  // 64-byte aligned: a zmm load then never spans two cache lines.
  struct Free {
    void operator()(uint64_t* p) const { std::free(p); }
  };
  const size_t alloc = (n * sizeof(uint64_t) + 63) / 64 * 64;
  std::unique_ptr<uint64_t[], Free> buf(static_cast<uint64_t*>(std::aligned_alloc(64, alloc)));
  if (!buf) return BandwidthResult{};
  // First touch from the threads that will read (page placement), with non-zero data.
  pool.parallel_for(static_cast<int64_t>(n), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) buf[i] = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
  });
  BandwidthResult r;
  r.bytes = n * sizeof(uint64_t);
  r.threads = pool.size();
  std::atomic<uint64_t> sink{0};
  const SumFn sum = widest_read_sum();
  for (int p = 0; p < std::max(1, passes); ++p) {
    auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(static_cast<int64_t>(n), [&](int64_t b, int64_t e) {
      sink.fetch_add(sum(buf.get(), b, e), std::memory_order_relaxed);
    });
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.passes_gbps.push_back(static_cast<double>(r.bytes) / sec / 1e9);
  }
  r.best_gbps = *std::max_element(r.passes_gbps.begin(), r.passes_gbps.end());
  return r;
}

}  // namespace lm::kernels
