#include "core/bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace lm {
namespace {

// The sum of buf[b, e) with the widest loads the CPU has: the probe must not be limited by the
// number of load instructions (SSE2 loads read ~20% less than AVX2/AVX-512 loads on a Cascade
// Lake server), or decode speeds would look closer to the limit than they are. Four independent
// accumulators keep loads in flight.
uint64_t sum_generic(const uint64_t* buf, int64_t b, int64_t e) {
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

#if defined(__x86_64__)
using V4x64 = uint64_t __attribute__((vector_size(32)));
using V8x64 = uint64_t __attribute__((vector_size(64)));

// V: a GCC vector of uint64 lanes (no intrinsics: the target attribute makes it AVX2 / AVX-512).
template <typename V>
[[gnu::always_inline]] inline uint64_t sum_vectors(const uint64_t* buf, int64_t b, int64_t e) {
  constexpr int64_t kLanes = sizeof(V) / sizeof(uint64_t);
  V a0{}, a1{}, a2{}, a3{};
  int64_t i = b;
  for (; i + 4 * kLanes <= e; i += 4 * kLanes) {
    V v0, v1, v2, v3;
    __builtin_memcpy(&v0, buf + i, sizeof(V));
    __builtin_memcpy(&v1, buf + i + kLanes, sizeof(V));
    __builtin_memcpy(&v2, buf + i + 2 * kLanes, sizeof(V));
    __builtin_memcpy(&v3, buf + i + 3 * kLanes, sizeof(V));
    a0 += v0;
    a1 += v1;
    a2 += v2;
    a3 += v3;
  }
  const V t = (a0 + a1) + (a2 + a3);
  uint64_t s = sum_generic(buf, i, e);
  for (int64_t k = 0; k < kLanes; ++k) s += t[k];
  return s;
}

__attribute__((target("avx512f"))) uint64_t sum_avx512(const uint64_t* buf, int64_t b, int64_t e) {
  return sum_vectors<V8x64>(buf, b, e);
}
__attribute__((target("avx2"))) uint64_t sum_avx2(const uint64_t* buf, int64_t b, int64_t e) {
  return sum_vectors<V4x64>(buf, b, e);
}
#endif

using SumFn = uint64_t (*)(const uint64_t*, int64_t, int64_t);

SumFn widest_sum() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return sum_avx512;
  if (__builtin_cpu_supports("avx2")) return sum_avx2;
#endif
  return sum_generic;
}

}  // namespace

BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t bytes, int passes) {
  const size_t n = std::max<size_t>(bytes / sizeof(uint64_t), 1024);
  std::unique_ptr<uint64_t[]> buf(new uint64_t[n]);
  // First touch from the threads that will read (page placement), with non-zero data.
  pool.parallel_for(static_cast<int64_t>(n), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) buf[i] = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
  });
  BandwidthResult r;
  r.bytes = n * sizeof(uint64_t);
  r.threads = pool.size();
  std::atomic<uint64_t> sink{0};
  const SumFn sum = widest_sum();
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

}  // namespace lm
