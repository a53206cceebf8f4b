// The read loop of the bandwidth probe (bandwidth.h) with AVX2 loads: four independent
// accumulators keep loads in flight. Compiled with the AVX2 flags (CMakeLists.txt).
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/simd_kernels.h"

namespace lm::kernels::avx2 {

uint64_t read_sum(const uint64_t* buf, int64_t b, int64_t e) {
  constexpr int64_t kLanes = 4;
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = b;
  for (; i + 4 * kLanes <= e; i += 4 * kLanes) {
    a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(buf + i)));
    a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(buf + i + 1 * kLanes)));
    a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(buf + i + 2 * kLanes)));
    a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(buf + i + 3 * kLanes)));
  }
  const __m256i t = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  uint64_t s = 0;
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), t);
  for (uint64_t v : lanes) s += v;
  for (; i < e; ++i) s += buf[i];
  return s;
}

}  // namespace lm::kernels::avx2
