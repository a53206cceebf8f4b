// AVX2 (+FMA, F16C) dot products for the float weight types; see simd_kernels.h.
// Compiled with -mavx2 -mfma -mf16c (CMakeLists.txt): call only through dispatch.cpp.
// Four independent accumulators of 8 lanes hide the FMA latency; tails are scalar.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/simd_kernels.h"

namespace lm::kernels::avx2 {
namespace {

float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__m256 load_f32(const float* p) { return _mm256_loadu_ps(p); }
__m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
__m256 load_bf16(const uint16_t* p) {
  const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

float scalar_f32(float w) { return w; }
float scalar_f16(uint16_t w) { return _cvtsh_ss(w); }
float scalar_bf16(uint16_t w) {
  const uint32_t b = static_cast<uint32_t>(w) << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// Dot of n weights (loaded 8 at a time by Load, one at a time by Scalar) with n floats.
template <typename T, __m256 (*Load)(const T*), float (*Scalar)(T)>
float dot(int64_t n, const T* w, const float* x) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm256_fmadd_ps(Load(w + i + 8 * k), _mm256_loadu_ps(x + i + 8 * k), acc[k]);
    }
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(Load(w + i), _mm256_loadu_ps(x + i), acc[0]);
  float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += Scalar(w[i]) * x[i];
  return sum;
}

}  // namespace

float vec_dot_f32_f32(int64_t n, const void* w, const void* x) {
  return dot<float, load_f32, scalar_f32>(n, static_cast<const float*>(w),
                                          static_cast<const float*>(x));
}
float vec_dot_f16_f32(int64_t n, const void* w, const void* x) {
  return dot<uint16_t, load_f16, scalar_f16>(n, static_cast<const uint16_t*>(w),
                                             static_cast<const float*>(x));
}
float vec_dot_bf16_f32(int64_t n, const void* w, const void* x) {
  return dot<uint16_t, load_bf16, scalar_bf16>(n, static_cast<const uint16_t*>(w),
                                               static_cast<const float*>(x));
}

}  // namespace lm::kernels::avx2
