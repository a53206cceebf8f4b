// AVX-512 dot products for the float weight types; see simd_kernels.h.
// Four accumulators of 16 lanes; the tail (n % 16) is one masked step, so no scalar loop.
// Compiled with the AVX-512 flags (CMakeLists.txt): call only through dispatch.cpp.
#include <immintrin.h>

#include "kernels/cpu/simd_kernels.h"

namespace lm::kernels::avx512 {
namespace {

// Load 16 weights as floats, or the first `m` lanes of them (others zero).
__m512 load_f32(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
__m512 load_f16(const uint16_t* p, __mmask16 m) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}
__m512 load_bf16(const uint16_t* p, __mmask16 m) {
  const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

template <typename T, __m512 (*Load)(const T*, __mmask16)>
float dot(int64_t n, const T* w, const float* x) {
  const __mmask16 all = 0xFFFF;
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm512_fmadd_ps(Load(w + i + 16 * k, all), _mm512_loadu_ps(x + i + 16 * k), acc[k]);
    }
  }
  for (; i + 16 <= n; i += 16) acc[0] = _mm512_fmadd_ps(Load(w + i, all), _mm512_loadu_ps(x + i), acc[0]);
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc[1] = _mm512_fmadd_ps(Load(w + i, m), _mm512_maskz_loadu_ps(m, x + i), acc[1]);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]),
                                            _mm512_add_ps(acc[2], acc[3])));
}

}  // namespace

float vec_dot_f32_f32(int64_t n, const void* w, const void* x) {
  return dot<float, load_f32>(n, static_cast<const float*>(w), static_cast<const float*>(x));
}
float vec_dot_f16_f32(int64_t n, const void* w, const void* x) {
  return dot<uint16_t, load_f16>(n, static_cast<const uint16_t*>(w), static_cast<const float*>(x));
}
float vec_dot_bf16_f32(int64_t n, const void* w, const void* x) {
  return dot<uint16_t, load_bf16>(n, static_cast<const uint16_t*>(w), static_cast<const float*>(x));
}

}  // namespace lm::kernels::avx512
