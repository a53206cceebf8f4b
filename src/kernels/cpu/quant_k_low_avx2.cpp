// AVX2 dot products for the 2- and 3-bit k-quants (Q2_K, Q3_K); see simd_kernels.h.
// Both are bit-exact with ref:: (exact integer sums, the ref's per-block float formula and
// block order). Compiled with -mavx2 -mfma -mf16c (CMakeLists.txt): call only through
// dispatch.cpp.
#include <immintrin.h>

#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/simd_kernels.h"
#include "tensor/quants.h"

namespace lm::kernels::avx2 {
namespace {

// int16 lanes 0-7 = a, 8-15 = b: the scales of the two 16-element sub-blocks of one vector.
__m256i scale_pair16(int a, int b) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(b)),
                          _mm_set1_epi16(static_cast<int16_t>(a)));
}

// Sum over the 16 sub-blocks of s_j * q_j . y_j, where `levels(h, g)` gives the 32 unsigned
// levels (<= 7) of elements 128 h + 32 g .. + 31 (sub-blocks 8h + 2g, 8h + 2g + 1).
template <typename Levels>
int32_t scaled_sum(const int8_t* qy, const int16_t* s, Levels levels) {
  __m256i acc = _mm256_setzero_si256();
  for (int h = 0; h < 2; ++h) {
    for (int g = 0; g < 4; ++g) {
      const int e = 128 * h + 32 * g;
      const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qy + e));
      const __m256i p = _mm256_maddubs_epi16(levels(h, g), y);
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, scale_pair16(s[e / 16], s[e / 16 + 1])));
    }
  }
  return hsum_epi32(acc);
}

}  // namespace

float vec_dot_q2_k_q8_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ2_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const __m256i three = _mm256_set1_epi8(3);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    int16_t sc[16], mn[16];
    for (int j = 0; j < 16; ++j) {
      sc[j] = a[i].scales[j] & 0xF;
      mn[j] = a[i].scales[j] >> 4;
    }
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].bsums));
    const __m256i mins = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mn));
    const int32_t summ = hsum_epi32(_mm256_madd_epi16(bsums, mins));
    const int32_t sumi = scaled_sum(y[i].qs, sc, [&](int h, int g) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * h));
      return _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * g)), three);
    });
    sum += y[i].d * (half_to_float(a[i].d) * static_cast<float>(sumi) -
                     half_to_float(a[i].dmin) * static_cast<float>(summ));
  }
  return sum;
}

// Q3_K: levels q in 0..7 (value q - 4); the -4 offset comes from the activation block sums.
float vec_dot_q3_k_q8_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ3_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    int16_t sc[16];
    unpack_q3_k_scales(a[i].scales, sc);
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].bsums));
    const __m256i scv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc));
    const int32_t offset = 4 * hsum_epi32(_mm256_madd_epi16(bsums, scv));
    const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].hmask));
    const int32_t sumi = scaled_sum(y[i].qs, sc, [&](int h, int g) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * h));
      const __m256i lo = _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * g)), three);
      const __m256i hb = _mm256_and_si256(_mm256_srl_epi16(hm, _mm_cvtsi32_si128(4 * h + g)), one);
      return _mm256_or_si256(lo, _mm256_slli_epi16(hb, 2));
    });
    sum += half_to_float(a[i].d) * y[i].d * static_cast<float>(sumi - offset);
  }
  return sum;
}

}  // namespace lm::kernels::avx2
