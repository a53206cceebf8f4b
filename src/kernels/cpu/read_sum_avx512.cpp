// The read loop of the bandwidth probe (bandwidth.h) with AVX512 loads: four independent
// accumulators keep loads in flight. Compiled with the AVX512 flags (CMakeLists.txt).
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/simd_kernels.h"

namespace lm::kernels::avx512 {

uint64_t read_sum(const uint64_t* buf, int64_t b, int64_t e) {
  constexpr int64_t kLanes = 8;
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = b;
  for (; i + 4 * kLanes <= e; i += 4 * kLanes) {
    a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(buf + i));
    a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(buf + i + 1 * kLanes));
    a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(buf + i + 2 * kLanes));
    a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(buf + i + 3 * kLanes));
  }
  const __m512i t = _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3));
  uint64_t s = 0;
  s += static_cast<uint64_t>(_mm512_reduce_add_epi64(t));
  for (; i < e; ++i) s += buf[i];
  return s;
}

}  // namespace lm::kernels::avx512
